"""Reading text sources (CSV, TSV, JSON Lines, Parquet, Hugging Face datasets) into records.

Every problem a user can fix raises :class:`TextalError` with one line naming the file, the row
and/or the field. Row numbers (``Record.row`` and every message) are where a person looks:

- CSV/TSV: the spreadsheet row. The header is row 1, the first data row is row 2, a text
  with quoted line breaks is still one row, and a blank line is an empty row;
- JSON Lines: the line number in the file ("line N"); blank lines are allowed and yield nothing;
- Parquet and Hugging Face datasets: the position of the row, counting from 1.

Empty and whitespace-only texts are skipped and counted; so are repeated rows (same id and same
normalised text, the first one wins). Everything else is fatal. Since a bad row can sit at the end
of a file, ingest runs :func:`scan_source` (a full validating pass, nothing kept but the counts)
before streaming the same rows with :func:`read_records`, which validates again as it goes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from textal.data.ids import CONTENT_ID_PREFIX, content_id
from textal.data.label_sets import canonical_label_cell
from textal.data.limits import MAX_ID_BYTES, MAX_TEXT_BYTES
from textal.errors import TextalError, show_value

FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json-lines": "jsonl",
    ".parquet": "parquet",
}
# The csv module counts characters; any text longer than MAX_TEXT_BYTES characters is also longer
# than MAX_TEXT_BYTES bytes, so this limit only ever stops absurd fields (or an unclosed quote).
CSV_FIELD_LIMIT = 16 * (MAX_TEXT_BYTES + 1)
_BATCH_ROWS = 4096
_UTF8_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Record:
    """One valid row: ``id`` is the source's id (stripped) or :func:`content_id` of the text;
    ``text`` is verbatim; ``gold`` is the stripped gold label or ``None``; ``meta`` holds the
    non-empty values of the chosen metadata columns (strings, numbers or booleans)."""

    row: int
    id: str
    text: str
    gold: str | None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class SourceSummary:
    """Counts from one pass over a source. ``rows`` is the number of records yielded and
    ``labels`` counts their gold labels; ``gold_conflicts`` counts skipped duplicates whose gold
    label differs from the kept row's."""

    source: str
    rows: int = 0
    skipped_empty: int = 0
    duplicates: int = 0
    gold_conflicts: int = 0
    labels: Counter[str] = field(default_factory=Counter)


def read_records(
    path: str | Path,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
    meta_columns: Sequence[str] = (),
    summary: SourceSummary | None = None,
    multi_label: bool = False,
) -> Iterator[Record]:
    """Stream the valid records of a CSV, TSV, JSON Lines or Parquet file (chosen by extension).
    ``meta_columns`` are kept as each record's ``meta`` (an empty or missing value is left out).
    With ``multi_label`` the gold cell is a label set (:mod:`textal.data.label_sets`) and
    ``gold`` its canonical cell (``"service;food"`` reads as ``"food;service"``); an empty cell
    still means "no gold label", as in single-label files.

    ``summary``, when given, is updated as the records are read. Memory stays bounded by one batch
    plus one small entry per distinct id (for duplicate detection).
    """
    path = Path(path)
    # Always three values per row; an unused id or label slot just repeats the text column.
    columns = [text_column, id_column or text_column, label_column or text_column, *meta_columns]
    optional = {*meta_columns, *([label_column] if label_column else [])}
    rows = iter_rows(path, columns, optional=optional)
    return _validate(
        rows,
        str(path),
        row_unit(path),
        text_column,
        id_column,
        label_column,
        summary,
        meta_columns,
        multi_label,
    )


def scan_source(
    path: str | Path,
    *,
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
    meta_columns: Sequence[str] = (),
) -> SourceSummary:
    """Validate a whole file and count its rows, keeping none; raises on the first problem."""
    summary = SourceSummary(str(path))
    for _ in read_records(
        path,
        text_column=text_column,
        id_column=id_column,
        label_column=label_column,
        meta_columns=meta_columns,
        summary=summary,
    ):
        pass
    return summary


def read_hf_records(
    name: str,
    *,
    split: str = "train",
    data_files: str | Sequence[str] | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
    summary: SourceSummary | None = None,
) -> Iterator[Record]:
    """Stream the valid records of a Hugging Face dataset split, via ``datasets.load_dataset``.

    ``name`` is a hub id (needs the hub or its local cache), a local dataset folder, or a builder
    such as ``"csv"`` with ``data_files``. A ``ClassLabel`` gold label is mapped to its name
    (``-1``, "no label", to ``None``). Needs the optional ``datasets`` package (``textal[hf]``).
    """
    source = f"{name}[{split}]"
    dataset = _load_hf(name, split, data_files, source)
    columns = [text_column, id_column or text_column, label_column or text_column]
    rows = _hf_rows(dataset, columns, source)
    return _validate(rows, source, "row", text_column, id_column, label_column, summary)


