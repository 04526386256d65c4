"""``textal predict``'s files: reviews in (a file, stdin, given texts), routed predictions out.

Input rows are read with the readers of :mod:`textal.data.readers` (same formats, same checks and
messages; a file is checked in full before anything is embedded) but, unlike ingest, every
non-empty row gives one output row: repeated texts are predicted again, so memory stays bounded
by one chunk whatever the file's size. Output is CSV (formula-safe cells, probabilities to 4
decimals) or JSON Lines (values verbatim), by the extension of ``--output``; an output file
appears whole when everything is predicted, or not at all. With ``--queue`` the ``review``
reviews are stored and asked first next round (:mod:`textal.workspace.queue`).
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from textal.data.ids import content_id
from textal.data.readers import file_columns, iter_rows, read_id, read_text, row_unit
from textal.errors import TextalError
from textal.fsio import atomic_write, check_targets
from textal.model.predictor import Predictions, Predictor
from textal.workspace.batch_files import csv_cell, listed
from textal.workspace.queue import queue_items

if TYPE_CHECKING:
    from textal.workspace.predicting import SetModel
    from textal.workspace.workspace import Workspace

CHUNK = 1024  # reviews embedded and written at a time
OUTPUT_FORMATS = {".csv": "csv", ".jsonl": "jsonl"}


@dataclass(frozen=True, slots=True)
class Review:
    """One review to predict: where it came from (row or line number), its id if the source has
    an id column, its text."""

    row: int
    id: str | None
    text: str


@dataclass
class PredictSummary:
    """What a prediction run did: reviews predicted, how many went each way, empty rows skipped."""

    predicted: int = 0
    auto: int = 0
    skipped_empty: int = 0


@dataclass(frozen=True)
class ReviewFile:
    """A checked file: how many reviews it holds, the id column used (or ``None``), and
    ``reviews()`` to stream them."""

    count: int
    id_column: str | None
    reviews: Callable[[], Iterator[Review]]


def file_reviews(
    path: Path, *, text_column: str = "text", id_column: str | None = None
) -> ReviewFile:
    """Check the whole file (formats and messages of the readers) and count its reviews.
    ``id_column`` defaults to ``id`` when the file has one."""
    if id_column is None and "id" in file_columns(path) and text_column != "id":
        id_column = "id"
    count = sum(1 for _ in _reviews(path, text_column, id_column))
    return ReviewFile(count, id_column, lambda: _reviews(path, text_column, id_column))


def _reviews(path: Path, text_column: str, id_column: str | None) -> Iterator[Review]:
    unit = row_unit(path)
    columns = [text_column, id_column or text_column]
    for row, (text_value, id_value) in iter_rows(path, columns):
        where = f"{path}: {unit} {row}"
        text = read_text(text_value, where, text_column)
        if text is not None:
            item_id = read_id(id_value, where, id_column) if id_column else None
            yield Review(row, item_id, text)


def line_reviews(lines: Iterable[str]) -> Iterator[Review]:
    """One review per non-blank line (stdin): line numbers as rows, no ids."""
    for number, line in enumerate(lines, start=1):
        text = read_text(line.rstrip("\r\n"), f"stdin: line {number}", "text")
        if text is not None:
            yield Review(number, None, text)


def output_format(path: Path | None) -> str:
    """``csv`` or ``jsonl`` for ``--output`` (CSV without one); refuses other extensions and
    targets textal may not replace, before anything is computed."""
    if path is None:
        return "csv"
    fmt = OUTPUT_FORMATS.get(path.suffix.casefold())
    if fmt is None:
        raise TextalError(f"--output {path}: name a .csv or .jsonl file")
    check_targets([path])
    return fmt


def header(predictor: Predictor, *, ids: bool) -> list[str]:
    """Output columns: source row, id (when the source has ids), text, label, calibrated
    confidence, route, reason, then one probability column ``p_<label>`` per class."""
    probs = [f"p_{name}" for name in predictor.model.classes]
    first = ["row", "id"] if ids else ["row"]
    return [*first, "text", "label", "confidence", "route", "reason", *probs]


#: Called with each chunk's reviews, their vectors and predictions (``--queue`` stores some).
ChunkHook = Callable[[list[Review], np.ndarray, Predictions], None]


def set_header(label_names: Sequence[str], *, ids: bool) -> list[str]:
    """A multi-label workspace's output columns: source row, id (when the source has ids),
    text, the predicted label set ``labels`` (names joined by ``;`` in CSV, a list in JSONL),
    then each label's presence probability ``p_<label>``."""
    first = ["row", "id"] if ids else ["row"]
    return [*first, "text", "labels", *(f"p_{name}" for name in label_names)]


