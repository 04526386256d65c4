"""``python -m textal``: a thin shell over :class:`textal.workspace.Workspace`.

Every user-fixable problem is a :class:`TextalError`, printed as one ``error:`` line, exit code 2.
"""

from __future__ import annotations

import argparse
import errno
import os
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from textal import __version__, predict_cli
from textal.cli_args import (
    PORT,
    add_common_options,
    add_embedding_options,
    add_option,
    positive_int,
    share,
)
from textal.errors import TextalError
from textal.extras import require_extra
from textal.ledger.annotators import ROLES
from textal.options import StrOptions
from textal.round.candidates import CANDIDATES, INDEX_THRESHOLD
from textal.simulate import cli as simulate_cli
from textal.strategy.diverse import BATCH_SIZE
from textal.strategy.multilabel import STRATEGY as ML_STRATEGY
from textal.strategy.scores import STRATEGY
from textal.textsafe import terminal_safe

if TYPE_CHECKING:  # the workspace is imported by the commands that open one, not by --help
    from textal.store.filters import Filter
    from textal.web.client import ServedWorkspace
    from textal.workspace import LabelImport, Status, Workspace

EXIT_USAGE = 2
# ``round --strategy``: single- and multi-label names (the workspace refuses the other kind's).
ROUND_STRATEGY = StrOptions(
    tuple(dict.fromkeys([*STRATEGY.choices, *ML_STRATEGY.choices])), default=STRATEGY.default
)

DESCRIPTION = """\
Active learning for text classification: ask people to label only the reviews the model is
least sure about, in diverse batches.

typical loop:
  textal ingest --data reviews.csv          embed and store every review once
  textal round --batch-size 20              pick 20 ambiguous, distinct reviews
  (fill the label column of textal-workspace/batches/round-1.csv)
  textal label textal-workspace/batches/round-1.csv
  textal round                              the next round learns from those labels
  textal status                             labels, model and backend, stopping signal

  textal simulate --data labeled.csv        compare strategies with gold labels as the oracle
"""


def _workspace_options(parser: argparse.ArgumentParser) -> None:
    """The options of the commands that open the workspace and its store."""
    add_common_options(parser)
    parser.add_argument(
        "--milvus-uri",
        metavar="URI",
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
    parser.add_argument(
        "--move-store",
        action="store_true",
        help="record the --milvus-uri/--store/--collection given as the workspace's store "
        "(a workspace otherwise refuses any store but its own)",
    )


def _filter_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filter",
        metavar="EXPR",
        help="only items whose metadata matches, e.g. 'source == \"app-store\" and stars <= 2' "
        "(==, !=, <, <=, >, >=, in [..], and, or, parentheses)",
    )
    parser.add_argument(
        "--since", metavar="WHEN", help="only items ingested since this UTC date or time"
    )


