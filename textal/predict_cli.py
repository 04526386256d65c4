"""``textal predict`` and ``textal export --model``: the trained model at work on new reviews."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from textal.errors import TextalError

if TYPE_CHECKING:
    from textal.model.predictor import Predictor
    from textal.workspace import Workspace
    from textal.workspace.predict_files import ChunkHook, PredictSummary, Review

Opener = Callable[..., "Workspace"]


def add_parser(commands: argparse._SubParsersAction, workspace_options: Callable) -> None:
    predict = commands.add_parser(
        "predict",
        help="label new reviews with the trained model; route the unsure ones to people",
        description="Predict a label for each review of FILE (CSV, TSV, JSONL, Parquet; '-': "
        "one review per line on stdin) or of --text, with the model trained on the workspace's "
        "current labels (or an exported --model DIR). Each review is routed 'auto' when its "
        "confidence reaches the threshold that promises --min-precision on the "
        "out-of-fold predictions of the labels, 'review' otherwise (with the reason). "
        "Nothing is stored unless --queue.",
    )
    workspace_options(predict)
    predict.add_argument("file", nargs="?", help="reviews to predict; '-' reads stdin")
    predict.add_argument("--text", action="append", help="a review to predict (repeatable)")
    predict.add_argument(
        "--model", dest="model_dir", metavar="DIR", help="an exported model (no workspace)"
    )
    predict.add_argument("--output", metavar="OUT", help=".csv or .jsonl (default: CSV on stdout)")
    predict.add_argument("--text-column", default="text", help="(default: text)")
    predict.add_argument("--id-column", help="ids to keep (default: the 'id' column, if any)")
    predict.add_argument(
        "--queue",
        action="store_true",
        help="store the reviews routed 'review' and put them first in the next round's batch",
    )
    predict.add_argument(
        "--min-precision",
        metavar="P",
        help="precision the auto share must reach, e.g. 0.9 (default: the model's, 0.95)",
    )


def min_precision(text: str | None) -> float | None:
    """``--min-precision``: a number strictly between 0 and 1."""
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise TextalError(f"--min-precision {text!r}: give a number between 0 and 1, e.g. 0.95")
    return value


def run_predict(args: argparse.Namespace, open_workspace: Opener) -> None:
    from textal.workspace.predict_files import (
        PredictSummary,
        Review,
        file_reviews,
        header,
        line_reviews,
        output_format,
        predict_reviews,
        queue_for_review,
        write_predictions,
    )

    precision = min_precision(args.min_precision)
    if (args.file is None) == (args.text is None):
        raise TextalError("give a FILE (or '-' for stdin) or --text, one of them")
    if args.queue and args.model_dir:
        raise TextalError("--queue stores reviews in a workspace; it does not go with --model")
    output = Path(args.output) if args.output else None
    output_format(output)
    total: int | None = None
    ids = False
    source: Iterable[Review]
    if args.text is not None:
        given = [Review(k, None, t) for k, t in enumerate(args.text, start=1) if t.strip()]
        if not given:
            raise TextalError("--text: give a non-empty review")
        total, source = len(given), given
    elif args.file == "-":
        source = line_reviews(sys.stdin)
    else:
        found = file_reviews(
            Path(args.file), text_column=args.text_column, id_column=args.id_column
        )
        total, ids, source = found.count, found.id_column is not None, found.reviews()
    summary = PredictSummary()

    queued: list[str] = []

    def predict(predictor: Predictor, hook: ChunkHook | None = None) -> None:
        print(f"{predictor.route.describe()}", file=sys.stderr)
        rows = predict_reviews(predictor, source, summary=summary, on_chunk=hook)
        write_predictions(rows, header(predictor, ids=ids), output, total=total)

    if args.model_dir:
        from textal.model.export import load

        predictor = load(args.model_dir)
        predict(predictor.with_min_precision(precision) if precision else predictor)
    else:
        with open_workspace(args) as ws:
            if ws.multi_label:
                _predict_sets(ws, args, source, output, total=total, ids=ids, summary=summary)
                return
            hook = queue_for_review(ws, queued) if args.queue else None
            predict(ws.predictor(min_precision=precision), hook)
    where = f" -> {output}" if output else ""
    print(
        f"predicted {summary.predicted} reviews{where}: {summary.auto} auto, "
        f"{summary.predicted - summary.auto} to review",
        file=sys.stderr,
    )
    if args.queue:
        print(
            f"queued {len(queued)} for review: the next `textal round` asks them first",
            file=sys.stderr,
        )


def _predict_sets(
    ws: Workspace,
    args: argparse.Namespace,
    source: Iterable[Review],
    output: Path | None,
    *,
    total: int | None,
    ids: bool,
    summary: PredictSummary,
) -> None:
    """``textal predict`` in a multi-label workspace: label sets and per-label probabilities,
    no routing (so no --queue or --min-precision)."""
    from textal.workspace.predict_files import predict_label_sets, set_header, write_predictions
    from textal.workspace.predicting import workspace_set_model

    if args.queue or args.min_precision is not None:
        raise TextalError(
            "a multi-label workspace predicts label sets without routing: --queue and "
            "--min-precision do not apply"
        )
    model = workspace_set_model(ws)
    rows = predict_label_sets(model, source, summary=summary)
    write_predictions(rows, set_header(model.label_names, ids=ids), output, total=total)
    where = f" -> {output}" if output else ""
    print(f"predicted label sets of {summary.predicted} reviews{where}", file=sys.stderr)


def run_export_model(args: argparse.Namespace, open_workspace: Opener) -> None:
    from textal.model.export import save

    with open_workspace(args) as ws:
        if ws.multi_label:
            raise TextalError(
                "export --model writes a single-label model; a multi-label workspace predicts "
                "with `textal predict` (label sets)"
            )
        predictor = ws.predictor()
    save(predictor.model, args.model_dir)
    print(f"wrote model {args.model_dir}: {predictor.route.describe()}")