def scan_hf_source(
    name: str,
    *,
    split: str = "train",
    data_files: str | Sequence[str] | None = None,
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
) -> SourceSummary:
    """:func:`scan_source` for a Hugging Face dataset split."""
    summary = SourceSummary(f"{name}[{split}]")
    for _ in read_hf_records(
        name,
        split=split,
        data_files=data_files,
        text_column=text_column,
        id_column=id_column,
        label_column=label_column,
        summary=summary,
    ):
        pass
    return summary


# --- validation shared by every format -------------------------------------------------------


def _validate(
    rows: Iterable[tuple[int, list[Any]]],
    source: str,
    unit: str,
    text_column: str,
    id_column: str | None,
    label_column: str | None,
    summary: SourceSummary | None,
    meta_columns: Sequence[str] = (),
    multi_label: bool = False,
) -> Iterator[Record]:
    summary = summary if summary is not None else SourceSummary(source)
    # 16-byte digest of the id -> (row, 16-byte digest of the normalised text, gold label)
    seen: dict[bytes, tuple[int, bytes, str | None]] = {}
    interned: dict[str, str] = {}
    for row, (text_value, id_value, gold_value, *meta_values) in rows:
        where = f"{source}: {unit} {row}"
        text = _string(text_value, where, text_column)
        if text is None or not text.strip():
            summary.skipped_empty += 1
            continue
        _check_string(text, where, text_column, MAX_TEXT_BYTES)
        item_id = content_id(text)
        text_digest = bytes.fromhex(item_id[len(CONTENT_ID_PREFIX) :])
        if id_column is not None:
            item_id = read_id(id_value, where, id_column)
            _check_string(item_id, where, id_column, MAX_ID_BYTES)
        gold = None
        if label_column is not None:
            gold = read_label(gold_value, where, label_column)
            if gold is not None and multi_label:
                gold = canonical_label_cell(gold) or None
            gold = interned.setdefault(gold, gold) if gold is not None else None
        key = hashlib.blake2b(item_id.encode("utf-8"), digest_size=16).digest()
        first = seen.get(key)
        if first is not None:
            first_row, first_text_digest, first_gold = first
            if first_text_digest != text_digest:
                raise TextalError(
                    f"{source}: {unit}s {first_row} and {row} have the same id "
                    f"{show_value(item_id)} but different texts"
                )
            summary.duplicates += 1
            summary.gold_conflicts += gold != first_gold
            continue
        seen[key] = (row, text_digest, gold)
        summary.rows += 1
        if gold is not None:
            summary.labels[gold] += 1
        meta = {}
        for column, value in zip(meta_columns, meta_values, strict=True):
            kept = _meta_value(value, where, column)
            if kept is not None:
                meta[column] = kept
        yield Record(row, item_id, text, gold, meta)
    if summary.rows == 0:
        if summary.skipped_empty:
            raise TextalError(
                f"{source}: no rows with text ({summary.skipped_empty} empty rows skipped)"
            )
        raise TextalError(f"{source}: no rows")


def read_text(value: Any, where: str, column: str) -> str | None:
    """A text cell checked as ingest checks it: the text verbatim, or ``None`` when it is empty or
    whitespace-only; another type, a NUL, an unpaired surrogate or an oversized text is refused."""
    text = _string(value, where, column)
    if text is None or not text.strip():
        return None
    _check_string(text, where, column, MAX_TEXT_BYTES)
    return text


def _meta_value(value: Any, where: str, column: str) -> str | int | float | bool | None:
    """A metadata value as stored: ``None`` for an empty one, text for a type JSON lacks."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if not isinstance(value, str | int | float | bool):
        value = value.isoformat() if hasattr(value, "isoformat") else str(value)
    if isinstance(value, str):
        _check_string(value, where, column, MAX_TEXT_BYTES)
    return value


def _string(value: Any, where: str, column: str) -> str | None:
    """A text cell: a string, or ``None`` for JSON ``null`` / a Parquet null (counted as empty)."""
    if value is None or isinstance(value, str):
        return value
    raise TextalError(f"{where}: field {show_value(column)} holds {_kind(value)}, not a string")


def read_id(value: Any, where: str, column: str) -> str:
    """An id cell: a string (surrounding whitespace removed) or an integer; never empty."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise TextalError(
            f"{where}: field {show_value(column)} holds {_kind(value)}; ids are strings or integers"
        )
    item_id = (value or "").strip()
    if not item_id:
        raise TextalError(f"{where}: empty id in field {show_value(column)}")
    return item_id