def _filter(args: argparse.Namespace) -> Filter | None:
    from textal.store.filters import from_options

    return from_options(args.filter, args.since)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="textal", description=DESCRIPTION, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"textal {__version__}")
    add_common_options(parser, default=None)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create a workspace (ingest does this too)")
    _workspace_options(init)
    init.add_argument("--model", help="sentence-transformers name or path (default: MiniLM-L6)")
    add_embedding_options(init)
    init.add_argument("--labels", help="the label set, comma-separated, e.g. negative,positive")
    init.add_argument(
        "--multi-label",
        action="store_true",
        help="each review gets a set of labels (possibly none of them), e.g. --labels "
        "food,service,price; fixed at creation, and needs --labels (names without ';')",
    )
    init.add_argument(
        "--guidelines", metavar="FILE", help="instructions for the label page (see `guidelines`)"
    )

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
    ingest.add_argument(
        "--multi-label",
        action="store_true",
        help="the gold labels are label sets (names joined by ';', e.g. --label-column labels); "
        "the workspace must be multi-label (`textal init --multi-label`)",
    )
    keep = ingest.add_mutually_exclusive_group()
    keep.add_argument(
        "--meta-column",
        type=lambda v: [c.strip() for c in v.split(",") if c.strip()],
        default=[],
        metavar="A,B",
        help="also store these columns as metadata, for --filter (the ingest time is stored as "
        "ingested_at)",
    )
    keep.add_argument(
        "--all-meta",
        action="store_true",
        help="store every column of the file but the text, id and label ones as metadata",
    )
    ingest.add_argument("--model", help="sentence-transformers name or path (default: MiniLM-L6)")
    add_embedding_options(ingest)

    status = commands.add_parser(
        "status", help="items, labels per class, model and backend, stopping signal"
    )
    _workspace_options(status)
    status.add_argument(
        "--suspects", action="store_true", help="recount suspect labels now (cross-validates)"
    )

    round_ = commands.add_parser(
        "round",
        help="select the next batch for people to label",
        description="Train on the current labels, score every unlabeled review, and write a "
        "diverse batch of the most ambiguous ones to WORKSPACE/batches/round-N.csv and .jsonl. "
        "With no labels yet, a representative cold-start batch is chosen. While a declared label "
        "has no label yet, the default strategy also asks the reviews nearest its name (and its "
        "guideline description): the model cannot predict a label it has never seen.",
    )
    _workspace_options(round_)
    add_option(
        round_, "--batch-size", BATCH_SIZE, f"{BATCH_SIZE.describe()} (default: %(default)s)"
    )
    add_option(
        round_,
        "--strategy",
        ROUND_STRATEGY,
        "ambiguity score (default: %(default)s: the margin between the two likeliest "
        "labels weighted by how typical the review is of its neighbours, with part of the batch "
        "drawn at random while the model is barely better than chance; in a multi-label "
        "workspace the mean per-label margin, likewise weighted); multi-label workspaces take "
        f"{', '.join(ML_STRATEGY.choices)}",
    )
    round_.add_argument(
        "--max-class-share",
        type=share,
        metavar="F",
        help="cap any predicted class at this share of the batch, e.g. 0.5",
    )
    round_.add_argument("--seed", type=int, default=0, help="(default: 0)")
    add_option(
        round_,
        "--candidates",
        CANDIDATES,
        "what the round scores: every stored item (all: one scan of the store, whose time "
        "grows with it), or a candidate set found with nearest-neighbour queries to the vector "
        "index (index: neighbours of labeled items and of the last batch, plus a uniform sample; "
        f"its time does not grow with the store); auto: index above {INDEX_THRESHOLD:,} items "
        "(default: %(default)s)",
    )
    _filter_options(round_)

    label = commands.add_parser(
        "label",
        help="import labels from a file, or label the open batch in the terminal",
        description="Import a filled-in batch file (or id,label rows): all or nothing. "
        "With --interactive, label the open batch review by review.",
    )
    _workspace_options(label)
    label.add_argument("file", nargs="?", help="CSV or JSONL with id and label columns")
    label.add_argument("--interactive", action="store_true", help="label in the terminal")
    label.add_argument("--annotator", help="who labels (default: $USER, else annotator)")
    label.add_argument(
        "--confirm",
        action="store_true",
        help="also record labels equal to the current ones, as this annotator's confirmation "
        "(a reviewed suspects file; double labeling for agreement)",
    )

    export = commands.add_parser("export", help="write all current labels to CSV and JSONL")
    _workspace_options(export)
    export.add_argument("file", nargs="?", help="output .csv (a .jsonl is written beside it)")
    export.add_argument("--predictions", action="store_true", help="also predict every stored item")
    export.add_argument(
        "--model", dest="model_dir", metavar="DIR", help="write the trained model to DIR instead"
    )
    predict_cli.add_parser(commands, _workspace_options)
    _filter_options(export)
    serve = commands.add_parser(
        "serve",
        help="the annotation web app: several people label in their browsers",
        description="Hold the workspace and serve the label page, dashboard and search. "
        "Rounds run in the background when a batch is done. Log in with the link "
        "`textal annotators add` prints.",
    )
    add_common_options(serve)
    serve.add_argument("--host", default="127.0.0.1", help="(default: 127.0.0.1, this machine)")
    add_option(serve, "--port", PORT, "(default: %(default)s; 0: any free)")
    serve.add_argument(
        "--public-url",
        metavar="URL",
        help="where people reach it behind a TLS reverse proxy, e.g. https://labels.example.com "
        "(login links use it; https makes the session cookie Secure; no proxy header is trusted)",
    )

    people = commands.add_parser("annotators", help="accounts for the web app: add, list, remove")
    add_common_options(people)
    people_commands = people.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = people_commands.add_parser("add", help="create an account; prints its login link")
    add_common_options(add)
    add.add_argument("name")
    add.add_argument("--admin", action="store_true", help="the same as --role admin")
    add.add_argument(
        "--role",
        choices=ROLES,
        help="annotator (default): labels; reviewer: also resolves disagreements and reviews "
        "suspects; admin: everything (rounds, accounts, export); service: a script's bearer "
        "token that adds reviews, reads status, exports and predicts, and never labels",
    )
    add_common_options(people_commands.add_parser("list", help="names and roles"))
    remove = people_commands.add_parser("remove", help="delete an account (its labels stay)")
    add_common_options(remove)
    remove.add_argument("name")
    guide = commands.add_parser(
        "guidelines",
        help="set or show the label page's instructions and label descriptions",
        description="FILE is plain text: the instructions, then a '# LABEL' line before each "
        "label's description. Works while `serve` runs; the page shows it on its next load.",
    )
    guide.add_argument("--workspace", metavar="DIR", help="(default: ./textal-workspace)")
    guide.add_argument("file", nargs="?", help="the guidelines to set (none: show them)")
    simulate_cli.add_parser(commands)
    _add_suspects_parser(commands)
    return parser


