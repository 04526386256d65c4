"""Batch and export files for people: CSV made safe for spreadsheets, JSONL kept verbatim."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from textal.data.label_sets import NONE_CELL, join_label_set
from textal.errors import TextalError
from textal.fsio import atomic_files, check_targets
from textal.ledger import Selection
from textal.store import VectorStore
from textal.textsafe import spreadsheet_safe

BATCH_HEADER = [
    "id", "label", "text", "predicted", "top1", "p1", "top2", "p2", "score", "why",
]  # fmt: skip
WHY_TEXT_CHARS = 80


def row_file_paths(path: Path) -> tuple[Path, Path]:
    """The CSV file and the JSONL file beside it that :func:`write_atomic_rows` writes for
    ``path``; both are checked (:func:`textal.fsio.check_targets`) before anything is computed.

    ``path`` names the CSV file; a name ending in ``.jsonl`` is refused, since the CSV and the
    JSONL file would then be the same file."""
    path = Path(path)
    if path.suffix.casefold() == ".jsonl":
        raise TextalError(
            f"refusing to write CSV to {path}: name the .csv file, the .jsonl file is "
            f"written beside it ({path.with_suffix('.csv').name} and {path.name})"
        )
    paths = (path, path.with_suffix(".jsonl"))
    check_targets(paths)
    return paths


def write_atomic_rows(path: Path, header: Sequence[str], rows: Iterable[dict]) -> None:
    """Write ``rows`` as CSV (cells neutralised against formula injection) and as JSONL beside it
    (``path.with_suffix('.jsonl')``, values verbatim). Both targets are checked before either is
    written; each file appears whole or not at all (:mod:`textal.fsio`)."""
    with atomic_files(row_file_paths(path), newline="") as (csv_file, jsonl_file):
        writer = csv.DictWriter(csv_file, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(row.get(k)) for k in header})
            jsonl_file.write(json.dumps(row, ensure_ascii=False, default=listed) + "\n")


def listed(value: object) -> list[str]:
    """A label set in JSON (``json.dumps(..., default=listed)``): its names as a sorted list."""
    if isinstance(value, frozenset):
        return sorted(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def csv_cell(value: object) -> str:
    """A CSV cell: floats to 4 decimals, lists and dicts as JSON, a label set as its names
    joined by ``;`` (the empty set: :data:`~textal.data.label_sets.NONE_CELL`), text
    neutralised against formulas
    (:func:`textal.textsafe.spreadsheet_safe`)."""
    if value is None:
        return ""
    if isinstance(value, frozenset):
        value = join_label_set(value) or NONE_CELL
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return str(value)  # numbers are data, not formulas
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False, default=listed)
    return spreadsheet_safe(str(value))


def write_batch(
    path: Path,
    selections: Sequence[Selection],
    store: VectorStore,
    *,
    label_names: Sequence[str] | None = None,
) -> None:
    """A round's batch for people, ``path`` (CSV) and its JSONL: each selection's text, the
    model's top two classes, its score and its nearest labeled reviews (the "why", led by the
    label a probe was asked for), with an empty ``label`` column to fill in.

    ``label_names`` (a multi-label workspace's labels): an empty ``labels`` column instead, the
    predicted set (``predicted``, names joined by ``;``) and one ``p_<label>`` column per label
    with its presence probability, in place of the top two."""
    neighbour_ids = list({n.item_id for s in selections for n in s.why})
    texts = {item.id: item.text for item in store.get(neighbour_ids)}
    items = {item.id: item for item in store.get([s.item_id for s in selections])}
    rows = []
    for s in selections:
        why = " | ".join(
            ([f"asked for {s.probe}: no label yet"] if s.probe is not None else [])
            + [
                f"{n.label} ({n.similarity:.2f}): {_snippet(texts.get(n.item_id, ''))}"
                for n in s.why
            ]
        )
        if label_names is not None:
            every = {c.label: c.probability for c in s.probabilities}
            rows.append(
                {
                    "id": s.item_id,
                    "labels": "",
                    "text": items[s.item_id].text,
                    "predicted": s.predicted,
                    **{f"p_{name}": every.get(name) for name in label_names},
                    "score": s.score,
                    "why": why,
                }
            )
            continue
        top = [*s.top2, None, None]
        rows.append(
            {
                "id": s.item_id,
                "label": "",
                "text": items[s.item_id].text,
                "predicted": s.predicted,
                "top1": top[0].label if top[0] else None,
                "p1": top[0].probability if top[0] else None,
                "top2": top[1].label if top[1] else None,
                "p2": top[1].probability if top[1] else None,
                "score": s.score,
                "why": why,
            }
        )
    header = BATCH_HEADER
    if label_names is not None:
        header = ["id", "labels", "text", "predicted", *(f"p_{n}" for n in label_names)]
        header += ["score", "why"]
    write_atomic_rows(path, header, rows)


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= WHY_TEXT_CHARS else flat[: WHY_TEXT_CHARS - 1] + "…"
