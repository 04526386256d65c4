"""``python -m textal simulate``: learning curves of strategies, gold labels as the oracle.

``textal/cli.py`` registers the command with :func:`add_parser` and calls :func:`run`.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING

from textal.cli_args import (
    add_common_options,
    add_embedding_options,
    add_option,
    positive_int,
    share,
)
from textal.embed.backends import check_backend
from textal.errors import TextalError
from textal.extras import require_extra
from textal.options import StrOptions
from textal.quality.noise import NOISE_KIND
from textal.round.candidates import CANDIDATES, INDEX_THRESHOLD
from textal.simulate.options import INITIAL, LABEL_NOISE, STORE
from textal.strategy.multilabel import STRATEGY as MULTILABEL_STRATEGY
from textal.strategy.scores import STRATEGY
from textal.workspace.config import read_config, workspace_path

if TYPE_CHECKING:
    from textal.simulate.dataset import TestSpec


DESCRIPTION = """\
Simulate active learning on labeled data: an oracle reveals gold labels in place of people, and
each strategy's learning curve is measured on a test set. Every round is the round of
`textal round` (same model, scores and diverse selection).

The data is embedded once per model into WORKSPACE/simulations/NAME-MODEL/ (re-runs reuse it);
the results go to the same folder (or --out): summary.md, curves.csv, curves.json, curves.png.
With several --model entries (MODEL or MODEL@BACKEND), every strategy runs on each embedding and
the runs are reported side by side as "STRATEGY @ MODEL@BACKEND", written to --out (default:
WORKSPACE/simulations/NAME-compare/).

example:
  textal simulate --data trec/train.csv --test trec/test.csv --seeds 5
  textal simulate --data cr/all.csv --test-fraction 0.2 --strategies margin,random
  textal simulate --data cr/all.csv --test-fraction 0.2 \\
      --model all-MiniLM-L6-v2,all-MiniLM-L6-v2@onnx-int8,/models/my-model
  textal simulate --data semeval/train.csv --test semeval/test.csv \\
      --label-column labels --multi-label --seeds 10