def _milvus_uri(args: argparse.Namespace) -> str | None:
    """``--milvus-uri``, else ``$TEXTAL_MILVUS_URI`` (read when the command runs)."""
    return args.milvus_uri or os.environ.get("TEXTAL_MILVUS_URI") or None


def _open(args: argparse.Namespace, *, create: bool = False, read_only: bool = False) -> Workspace:
    from textal.store import credentials_from_env
    from textal.workspace import Workspace

    store_uri = _milvus_uri(args) or ("memory" if args.store == "memory" else None)
    labels = args.labels.split(",") if getattr(args, "labels", None) is not None else []
    ws = Workspace.open(
        args.workspace,
        model=getattr(args, "model", None),
        store_uri=store_uri,
        collection=args.collection,
        labels=labels,
        create=create,
        credentials=credentials_from_env(os.environ),
        move_store=args.move_store,
        read_only=read_only,
        embed_backend=getattr(args, "embed_backend", None),
        device=getattr(args, "device", None),
        multi_label=getattr(args, "multi_label", False),
    )
    _show_label_set(ws)
    return ws


def _served(args: argparse.Namespace) -> ServedWorkspace | None:
    """The ``textal serve`` holding the workspace, whose API then does the command's work (so
    no command opens the ledger or the store behind the server's back), or ``None``."""
    from textal.workspace.config import workspace_path
    from textal.workspace.holder import serving_url

    root = workspace_path(args.workspace)
    if serving_url(root) is None:
        return None
    from textal.web.client import served

    return served(root)


def _show_label_set(ws: Workspace, why: str = "") -> None:
    """Print the label set when this command set or changed it, and warn on case-only twins."""
    from textal.workspace.config import case_clashes

    if not ws.labels_added:
        return
    names = ", ".join(terminal_safe(n) for n in ws.config.labels)
    print(f"label set{why}: {names}")
    for a, b in case_clashes(ws.config.labels):
        print(
            f"warning: labels {terminal_safe(a)!r} and {terminal_safe(b)!r} differ only in case "
            "and count as two classes",
            file=sys.stderr,
        )


def _cmd_init(args: argparse.Namespace) -> None:
    from textal.workspace.guidelines import read_guidelines_file, save_guidelines

    with _open(args, create=True) as ws:
        print(
            f"workspace {ws.path}: model {ws.config.model} ({ws.config.backend}), "
            f"store {ws.store.uri}" + (", multi-label" if ws.multi_label else "")
        )
        if args.guidelines:
            save_guidelines(ws.path, read_guidelines_file(Path(args.guidelines), ws.config.labels))
            print(f"guidelines set from {args.guidelines}")