def read_label(value: Any, where: str, column: str) -> str | None:
    """A label cell: a string (stripped) or an integer; empty or null means "no label"."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if value is not None and not isinstance(value, str):
        raise TextalError(
            f"{where}: field {show_value(column)} holds {_kind(value)}; "
            "labels are strings or integers"
        )
    label = (value or "").strip()
    if "\0" in label:
        raise TextalError(f"{where}: field {show_value(column)} contains a NUL character")
    return label or None


def _check_string(value: str, where: str, column: str, max_bytes: int) -> None:
    """Refuse NUL characters, lone surrogates (possible via JSON escapes) and oversized values."""
    if "\0" in value:
        raise TextalError(f"{where}: field {show_value(column)} contains a NUL character")
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise TextalError(
            f"{where}: field {show_value(column)} holds invalid Unicode (an unpaired surrogate)"
        ) from None
    if size > max_bytes:
        raise TextalError(
            f"{where}: field {show_value(column)} is {size:,} bytes long; the limit is "
            f"{max_bytes:,} bytes (UTF-8)"
        )


def _kind(value: Any) -> str:
    kinds = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
    }
    return kinds.get(type(value), f"a {type(value).__name__}")


def _one_line(message: object) -> str:
    return str(message).strip().splitlines()[0] if str(message).strip() else "unknown error"


# --- files: one table layer shared with the label-file reader --------------------------------


def row_unit(path: Path) -> str:
    """What messages call a row of this file: ``"line"`` for JSON Lines, else ``"row"``."""
    return "line" if FORMATS.get(path.suffix.lower()) == "jsonl" else "row"


def iter_rows(
    path: Path, columns: Sequence[str], *, optional: Iterable[str] = ()
) -> Iterator[tuple[int, list[Any]]]:
    """``(row, values of columns)`` for every data row of a file, after the file-level checks.

    CSV values are strings (``""`` when empty), JSON and Parquet values keep their type. Every
    column must exist; in JSON Lines an ``optional`` key may be missing from a line (value
    ``None``) but must occur in some line.
    """
    fmt = _check_file(path)
    try:
        with path.open("rb") as fh:
            if fmt == "parquet":
                yield from _parquet_rows(fh, path, columns)
            elif fmt == "jsonl":
                yield from _jsonl_rows(fh, path, columns, set(optional))
            else:
                yield from _csv_rows(fh, path, columns, "\t" if fmt == "tsv" else ",")
    except OSError as e:
        raise TextalError(f"{path}: cannot read ({e.strerror or _one_line(e)})") from None


def file_columns(path: Path) -> list[str]:
    """The column names of a file: the CSV/TSV header, the keys of the first JSON Lines object,
    the Parquet schema; after the file-level checks (an unreadable first row yields ``[]``)."""
    fmt = _check_file(path)
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return list(pq.read_schema(path).names)
        except Exception:  # pyarrow raises several types for a damaged file: read_records says
            return []
    with path.open("rb") as fh:
        try:
            for line in _text_lines(fh):
                if fmt != "jsonl":
                    names = next(csv.reader([line], delimiter="\t" if fmt == "tsv" else ","), [])
                    return [name.strip() for name in names]
                if line.strip():
                    obj = json.loads(line)
                    return list(obj) if isinstance(obj, dict) else []
        except (_BadBytes, json.JSONDecodeError, csv.Error):
            return []
    return []


def _check_file(path: Path) -> str:
    if not path.exists():
        raise TextalError(f"{path}: no such file")
    if path.is_dir():
        raise TextalError(f"{path}: is a directory, not a file")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(FORMATS)
        raise TextalError(f"{path}: unknown file type {path.suffix or '(none)'!r}; use {known}")
    if path.stat().st_size == 0:
        raise TextalError(f"{path}: file is empty (0 bytes)")
    return fmt


class _BadBytes(Exception):
    """Raised by :func:`_text_lines`; the caller adds the file and row."""


def _text_lines(fh: IO[bytes]) -> Iterator[str]:
    """Decode a file line by line as strict UTF-8, dropping a leading BOM; line ends are kept."""
    offset = 0
    for number, raw in enumerate(fh):
        line = raw
        if number == 0:
            if line.startswith((b"\xff\xfe", b"\xfe\xff")):
                raise _BadBytes("the file is UTF-16 encoded; save it as UTF-8")
            if line.startswith(_UTF8_BOM):
                line = line[len(_UTF8_BOM) :]
                offset = len(_UTF8_BOM)
                if not line:  # a file holding only a BOM
                    return
        nul = line.find(b"\0")
        if nul >= 0:
            raise _BadBytes(f"NUL byte at byte offset {offset + nul}")
        try:
            yield line.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _BadBytes(
                f"invalid UTF-8 at byte offset {offset + e.start} (byte 0x{line[e.start]:02x}); "
                "save the file as UTF-8"
            ) from None
        offset += len(line)


def _csv_rows(
    fh: IO[bytes], path: Path, columns: Sequence[str], delimiter: str
) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(_text_lines(fh), delimiter=delimiter, strict=True)
    row = 1
    header = _next_csv_row(reader, path, row)
    if header is None:
        raise TextalError(f"{path}: file is empty (no header row)")
    if not header:
        raise TextalError(f"{path}: row 1 (header) is blank")
    names = [name.strip() for name in header]
    index = _column_index(names, f"{path}: row 1 (header)", columns)
    while True:
        row += 1
        fields = _next_csv_row(reader, path, row)
        if fields is None:
            return
        if not fields:  # a blank line: an empty row, counted as an empty text
            yield row, ["" for _ in columns]
            continue
        if len(fields) != len(names):
            sep = "tab" if delimiter == "\t" else "comma"
            raise TextalError(
                f"{path}: row {row} has {len(fields)} fields but the header has {len(names)} "
                f"(a missing or extra {sep}, or an unquoted {sep} in a text?)"
            )
        yield row, [fields[i] for i in index]


@contextmanager
def _csv_field_limit(limit: int) -> Iterator[None]:
    """csv's field size limit is process-wide: raise it to ``limit`` only while a row is parsed."""
    previous = csv.field_size_limit()
    csv.field_size_limit(max(previous, limit))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _next_csv_row(reader: Any, path: Path, row: int) -> list[str] | None:
    start_line = reader.line_num + 1
    try:
        with _csv_field_limit(CSV_FIELD_LIMIT):
            return next(reader)
    except StopIteration:
        return None
    except _BadBytes as e:
        raise TextalError(f"{path}: row {row}: {e}") from None
    except csv.Error as e:
        raise TextalError(f"{path}: row {row} (line {start_line}): {_csv_problem(e)}") from None


