"""Reading a file of human labels for import: rows of ``id`` and ``label``.

Any file :func:`~textal.data.readers.read_records` can read works (CSV, TSV, JSON Lines, Parquet),
typically a batch textal exported and a person filled in. Other columns (text, predicted label,
scores) are ignored. Row numbers follow :mod:`textal.data.readers`: in CSV the header is row 1.
Whether the ids exist and the labels belong to the label set is for the caller to check.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textal.data.readers import FORMATS, iter_rows, read_id, read_label, row_unit
from textal.errors import TextalError, show_value
from textal.textsafe import undo_spreadsheet_safe


@dataclass(frozen=True, slots=True)
class LabelRow:
    """One labeled row of the file; ``row`` counts as in the readers' messages."""

    row: int
    id: str
    label: str


def read_label_rows(
    path: str | Path, *, id_column: str = "id", label_column: str = "label"
) -> list[LabelRow]:
    """The labeled rows of ``path``, in file order.

    Rows whose label is empty or missing are skipped: not labeled yet. An id given two different
    labels is refused naming both rows (which one a person meant cannot be guessed); the same
    label repeated is kept, and recorded once. Ids and labels are stripped
    and, in CSV and TSV files, the ``'`` that :func:`~textal.textsafe.spreadsheet_safe` put in
    front of an exported cell is removed, so an exported id such as ``'-12`` reads back as
    ``-12``. JSON Lines and Parquet are read verbatim: textal writes them unneutralised.
    """
    path = Path(path)
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
                f"different labels ({show_value(earlier.label)} and {show_value(entry.label)})"
            )
        labeled.append(entry)
    return labeled