def _all_meta_columns(args: argparse.Namespace) -> list[str]:
    """``--all-meta``: the file's columns but its text, id and label ones."""
    from textal.data.readers import file_columns

    if args.data is None:
        raise TextalError("--all-meta works with files (--data FILE), not --dataset")
    taken = {args.text_column, args.id_column, args.label_column}
    return [c for c in file_columns(Path(args.data)) if c not in taken]


def _cmd_ingest(args: argparse.Namespace) -> None:
    from textal.store import StoreURI
    from textal.workspace.config import read_config, workspace_path
    from textal.workspace.workspace import check_source

    root = workspace_path(args.workspace)  # the cheap checks first: not a file,
    if uri := _milvus_uri(args):
        StoreURI.parse(uri)  # a valid URI,
    config = read_config(root)
    multi_label = config is not None and config.multi_label
    if args.multi_label and not multi_label:
        raise TextalError(
            f"--multi-label: gold label sets go into a multi-label workspace, and {root} is "
            "not one: create it first with `textal init --multi-label --labels a,b,c`"
        )
    if args.all_meta:
        args.meta_column = _all_meta_columns(args)
    try:
        source = check_source(  # then the whole source, before anything is created or loaded
            args.data,
            dataset=args.dataset,
            split=args.split,
            text_column=args.text_column,
            id_column=args.id_column,
            label_column=args.label_column,
            meta_columns=args.meta_column,
            multi_label=multi_label,
        )
    except TextalError as e:
        if args.all_meta and str(e).startswith("--meta-column "):
            column = str(e).removeprefix("--meta-column ")
            raise TextalError(
                f"--all-meta: column {column}; name the columns to keep with --meta-column"
            ) from e
        raise
    if (remote := _served(args)) is not None:
        if args.data is None:
            raise TextalError("while `textal serve` runs, ingest a file (--data FILE)")
        with remote:
            report, summary = remote.ingest(
                args.data,
                text_column=args.text_column,
                id_column=args.id_column,
                label_column=args.label_column,
                meta_columns=args.meta_column,
            )
            now = remote.status()
            uri, count = now.store_uri, now.items
    else:
        with _open(args, create=True) as ws:
            report, summary = ws.ingest(source)
            uri, count = ws.store.uri, ws.store.count()
    print(
        f"read {report.read} items: {report.added} added, "
        f"{report.already_stored} already stored; skipped {summary.skipped_empty} empty "
        f"and {summary.duplicates} repeated rows; {uri} holds {count}"
    )
    if report.changed_text:
        first = ", ".join(terminal_safe(i) for i in report.changed_ids)
        print(
            f"warning: {report.changed_text} stored ids come with another text in this "
            f"source (first: {first}); stored reviews never change, so the stored texts "
            "were kept: give a changed review a new id",
            file=sys.stderr,
        )


def _cmd_status(args: argparse.Namespace) -> None:
    if args.suspects:
        require_extra("quality", "textal status --suspects")
    if (remote := _served(args)) is not None:
        with remote:
            s = remote.status(suspects=args.suspects)
    else:
        with _open(args, read_only=not args.suspects) as ws:  # --suspects caches its count
            s = ws.status(suspects=args.suspects)
    print(f"workspace   {s.workspace}")
    print(f"model       {s.model} (dim {s.dim})")
    print(f"backend     {s.backend}")
    print(f"store       {s.store_uri}")
    print(f"items       {s.items}")
    marked = f" ({s.ambiguous} marked ambiguous)" if s.ambiguous else ""
    print(f"labeled     {s.labeled}" + (" (label sets)" if s.multi_label else "") + marked)
    for name, count in s.label_counts.items():
        unasked = "  (no label yet: the default strategy asks for it by name)" if count == 0 else ""
        print(f"  {terminal_safe(name):<20} {count}{unasked}")
    if s.multi_label:
        print(f"  {'(none of these)':<20} {s.none_of_these}")
    print(f"rounds      {s.rounds}")
    if s.last_candidates:
        read = {"all": "scored every stored item", "index": "scored candidates from the index"}
        print(f"last round  {read[s.last_candidates]}")
    if s.last_filter is not None:
        print(f"last round  asked only items where {terminal_safe(s.last_filter)}")
    if s.last_model:
        cv = "n/a" if s.last_cv_score is None else f"{s.last_cv_score:.3f}"
        print(f"last model  {s.last_model}, cross-validated score {cv}")
    if s.route is not None:
        stale = "" if s.route_current else " (trained before the last labels; predict retrains)"
        print(f"predict     {s.route.describe()}{stale}")
    if s.agreement is not None:
        verdict = "stable: more labels are unlikely to change it" if s.stable else "still changing"
        print(f"stopping    agreement with previous model {s.agreement:.3f} ({verdict})")
    _print_label_quality(s)