With --multi-label each gold cell is a set of labels joined by ";" and the curves are subset
accuracy, micro-F1 and macro-F1 of the multi-label head (textal/model/multilabel.py).
"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``simulate`` command to ``subparsers`` and return its parser."""
    parser = subparsers.add_parser(
        "simulate",
        help="learning curves of strategies on labeled data (gold labels as the oracle)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_common_options(parser)
    data = parser.add_argument_group("data")
    source = data.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", metavar="FILE", help="labeled CSV, TSV, JSONL or Parquet file")
    source.add_argument("--dataset", metavar="NAME", help="Hugging Face dataset name or path")
    data.add_argument("--split", default="train", help="dataset split of the pool (default: train)")
    data.add_argument("--text-column", default="text", help="(default: text)")
    data.add_argument("--label-column", default="label", help="gold labels (default: label)")
    data.add_argument(
        "--multi-label",
        action="store_true",
        help="each gold label is a set of labels joined by ';' (e.g. --label-column labels)",
    )
    test = data.add_mutually_exclusive_group(required=True)
    test.add_argument("--test", metavar="FILE", help="labeled test file (same columns)")
    test.add_argument("--test-split", metavar="SPLIT", help="test split of --dataset")
    test.add_argument(
        "--test-fraction",
        type=float,
        metavar="F",
        help="hold out this stratified fraction of the pool as the test set, e.g. 0.2",
    )
    data.add_argument(
        "--split-seed", type=int, default=0, help="seed of --test-fraction (default: 0)"
    )
    data.add_argument("--name", help="cache and result folder name (default: from the data)")
    data.add_argument(
        "--model",
        help="sentence-transformers name or path, optionally @BACKEND; comma-separated to compare "
        "embeddings (default: the workspace's model, else MiniLM-L6)",
    )
    add_embedding_options(data)
    add_option(
        data,
        "--store",
        STORE,
        "pool store: 'memory' (runs in parallel) or 'milvus' (Milvus Lite, runs one at a "
        "time in this process) (default: %(default)s)",
    )
    runs = parser.add_argument_group("runs")
    runs.add_argument(
        "--strategies",
        help=f"comma-separated, from {', '.join(STRATEGY.choices)}, or 'default' for the default "
        f"strategy ({STRATEGY.default}) (default: all); with --multi-label from "
        f"{', '.join(MULTILABEL_STRATEGY.choices)} (default: {MULTILABEL_STRATEGY.default})",
    )
    runs.add_argument("--seeds", type=positive_int, default=5, help="seeds 0..N-1 (default: 5)")
    runs.add_argument("--init", type=positive_int, default=25, help="initial labels (default: 25)")
    runs.add_argument("--batch-size", type=positive_int, default=25, help="(default: 25)")
    runs.add_argument("--rounds", type=positive_int, default=20, help="(default: 20)")
    add_option(
        runs,
        "--initial",
        INITIAL,
        "initial labels: a random sample, or textal's cold-start batch (default: %(default)s)",
    )
    runs.add_argument(
        "--max-class-share",
        type=share,
        metavar="F",
        help="cap any predicted class at this share of each batch, as in `textal round`",
    )
    add_option(
        runs,
        "--candidates",
        CANDIDATES,
        "what each round scores, as in `textal round`: every pool item (all), a candidate "
        f"set from the vector index (index), or index above {INDEX_THRESHOLD:,} items "
        "(default: %(default)s)",
    )
    runs.add_argument(
        "--workers",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="parallel runs with --store memory (default: the number of CPUs)",
    )
    add_option(
        runs,
        "--label-noise",
        LABEL_NOISE,
        "the oracle answers a wrong label with this probability, e.g. 0.1 (default: "
        "%(default)s); curves are still scored on the gold test labels",
        metavar="F",
    )
    add_option(
        runs,
        "--label-noise-kind",
        NOISE_KIND,
        "wrong labels: any other class (uniform), or the class most similar to the gold one "
        "(class) (default: %(default)s)",
    )
    runs.add_argument("--out", metavar="DIR", help="results folder (default: the cache folder)")
    return parser


def _strategies(text: str | None, options: StrOptions = STRATEGY) -> list[str]:
    """The named strategies in order, without repeats; ``default`` names the default strategy;
    none given: all of ``options``."""
    if text is None:
        return list(options.choices)
    given = (s.strip() for s in text.split(",") if s.strip())
    names = list(dict.fromkeys(options.default if s == "default" else s for s in given))
    unknown = [s for s in names if s not in options.choices]
    if unknown or not names:
        raise TextalError(
            f"unknown strategy {', '.join(unknown) or '(none given)'}; "
            f"choose from default, {', '.join(options.choices)}"
        )
    return names


def _test_spec(args: argparse.Namespace) -> TestSpec:
    from textal.simulate.dataset import Source, TestSpec

    multi_label = bool(getattr(args, "multi_label", False))
    if args.test is not None:
        source = Source(
            path=Path(args.test),
            text_column=args.text_column,
            label_column=args.label_column,
            multi_label=multi_label,
        )
        return TestSpec(source=source)
    if args.test_split is not None:
        if args.dataset is None:
            raise TextalError("--test-split needs --dataset; for a file give --test FILE")
        source = Source(
            dataset=args.dataset,
            split=args.test_split,
            text_column=args.text_column,
            label_column=args.label_column,
            multi_label=multi_label,
        )
        return TestSpec(source=source)
    return TestSpec(fraction=args.test_fraction, split_seed=args.split_seed)


def run(args: argparse.Namespace) -> None:
    """Build or reuse the cache, run every (strategy, seed), print and save the summary."""
    # Imported here: they load scikit-learn and scipy, which `textal --help` must not wait for.
    from textal.simulate.dataset import Source, default_name, open_simulation_data
    from textal.simulate.multilabel import run_all_multilabel
    from textal.simulate.oracle import CurvePoint, Protocol, Reference, run_all
    from textal.simulate.report import EMBEDDING_SEP, write_results

    require_extra("plots", "textal simulate (it plots the curves)")
    multi_label = bool(getattr(args, "multi_label", False))
    strategies = _strategies(args.strategies, MULTILABEL_STRATEGY if multi_label else STRATEGY)
    if (problem := LABEL_NOISE.problem(args.label_noise)) is not None:  # checked here for the API
        raise TextalError(f"--label-noise {problem}, got {args.label_noise}")
    if multi_label and (args.label_noise or args.max_class_share is not None):
        raise TextalError("--label-noise and --max-class-share are single-label settings")
    protocol = Protocol(
        init=args.init,
        batch_size=args.batch_size,
        rounds=args.rounds,
        initial=args.initial,
        max_class_share=args.max_class_share,
        candidates=args.candidates,
        label_noise=args.label_noise,
        label_noise_kind=args.label_noise_kind,
    )
    source = Source(
        path=Path(args.data) if args.data else None,
        dataset=args.dataset,
        split=args.split,
        text_column=args.text_column,
        label_column=args.label_column,
        multi_label=multi_label,
    )
    workspace = workspace_path(getattr(args, "workspace", None))  # set by textal's main parser
    workspace_config = read_config(workspace)
    default_model = args.model or (workspace_config.model if workspace_config else None)
    default_backend = args.embed_backend or (workspace_config.backend if workspace_config else None)
    embeddings = _embeddings(args.model, default_model, default_backend or "torch")
    runs: list[list[CurvePoint]] = []
    names: list[str] = []
    references: list[Reference] = []
    for model, backend in embeddings:
        with open_simulation_data(
            workspace,
            source,
            _test_spec(args),
            model=model,
            store_kind=args.store,
            name=args.name,
            backend=backend,
            device=args.device,
        ) as data:
            pool = len(data.oracle)
            if protocol.init > pool:
                raise TextalError(f"--init {protocol.init} is more than the pool's {pool} items")
            if len(set(data.oracle.values())) < 2:
                raise TextalError("the pool has a single class: nothing to classify")
            workers = 1 if args.store == "milvus" else args.workers
            run = run_all_multilabel if multi_label else run_all
            model_runs, reference = run(
                data, strategies, list(range(args.seeds)), protocol, workers=workers
            )
        if len(embeddings) > 1:
            label = _embedding_label(data.model_id, backend)
            model_runs = [
                [replace(p, strategy=f"{p.strategy}{EMBEDDING_SEP}{label}") for p in run]
                for run in model_runs
            ]
        runs += model_runs
        names.append(_embedding_label(data.model_id, backend))
        references.append(reference)
    name = data.directory.name
    if len(embeddings) > 1:
        name = f"{args.name or default_name(source)}-compare"
    settings = {
        "name": name,
        "model": data.model_id if len(embeddings) == 1 else names,
        "backend": backend if len(embeddings) == 1 else None,
        "references": {n: asdict(r) for n, r in zip(names, references, strict=True)},
        "store": args.store,
        "counts": data.counts,
        "classes": data.classes,
        "strategies": strategies,
        "seeds": args.seeds,
        "protocol": asdict(protocol),
    }
    if multi_label:
        settings["multi_label"] = True
    title = (
        f"{name}: pool {data.counts['pool']}, test {data.counts['test']}, "
        f"{protocol.init} + {protocol.rounds} x {protocol.batch_size} labels"
        + (
            f", {protocol.label_noise:.0%} {protocol.label_noise_kind} label noise"
            if protocol.label_noise
            else ""
        )
    )
    out = Path(args.out) if args.out else data.directory.parent / name
    # Labels-to-target and the plot's dashed lines use the first embedding's full-data score.
    table = write_results(out, title, settings, runs, references[0], data.classes, multi_label)
    print(table)
    print(f"wrote summary.md, curves.csv, curves.json and curves.png to {out}")


def _embeddings(
    text: str | None, default_model: str | None, backend: str
) -> list[tuple[str | None, str]]:
    """``(model, backend)`` pairs of ``--model A,B@onnx,...``; ``backend`` where none is named."""
    if not text:
        return [(default_model, check_backend(backend))]
    pairs: list[tuple[str | None, str]] = []
    for entry in dict.fromkeys(e.strip() for e in text.split(",") if e.strip()):
        model, _, named = entry.rpartition("@") if "@" in entry else (entry, "", backend)
        pairs.append((model or None, check_backend(named)))
    return pairs


def _embedding_label(model_id: str, backend: str) -> str:
    return f"{model_id.rstrip('/').rsplit('/', 1)[-1]}@{backend}"