def _csv_problem(error: csv.Error) -> str:
    message = str(error)
    if "unexpected end of data" in message:
        return "a quoted field is not closed before the end of the file (truncated file?)"
    if "field larger than field limit" in message:
        return (
            f"a field is longer than {CSV_FIELD_LIMIT:,} characters (an unclosed quote?); "
            f"texts are limited to {MAX_TEXT_BYTES:,} bytes"
        )
    if "new-line character seen in unquoted field" in message:
        return "a carriage return inside an unquoted field; quote fields that hold line breaks"
    if "expected after" in message:
        return 'text after a closing quote; a quote inside a quoted field must be doubled ("")'
    return f"malformed CSV ({_one_line(message)})"


def _column_index(names: list[str], where: str, columns: Sequence[str]) -> list[int]:
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name and name in first:
            raise TextalError(
                f"{where}: column {show_value(name)} appears twice "
                f"(columns {first[name] + 1} and {i + 1})"
            )
        first[name] = i
    for column in columns:
        if column not in first:
            existing = ", ".join(show_value(n) for n in names)
            raise TextalError(
                f"{where}: no column {show_value(column)}; the columns are {existing}"
            )
    return [first[column] for column in columns]


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise _DuplicateKey(key)
        obj[key] = value
    return obj


def _jsonl_rows(
    fh: IO[bytes], path: Path, columns: Sequence[str], optional: set[str]
) -> Iterator[tuple[int, list[Any]]]:
    unseen = set(optional)
    objects = 0
    line_no = 0
    lines = _text_lines(fh)
    while True:
        line_no += 1
        where = f"{path}: line {line_no}"
        try:
            line = next(lines)
        except StopIteration:
            break
        except _BadBytes as e:
            raise TextalError(f"{where}: {e}") from None
        if not line.strip():
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            problem = e.msg.removesuffix(" at")  # "Unterminated string starting at"
            raise TextalError(f"{where}: invalid JSON ({problem} at column {e.colno})") from None
        except _DuplicateKey as e:
            raise TextalError(f"{where}: key {show_value(str(e.args[0]))} appears twice") from None
        if not isinstance(obj, dict):
            raise TextalError(f"{where}: expected a JSON object {{...}}, found {_kind(obj)}")
        for column in columns:
            if column not in obj and column not in optional:
                keys = ", ".join(show_value(k) for k in obj) or "none"
                raise TextalError(f"{where}: no field {show_value(column)}; the fields are {keys}")
        unseen.difference_update(obj)
        objects += 1
        yield line_no, [obj.get(column) for column in columns]
    if unseen and objects:
        missing = ", ".join(show_value(c) for c in sorted(unseen))
        raise TextalError(f"{path}: no line has the field {missing}")


