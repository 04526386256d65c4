"""``python -m textal``: a thin shell over :class:`textal.workspace.Workspace`.

Every user-fixable problem is a :class:`TextalError`, printed as one ``error:`` line, exit code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from textal import __version__
from textal.argtypes import add_embedding_options, positive_int, share
from textal.errors import TextalError
from textal.simulate import cli as simulate_cli
from textal.strategy.scores import DEFAULT_STRATEGY, STRATEGIES
from textal.textsafe import terminal_safe
from textal.workspace import Workspace

EXIT_USAGE = 2

DESCRIPTION = """\
Active learning for text classification: ask people to label only the reviews the model is
least sure about, in diverse batches.

typical loop:
  textal ingest --data reviews.csv          embed and store every review once
  textal round --batch-size 20              pick 20 ambiguous, distinct reviews
  (fill the label column of textal-workspace/batches/round-1.csv)
  textal label textal-workspace/batches/round-1.csv
  textal round                              the next round learns from those labels
  textal status                             labels per class, model, stopping signal

  textal simulate --data labeled.csv        compare strategies with gold labels as the oracle
"""


def _workspace_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace",
        metavar="DIR",
        help="workspace directory (default: $TEXTAL_WORKSPACE or ./textal-workspace)",
    )
    parser.add_argument(
        "--milvus-uri",
        metavar="URI",
        default=os.environ.get("TEXTAL_MILVUS_URI"),
        help="Milvus server http(s)://host:19530 (default: $TEXTAL_MILVUS_URI, else the "
        "workspace's store: a Milvus Lite file inside it). Credentials come from "
        "$TEXTAL_MILVUS_TOKEN or $TEXTAL_MILVUS_USER/$TEXTAL_MILVUS_PASSWORD",
    )
    parser.add_argument(
        "--store",
        choices=["milvus", "memory"],
        help="for a new workspace: 'memory' keeps vectors as plain files in the workspace "
        "instead of Milvus (default: milvus)",
    )
    parser.add_argument("--collection", help="Milvus collection (default: textal_items)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textal", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"textal {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create a workspace (ingest does this too)")
    _workspace_options(init)
    init.add_argument("--model", help="sentence-transformers name or path (default: MiniLM-L6)")
    add_embedding_options(init)
    init.add_argument("--labels", help="the label set, comma-separated, e.g. negative,positive")

    ingest = commands.add_parser(
        "ingest",
        help="embed and store reviews from a file or a Hugging Face dataset",
        description="Embed each new review once and store it. Re-running skips what is stored, "
        "so an interrupted ingest resumes where it stopped.",
    )
    _workspace_options(ingest)
    source = ingest.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="FILE", help="CSV, JSONL or Parquet file")
    source.add_argument("--dataset", metavar="NAME", help="Hugging Face dataset name or path")
    ingest.add_argument("--split", default="train", help="dataset split (default: train)")
    ingest.add_argument("--text-column", default="text", help="(default: text)")
    ingest.add_argument("--id-column", help="stable ids (default: a hash of the text)")
    ingest.add_argument(
        "--label-column", help="gold labels, kept for simulation and evaluation only"
    )
    ingest.add_argument("--model", help="sentence-transformers name or path (default: MiniLM-L6)")
    add_embedding_options(ingest)

    status = commands.add_parser("status", help="items, labels per class, model, stopping signal")
    _workspace_options(status)

    round_ = commands.add_parser(
        "round",
        help="select the next batch for people to label",
        description="Train on the current labels, score every unlabeled review, and write a "
        "diverse batch of the most ambiguous ones to WORKSPACE/batches/round-N.csv and .jsonl. "
        "With no labels yet, a representative cold-start batch is chosen.",
    )
    _workspace_options(round_)
    round_.add_argument("--batch-size", type=positive_int, default=20, help="(default: 20)")
    round_.add_argument(
        "--strategy",
        choices=list(STRATEGIES),
        default=DEFAULT_STRATEGY,
        help=f"ambiguity score (default: {DEFAULT_STRATEGY}, the margin between the two likeliest "
        "labels weighted by how typical the review is of its neighbours)",
    )
    round_.add_argument(
        "--max-class-share",
        type=share,
        metavar="F",
        help="cap any predicted class at this share of the batch, e.g. 0.5",
    )
    round_.add_argument("--seed", type=int, default=0, help="(default: 0)")

    label = commands.add_parser(
        "label",
        help="import labels from a file, or label the open batch in the terminal",
        description="Import a filled-in batch file (or id,label rows): all or nothing. "
        "With --interactive, label the open batch review by review.",
    )
    _workspace_options(label)
    label.add_argument("file", nargs="?", help="CSV or JSONL with id and label columns")
    label.add_argument("--interactive", action="store_true", help="label in the terminal")
    label.add_argument("--annotator", default=os.environ.get("USER", "annotator"))

    export = commands.add_parser("export", help="write all current labels to CSV and JSONL")
    _workspace_options(export)
    export.add_argument("file", help="output .csv (a .jsonl is written beside it)")
    export.add_argument("--predictions", action="store_true", help="also predict every stored item")
    simulate_cli.add_parser(commands)
    return parser


def _open(args: argparse.Namespace, *, create: bool = False) -> Workspace:
    store_uri = args.milvus_uri or ("memory" if args.store == "memory" else None)
    labels = (
        [x.strip() for x in args.labels.split(",") if x.strip()]
        if getattr(args, "labels", None)
        else []
    )
    return Workspace.open(
        args.workspace,
        model=getattr(args, "model", None),
        store_uri=store_uri,
        collection=args.collection,
        labels=labels,
        create=create,
        embed_backend=getattr(args, "embed_backend", None),
        device=getattr(args, "device", None),
    )


def _cmd_init(args: argparse.Namespace) -> None:
    with _open(args, create=True) as ws:
        print(
            f"workspace {ws.path}: model {ws.config.model} ({ws.config.backend}), "
            f"store {ws.store.uri}"
        )


def _cmd_ingest(args: argparse.Namespace) -> None:
    with _open(args, create=True) as ws:
        report, summary = ws.ingest(
            args.data,
            dataset=args.dataset,
            split=args.split,
            text_column=args.text_column,
            id_column=args.id_column,
            label_column=args.label_column,
        )
        print(
            f"read {report.read} items: {report.added} added, "
            f"{report.already_stored} already stored; skipped {summary.skipped_empty} empty "
            f"and {summary.duplicates} repeated rows; {ws.store.uri} holds {ws.store.count()}"
        )


def _cmd_status(args: argparse.Namespace) -> None:
    with _open(args) as ws:
        s = ws.status()
    print(f"workspace   {s.workspace}")
    print(f"model       {s.model} (dim {s.dim})")
    print(f"store       {s.store_uri}")
    print(f"items       {s.items}")
    labeled = sum(s.label_counts.values())
    print(f"labeled     {labeled}" + (f" ({s.ambiguous} marked ambiguous)" if s.ambiguous else ""))
    for name, count in s.label_counts.items():
        print(f"  {terminal_safe(name):<20} {count}")
    print(f"rounds      {s.rounds}")
    if s.last_model:
        cv = "n/a" if s.last_cv_score is None else f"{s.last_cv_score:.3f}"
        print(f"last model  {s.last_model}, cross-validated score {cv}")
    if s.agreement is not None:
        verdict = "stable: more labels are unlikely to change it" if s.stable else "still changing"
        print(f"stopping    agreement with previous model {s.agreement:.3f} ({verdict})")


def _cmd_round(args: argparse.Namespace) -> None:
    with _open(args) as ws:
        result = ws.round(
            batch_size=args.batch_size,
            strategy=args.strategy,
            max_class_share=args.max_class_share,
            seed=args.seed,
        )
    r = result.round
    if result.reused:
        print(f"round {r.round} is still open (no labels since); its batch was written again")
    kind = "cold-start batch" if r.report.get("cold_start") else f"{r.strategy} batch"
    print(f"round {r.round}: {kind} of {len(result.selections)} -> {result.csv_path}")
    if r.model:
        cv = "n/a" if r.cv_score is None else f"{r.cv_score:.3f}"
        print(f"model {r.model}, cross-validated score {cv}")
    print(f"fill the label column, then: textal label {result.csv_path}")


def _cmd_label(args: argparse.Namespace) -> None:
    if args.interactive == (args.file is not None):
        raise TextalError("give a label FILE or --interactive (one of them)")
    with _open(args) as ws:
        if args.interactive:
            from textal.workspace.interactive import label_interactively

            label_interactively(ws, annotator=args.annotator)
            return
        recorded, unchanged = ws.import_labels(args.file, annotator=args.annotator)
    print(f"{args.file}: {recorded} labels recorded, {unchanged} unchanged")


def _cmd_export(args: argparse.Namespace) -> None:
    with _open(args) as ws:
        n = ws.export(args.file, predictions=args.predictions)
    print(f"wrote {n} rows to {args.file} and its .jsonl")


COMMANDS = {
    "init": _cmd_init,
    "ingest": _cmd_ingest,
    "status": _cmd_status,
    "round": _cmd_round,
    "label": _cmd_label,
    "export": _cmd_export,
    "simulate": simulate_cli.run,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except TextalError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: what was stored or labeled is kept; re-run it", file=sys.stderr)
        return 130
    return 0