def _cmd_round(args: argparse.Namespace) -> None:
    params = {
        "batch_size": args.batch_size,
        "strategy": args.strategy,
        "max_class_share": args.max_class_share,
        "seed": args.seed,
        "candidates": args.candidates,
    }
    restrict = _filter(args)
    if (remote := _served(args)) is not None:
        with remote:
            result = remote.round(**params, filter=args.filter, since=args.since)
    else:
        with _open(args) as ws:
            result = ws.round(**params, filter=restrict)
    r = result.round
    if result.reused:
        print(f"round {r.round} is still open (no labels since); its batch was written again")
    kind = "cold-start batch" if r.report.cold_start else f"{r.params.strategy} batch"
    print(f"round {r.round}: {kind} of {len(result.selections)} -> {result.csv_path}")
    found = r.report.candidate_set
    if found is not None and r.report.cold_start:
        print(f"chose from a uniform sample of {found.sample} items (no scan of the store)")
    elif found is not None:
        print(
            f"scored {r.report.scored} candidates from the index: {found.neighbors} neighbours "
            f"of {found.anchors} labeled items and {found.sample} sampled ({found.seconds:.1f} s)"
        )
    elif r.report.scored:
        print(f"scored all {r.report.scored} unlabeled items")
    probed = sorted({s.probe for s in result.selections if s.probe is not None})
    if probed:
        names = ", ".join(terminal_safe(name) for name in probed)
        print(f"asked for labels nobody has given yet, by their names: {names}")
    if r.params.filter is not None:
        print(f"asked only items where {terminal_safe(r.params.filter)}")
    if r.report.model:
        cv = "n/a" if r.report.cv_score is None else f"{r.report.cv_score:.3f}"
        print(f"model {r.report.model}, cross-validated score {cv}")
    print(f"fill the {result.label_column} column, then: textal label {result.csv_path}")


def _cmd_label(args: argparse.Namespace) -> None:
    if args.interactive == (args.file is not None):
        raise TextalError("give a label FILE or --interactive (one of them)")
    annotator = args.annotator or os.environ.get("USER") or "annotator"
    if args.file is not None and (remote := _served(args)) is not None:
        with remote:
            done = remote.import_labels(args.file, annotator=annotator, confirm=args.confirm)
        if done.label_set:
            names = ", ".join(terminal_safe(n) for n in done.label_set)
            print(f"label set (fixed by this first label file): {names}")
        _print_import(args.file, done)
        return
    with _open(args) as ws:
        if args.interactive:
            from textal.cli_label import label_interactively

            label_interactively(ws, annotator=annotator)
            return
        done = ws.import_labels(args.file, annotator=annotator, confirm=args.confirm)
        if done.label_set:
            _show_label_set(ws, " (fixed by this first label file)")
    _print_import(args.file, done)


def _print_import(file: str, done: LabelImport) -> None:
    print(f"{file}: {done.recorded} labels recorded, {done.unchanged} unchanged")
    if done.overridden:
        whose = ", ".join(f"{n} by {terminal_safe(a)}" for a, n in done.overridden.items())
        total = sum(done.overridden.values())
        print(f"changed {total} existing label{'s' * (total != 1)}: {whose}")


def _cmd_export(args: argparse.Namespace) -> None:
    if (args.file is None) == (args.model_dir is None):
        raise TextalError("give an output FILE or --model DIR, one of them")
    if args.model_dir:
        return predict_cli.run_export_model(args, _open)
    restrict = _filter(args)
    if (remote := _served(args)) is not None:
        with remote:
            n = remote.export(
                args.file, predictions=args.predictions, filter=args.filter, since=args.since
            )
        print(f"wrote {n} rows to {args.file} and its .jsonl")
        return
    with _open(args, read_only=True) as ws:
        n = ws.export(args.file, predictions=args.predictions, filter=restrict)
    print(f"wrote {n} rows to {args.file} and its .jsonl")