def _parquet_rows(
    fh: IO[bytes], path: Path, columns: Sequence[str]
) -> Iterator[tuple[int, list[Any]]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(fh)
    except (pa.ArrowException, ValueError) as e:
        raise TextalError(f"{path}: not a readable Parquet file ({_one_line(e)})") from None
    schema = parquet.schema_arrow
    _column_index(list(schema.names), str(path), columns)
    wanted = list(dict.fromkeys(columns))
    for name in wanted:
        _check_arrow_type(schema.field(name).type, path, name)
    row = 0
    batches = parquet.iter_batches(batch_size=_BATCH_ROWS, columns=wanted)
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except (pa.ArrowException, OSError) as e:
            raise TextalError(
                f"{path}: rows after {row}: cannot read ({_one_line(e)}); the file may be damaged"
            ) from None
        values = {name: _arrow_values(batch.column(name), path, name, row) for name in wanted}
        for i in range(batch.num_rows):
            row += 1
            yield row, [values[column][i] for column in columns]


def _check_arrow_type(arrow_type: Any, path: Path, column: str) -> None:
    import pyarrow.types as pat

    if pat.is_dictionary(arrow_type):
        arrow_type = arrow_type.value_type
    if not (
        pat.is_string(arrow_type) or pat.is_large_string(arrow_type) or pat.is_integer(arrow_type)
    ):
        raise TextalError(
            f"{path}: column {show_value(column)} has type {arrow_type}; "
            "expected strings or integers"
        )


def _arrow_values(array: Any, path: Path, column: str, before: int) -> list[Any]:
    try:
        return array.to_pylist()
    except UnicodeDecodeError:
        for i in range(len(array)):
            try:
                array[i].as_py()
            except UnicodeDecodeError:
                raise TextalError(
                    f"{path}: row {before + i + 1}: field {show_value(column)} holds invalid UTF-8"
                ) from None
        raise


# --- Hugging Face datasets -------------------------------------------------------------------


def _load_hf(name: str, split: str, data_files: str | Sequence[str] | None, source: str) -> Any:
    try:
        import datasets
    except ImportError:
        raise TextalError(
            f"{source}: reading Hugging Face datasets needs the 'datasets' package: "
            "pip install 'textal[hf]'"
        ) from None
    try:
        return datasets.load_dataset(name, split=split, data_files=data_files)
    except Exception as e:  # the library raises many types: missing, offline, bad split, ...
        raise TextalError(f"{source}: cannot load the dataset ({_one_line(e)})") from None


def _hf_rows(dataset: Any, columns: Sequence[str], source: str) -> Iterator[tuple[int, list[Any]]]:
    import datasets

    names = list(dataset.column_names)
    for column in columns:
        if column not in names:
            existing = ", ".join(show_value(n) for n in names)
            raise TextalError(
                f"{source}: no column {show_value(column)}; the columns are {existing}"
            )
    wanted = list(dict.fromkeys(columns))
    class_names: dict[str, list[str]] = {}
    for name in wanted:
        feature = dataset.features[name]
        if isinstance(feature, datasets.ClassLabel):
            class_names[name] = feature.names
        elif not isinstance(feature, datasets.Value) or not (
            feature.dtype in ("string", "large_string") or "int" in feature.dtype
        ):
            raise TextalError(
                f"{source}: column {show_value(name)} holds {feature}; expected strings or integers"
            )
    row = 0
    for batch in dataset.select_columns(wanted).iter(batch_size=_BATCH_ROWS):
        for name, labels in class_names.items():
            batch[name] = [labels[v] if v is not None and v >= 0 else None for v in batch[name]]
        for values in zip(*(batch[column] for column in columns), strict=True):
            row += 1
            yield row, list(values)
