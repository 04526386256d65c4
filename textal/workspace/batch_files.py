"""Batch and export files for people: CSV made safe for spreadsheets, JSONL kept verbatim."""

from __future__ import annotations

import csv
import json
import os
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path

from textal.textsafe import spreadsheet_safe


def write_atomic_rows(path: Path, header: Sequence[str], rows: Iterable[dict]) -> None:
    """Write ``rows`` as CSV (cells neutralised against formula injection) and as JSONL beside it
    (``path.with_suffix('.jsonl')``, values verbatim). Each file appears whole or not at all."""
    rows = list(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    csv_tmp = private_tmp(path)
    with open(csv_tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(header), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _csv_cell(row.get(k)) for k in header})
    jsonl = path.with_suffix(".jsonl")
    jsonl_tmp = private_tmp(jsonl)
    with open(jsonl_tmp, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(csv_tmp, path)
    os.replace(jsonl_tmp, jsonl)


def private_tmp(path: Path) -> Path:
    """A temporary file beside ``path`` that no other process or thread writes at the same time."""
    return path.with_name(f"{path.name}.{os.getpid()}-{threading.get_ident()}.tmp")


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, int):
        return str(value)  # numbers are data, not formulas
    if isinstance(value, (list, dict)):
        value = json.dumps(value, ensure_ascii=False)
    return spreadsheet_safe(str(value))