# A write that failed for want of space or permission: the ledger rolled its transaction back and
# every file is replaced whole or not at all, so what was stored or labeled before is intact.
_NO_SPACE = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG}
_NO_WRITE = {errno.EROFS, errno.EACCES, errno.EPERM}
_SQLITE_PROBLEMS = {
    "SQLITE_FULL": "no space left on the device",
    "SQLITE_READONLY": "the file system or file is read-only",
    "SQLITE_IOERR": "a disk I/O error (is the disk full?)",
    "SQLITE_CANTOPEN": "the file cannot be opened (permissions or a read-only file system?)",
}


def _storage_problem(exc: OSError | sqlite3.OperationalError) -> str | None:
    """One line for a write the disk refused, or ``None`` for anything else (a bug: re-raised)."""
    kept = "nothing stored or labeled before was lost; fix it and re-run the command"
    if isinstance(exc, sqlite3.OperationalError):
        what = _SQLITE_PROBLEMS.get(getattr(exc, "sqlite_errorname", "") or "")
        if what is None:
            return None
        return f"cannot write the ledger: {what} ({exc}); {kept}"
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in _NO_SPACE:
        return f"cannot write{where}: no space left ({exc.strerror}); {kept}"
    if exc.errno in _NO_WRITE:
        return f"cannot access{where}: {exc.strerror}; {kept}"
    return None


def _cmd_serve(args: argparse.Namespace) -> None:
    require_extra("web", "textal serve")
    from textal.web.server import serve

    serve(
        args.workspace,
        args.host,
        args.port,
        public_url=args.public_url,
        say=lambda line: print(line, flush=True),
    )


def _cmd_annotators(args: argparse.Namespace) -> None:
    """Only the ledger is opened, so accounts can be managed while `serve` runs."""
    from textal.workspace.accounts import open_accounts
    from textal.workspace.config import workspace_path
    from textal.workspace.holder import serving_url

    root = workspace_path(args.workspace)
    with open_accounts(root) as accounts:
        if args.action == "add":
            role = args.role or ("admin" if args.admin else "annotator")
            token = accounts.add(args.name, role=role)
            base = serving_url(root) or "http://127.0.0.1:8000"
            if role == "service":
                print(f"service {args.name} added; its bearer token (shown once, keep it private):")
                print(f"  Authorization: Bearer {token}")
            else:
                print(f"{role} {args.name} added; login link (shown once, keep it private):")
                print(f"  {base}/login#token={token}")
        elif args.action == "list":
            for person in accounts.list():
                print(f"{person.name:<24} {person.role:<10} since {person.created_at}")
        else:
            accounts.remove(args.name)
            print(f"removed {args.name}; labels it gave stay in the ledger")


def _cmd_guidelines(args: argparse.Namespace) -> None:
    """Only the config is read, so guidelines can be set while `serve` runs."""
    from textal.workspace.config import read_config, workspace_path
    from textal.workspace.guidelines import load_guidelines, read_guidelines_file, save_guidelines

    root = workspace_path(args.workspace)
    config = read_config(root)
    if config is None:
        raise TextalError(f"no textal workspace at {root}: run `textal init` first")
    if not config.labels:
        raise TextalError(f"workspace {root} has no label set: run `textal init --labels ...`")
    if args.file:
        guidelines = read_guidelines_file(Path(args.file), config.labels)
        save_guidelines(root, guidelines)
        described = ", ".join(guidelines.labels) or "none"
        print(f"guidelines set: {len(guidelines.instructions)} characters of instructions, "
              f"descriptions of {described}")  # fmt: skip
        return
    guidelines = load_guidelines(root)
    print(terminal_safe(guidelines.instructions) or "(no instructions)")
    for name in config.labels:
        print(f"\n# {terminal_safe(name)}\n{terminal_safe(guidelines.labels.get(name, ''))}")


# -- suspect labels and annotator agreement (issue 14) ------------------------------------------


