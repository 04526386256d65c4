"""Reading a file of human labels for import: rows of ``id`` and ``label`` (``labels``, a label
set, in a multi-label workspace).

A ``labels`` cell holds names joined by ``;`` (``food;service``) in CSV and TSV, a list of names
(or that string) in JSON Lines and Parquet. An empty cell is "not labeled yet", as for
``label``, so a batch file's untouched rows are skipped; "none of these" (the empty set) is a
cell holding only ``;`` in CSV/TSV, and ``[]`` in JSON Lines.

Any file :func:`~textal.data.readers.read_records` can read works (CSV, TSV, JSON Lines, Parquet),
typically a batch textal exported and a person filled in. Other columns (text, predicted label,
scores) are ignored. Row numbers follow :mod:`textal.data.readers`: in CSV the header is row 1.
Whether the ids exist and the labels belong to the label set is for the caller to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textal.data.label_sets import SEP
from textal.data.readers import FORMATS, iter_rows, read_id, read_label, row_unit
from textal.errors import TextalError, show_value
from textal.textsafe import undo_spreadsheet_safe


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One labeled row of the file; ``row`` counts as in the readers' messages."""

    row: int
    id: str
    label: str | frozenset[str]


def read_label_rows(
    path: str | Path,
    *,
    id_column: str = "id",
    label_column: str | None = None,
    multi_label: bool = False,
) -> list[LabelRow]:
    """The labeled rows of ``path``, in file order. ``label_column`` defaults to ``label``, or
    with ``multi_label`` to ``labels``, whose rows then hold label sets (``frozenset``).

    Rows whose label is empty or missing are skipped: not labeled yet. An id given two different
    labels is refused naming both rows (which one a person meant cannot be guessed); the same
    label repeated is kept, and recorded once. Ids and labels are stripped
    and, in CSV and TSV files, the ``'`` that :func:`~textal.textsafe.spreadsheet_safe` put in
    front of an exported cell is removed, so an exported id such as ``'-12`` reads back as
    ``-12``. JSON Lines and Parquet are read verbatim: textal writes them unneutralised.
    """
    path = Path(path)
    label_column = label_column or ("labels" if multi_label else "label")
    unit = row_unit(path)
    spreadsheet = FORMATS.get(path.suffix.lower()) in ("csv", "tsv")

    def cell(value: str) -> str:
        value = value.strip()
        return undo_spreadsheet_safe(value) if spreadsheet else value

    labeled = []
    first: dict[str, LabelRow] = {}
    for row, (id_value, label_value) in iter_rows(
        path, [id_column, label_column], optional={label_column}
    ):
        where = f"{path}: {unit} {row}"
        if isinstance(label_value, str):
            label_value = cell(label_value)
        label: str | frozenset[str] | None
        if multi_label:
            label = read_label_set(label_value, where, label_column)
        else:
            label = read_label(label_value, where, label_column)
        if label is None:
            continue
        if isinstance(id_value, str):
            id_value = cell(id_value)
        entry = LabelRow(row, read_id(id_value, where, id_column), label)
        earlier = first.setdefault(entry.id, entry)
        if earlier.label != entry.label:
            raise TextalError(
                f"{path}: {unit}s {earlier.row} and {row} give id {show_value(entry.id)} "
                f"different labels ({_shown(earlier.label)} and {_shown(entry.label)})"
            )
        labeled.append(entry)
    return labeled


def read_label_set(value: Any, where: str, column: str) -> frozenset[str] | None:
    """A ``labels`` cell as a set: ``"food;service"`` or ``["food", "service"]``; ``";"`` or
    ``[]`` is the empty set ("none of these"); empty or null is ``None`` (not labeled yet)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        parts: list[Any] = text.split(SEP)
    elif isinstance(value, list):
        parts = value
    elif value is None:
        return None
    else:
        raise TextalError(
            f"{where}: field {show_value(column)} holds {type(value).__name__}; a label set is "
            "names joined by ';' or a list of names"
        )
    names = set()
    for part in parts:
        if not isinstance(part, str):
            raise TextalError(f"{where}: field {show_value(column)}: labels are strings")
        name = read_label(part, where, column)
        if name is not None:
            if SEP in name:
                raise TextalError(f"{where}: field {show_value(column)}: a label holds ';'")
            names.add(name)
    return frozenset(names)


def _shown(label: str | frozenset[str]) -> str:
    if isinstance(label, frozenset):
        return show_value(SEP.join(sorted(label)))
    return show_value(label)