def predict_label_sets(
    model: SetModel,
    reviews: Iterable[Review],
    *,
    summary: PredictSummary | None = None,
    chunk: int = CHUNK,
) -> Iterator[dict[str, object]]:
    """:func:`predict_reviews` for a multi-label workspace: one row per review (keyed by
    :func:`set_header`'s columns), with the set the head predicts (each label at its own
    threshold, chosen on out-of-fold scores) and every label's probability. No routing."""
    summary = summary if summary is not None else PredictSummary()
    names = model.label_names
    batch: list[Review] = []
    for review in [*reviews, None]:
        if review is not None:
            batch.append(review)
        if batch and (review is None or len(batch) == chunk):
            proba = model.head.predict_proba(model.encode([r.text for r in batch]))
            for k, r in enumerate(batch):
                row: dict[str, object] = {"row": r.row}
                if r.id is not None:
                    row["id"] = r.id
                chosen = proba[k] >= model.head.thresholds_
                row.update(
                    text=r.text,
                    labels=frozenset(n for n, c in zip(names, chosen, strict=True) if c),
                )
                row.update((f"p_{n}", float(proba[k, j])) for j, n in enumerate(names))
                yield row
            summary.predicted += len(batch)
            batch = []


def predict_reviews(
    predictor: Predictor,
    reviews: Iterable[Review],
    *,
    summary: PredictSummary | None = None,
    chunk: int = CHUNK,
    on_chunk: ChunkHook | None = None,
) -> Iterator[dict[str, object]]:
    """One output row (a dict keyed by :func:`header`'s columns) per review, in input order,
    embedding ``chunk`` reviews at a time."""
    summary = summary if summary is not None else PredictSummary()
    batch: list[Review] = []
    for review in reviews:
        batch.append(review)
        if len(batch) == chunk:
            yield from _predict_chunk(predictor, batch, summary, on_chunk)
            batch = []
    if batch:
        yield from _predict_chunk(predictor, batch, summary, on_chunk)


def _predict_chunk(
    predictor: Predictor, batch: list[Review], summary: PredictSummary, on_chunk: ChunkHook | None
) -> Iterator[dict[str, object]]:
    vectors = predictor.encode([r.text for r in batch])
    found = predictor.model.predict_vectors(vectors)
    if on_chunk is not None:
        on_chunk(batch, vectors, found)
    yield from _rows(batch, found, summary)


def queue_for_review(ws: Workspace, queued: list[str]) -> ChunkHook:
    """``--queue``: store each chunk's ``review`` reviews (ids: the source's, else the content
    hash, as ingest makes them) and queue them for the next round; their ids go to ``queued``."""

    def keep(batch: list[Review], vectors: np.ndarray, found: Predictions) -> None:
        rows = np.flatnonzero(~found.auto)
        if len(rows) == 0:
            return
        ids = [batch[k].id or content_id(batch[k].text) for k in rows]
        ws.store.add(ids, vectors[rows], [batch[k].text for k in rows], [{} for _ in rows])
        queue_items(ws.path, ids)
        queued.extend(ids)

    return keep


def _rows(
    batch: list[Review], found: Predictions, summary: PredictSummary
) -> Iterator[dict[str, object]]:
    labels = found.labels
    summary.predicted += len(batch)
    summary.auto += int(found.auto.sum())
    for k, review in enumerate(batch):
        row: dict[str, object] = {"row": review.row}
        if review.id is not None:
            row["id"] = review.id
        row.update(
            text=review.text,
            label=labels[k],
            confidence=float(found.confidence[k]),
            route="auto" if found.auto[k] else "review",
            reason=found.reason(k),
        )
        row.update((f"p_{c}", float(found.proba[k, j])) for j, c in enumerate(found.classes))
        yield row


def write_predictions(
    rows: Iterable[dict[str, object]],
    columns: list[str],
    output: Path | None,
    *,
    total: int | None = None,
) -> None:
    """Write ``rows`` to ``output`` (CSV or JSON Lines by extension; CSV on stdout without one)
    with a progress bar on stderr (on a terminal)."""
    fmt = output_format(output)
    target = nullcontext(sys.stdout) if output is None else atomic_write(output, newline="")
    bar = tqdm(total=total, unit="review", disable=None, file=sys.stderr)
    with target as out, bar:
        write = _csv_writer(out, columns) if fmt == "csv" else _jsonl_writer(out)
        for row in rows:
            write(row)
            bar.update(1)


Writer = Callable[[dict[str, object]], object]


def _csv_writer(out: IO[str], columns: list[str]) -> Writer:
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    return lambda row: writer.writerow({k: csv_cell(row.get(k)) for k in columns})


def _jsonl_writer(out: IO[str]) -> Writer:
    return lambda row: out.write(json.dumps(row, ensure_ascii=False, default=listed) + "\n")