def _add_suspects_parser(commands: argparse._SubParsersAction) -> None:
    suspects = commands.add_parser(
        "suspects",
        help="the current labels most likely wrong (changes no label)",
        description="Rank the current labels by how likely they are wrong: out-of-fold "
        "predictions of the head and the labeled neighbours, combined by confident learning. "
        "Writes CSV and JSONL; fill the label column and run `textal label FILE --confirm` to "
        "record corrections (new events, history kept) and confirmations (not flagged again).",
    )
    _workspace_options(suspects)
    suspects.add_argument(
        "--output", metavar="FILE", help="CSV to write (default: WORKSPACE/suspects/suspects.csv)"
    )
    suspects.add_argument(
        "--limit", type=positive_int, default=50, help="most suspects listed (default: 50)"
    )


def _cmd_suspects(args: argparse.Namespace) -> None:
    from pathlib import Path

    from textal.workspace.suspects import SUSPECTS_DIR, write_suspects

    if args.output and Path(args.output).suffix.lower() != ".csv":
        raise TextalError(f"--output {args.output}: give a .csv file (a .jsonl is written beside)")
    require_extra("quality", "textal suspects")
    if (remote := _served(args)) is not None:
        with remote:
            found = remote.suspects()
            status = remote.status()
            root = remote.path
    else:
        with _open(args) as ws:
            found = ws.suspects()
            status = ws.status()
            root = ws.path
    labeled = status.labeled
    names = list(status.label_counts) if status.multi_label else None
    column = "labels" if status.multi_label else "label"
    path = Path(args.output) if args.output else root / SUSPECTS_DIR / "suspects.csv"
    shown = found[: args.limit]
    try:
        write_suspects(path, shown, label_names=names)
    except OSError as exc:
        raise TextalError(f"--output {path}: cannot write ({exc.strerror})") from exc
    print(f"{len(found)} suspect labels among {labeled}; the {len(shown)} most likely wrong:")
    print(f"{'confidence':>10}  {'given':<12} {'suggested':<12} {'annotator':<12} text")
    for s in shown:
        text = " ".join(s.text.split())
        print(
            f"{s.confidence:>10.2f}  {terminal_safe(s.given)[:12]:<12} "
            f"{terminal_safe(s.suggested)[:12]:<12} {terminal_safe(s.annotator)[:12]:<12} "
            f"{terminal_safe(text)[:60]}"
        )
    print(
        f"wrote {path} and its .jsonl; fill the {column} column, then: textal label {path} "
        "--confirm"
    )


def _print_label_quality(s: Status) -> None:
    if s.suspects is not None:
        print(f"suspects    {s.suspects} labels likely wrong (textal suspects lists them)")
    elif s.label_counts:
        print("suspects    not counted since the last labels (textal status --suspects)")
    for pair in s.annotators.pairs:
        kappa = "n/a" if pair.kappa is None else f"{pair.kappa:.3f}"
        print(
            f"annotators  {terminal_safe(pair.first)} / {terminal_safe(pair.second)}: "
            f"{pair.agreed} of {pair.items} agree, Cohen's kappa {kappa}"
        )
    if s.annotators.disagreements:
        print(
            f"            {len(s.annotators.disagreements)} items with disagreeing labels "
            "(export shows each annotator's label)"
        )


COMMANDS = {
    "serve": _cmd_serve,
    "annotators": _cmd_annotators,
    "guidelines": _cmd_guidelines,
    "init": _cmd_init,
    "ingest": _cmd_ingest,
    "status": _cmd_status,
    "round": _cmd_round,
    "label": _cmd_label,
    "export": _cmd_export,
    "simulate": simulate_cli.run,
    "suspects": _cmd_suspects,
    "predict": lambda args: predict_cli.run_predict(args, _open),
}


def main(argv: Sequence[str] | None = None) -> int:
    os.umask(0o077)  # what textal creates holds customer text: readable by its owner only
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except TextalError as exc:
        print(f"error: {terminal_safe(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except (OSError, sqlite3.OperationalError) as exc:
        problem = _storage_problem(exc)
        if problem is None:
            raise
        print(f"error: {terminal_safe(problem)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted: what was stored or labeled is kept; re-run it", file=sys.stderr)
        return 130
    return 0
