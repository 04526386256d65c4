"""Batch and export files for people: CSV made safe for spreadsheets, JSONL kept verbatim."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from textal.errors import TextalError
from textal.fsio import atomic_files, check_targets
from textal.textsafe import spreadsheet_safe


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
            jsonl_file.write(json.dumps(row, ensure_ascii=False) + "\n")


def csv_cell(value: object) -> str:
    """A CSV cell: floats to 4 decimals, lists and dicts as JSON, text neutralised against
    formulas (:func:`textal.textsafe.spreadsheet_safe`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return str(value)  # numbers are data, not formulas
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return spreadsheet_safe(str(value))
