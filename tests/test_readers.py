"""Reading sources: real data, every bad input (one clear line naming file and row), round trips."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.realdata import DATA_DIR, require_data
from textal.data.ids import content_id, normalize_text
from textal.data.limits import MAX_ID_BYTES, MAX_TEXT_BYTES
from textal.data.readers import (
    Record,
    read_hf_records,
    read_records,
    scan_hf_source,
    scan_source,
)
from textal.errors import TextalError


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def error(path: Path, **kwargs: object) -> str:
    """The message of the TextalError that scanning ``path`` raises; checks it is one line."""
    with pytest.raises(TextalError) as info:
        scan_source(path, **kwargs)
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert str(path) in message
    return message


# --- ids ---------------------------------------------------------------------------------------


def test_content_id_is_pinned_and_ignores_only_normalisation() -> None:
    # Pinned: changing the hash changes every stored id of every existing workspace.
    assert content_id("hello world") == "h:b94d27b9934d3e08a52e52d7da7dabfa"
    assert content_id("  hello \r\n\t world ") == content_id("hello world")
    assert content_id("caf\u00e9") == content_id("cafe\u0301")  # NFC
    assert content_id("Hello world") != content_id("hello world")
    assert normalize_text(" a \u00a0 b\n") == "a b"
    assert normalize_text(" \t\r\n ") == ""


# --- real data ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "rows", "duplicates"),
    [("uci_sentiment_labelled/amazon.csv", 990, 10), ("cr_customer_reviews/all.csv", 3765, 6)],
)
def test_real_csv(name: str, rows: int, duplicates: int) -> None:
    path = DATA_DIR / name
    require_data(path)
    label_names = json.loads((path.parent / "labels.json").read_text())["label_names"]
    summary = scan_source(path, label_column="label")
    assert (summary.rows, summary.duplicates, summary.skipped_empty) == (rows, duplicates, 0)
    assert sorted(summary.labels) == sorted(label_names)
    records = list(read_records(path, label_column="label"))
    with path.open(newline="", encoding="utf-8") as fh:
        expected = list(csv.DictReader(fh))
    assert len(records) == rows == len(expected) - duplicates
    for record in records:
        source = expected[record.row - 2]  # the header is row 1
        assert (record.text, record.gold) == (source["text"], source["label"])
        assert record.id == content_id(record.text)
    assert len({r.id for r in records}) == rows


# --- good inputs -------------------------------------------------------------------------------


def test_bom_crlf_quoted_newline_and_skips(tmp_path: Path) -> None:
    content = (
        '\ufeffid,text,label\r\n1,"two\r\nlines, quoted",pos\r\n2,   ,neg\r\n\r\n'
        "3,plain,\r\n4,plain,neg\r\n5,  plain ,\r\n"
    )
    path = write(tmp_path / "a.csv", content)
    summary = scan_source(path, id_column="id", label_column="label")
    assert (summary.rows, summary.skipped_empty, summary.duplicates) == (4, 2, 0)
    assert summary.labels == {"pos": 1, "neg": 1}
    assert list(read_records(path, id_column="id", label_column="label")) == [
        Record(2, "1", "two\r\nlines, quoted", "pos"),
        Record(5, "3", "plain", None),
        Record(6, "4", "plain", "neg"),
        Record(7, "5", "  plain ", None),
    ]


def test_duplicates_without_ids_are_skipped_and_counted(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text,label\nsame,a\n  same ,b\nother,a\nsame,a\n")
    summary = scan_source(path, label_column="label")
    assert (summary.rows, summary.duplicates, summary.gold_conflicts) == (2, 2, 1)
    assert [r.row for r in read_records(path)] == [2, 4]


def test_same_id_same_text_is_a_duplicate(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\nx,hello\ny,hello\nx,hello\n")
    summary = scan_source(path, id_column="id")
    assert (summary.rows, summary.duplicates) == (2, 1)


def test_tsv_and_integer_json_ids(tmp_path: Path) -> None:
    tsv = write(tmp_path / "a.tsv", 'id\ttext\n7\t"a, b"\n')
    assert list(read_records(tsv, id_column="id")) == [Record(2, "7", "a, b", None)]
    jsonl = write(tmp_path / "a.ndjson", '{"id": 7, "text": "a", "label": 1}\n\n')
    assert list(read_records(jsonl, id_column="id", label_column="label")) == [
        Record(1, "7", "a", "1")
    ]


def test_limits_are_inclusive(tmp_path: Path) -> None:
    long_text, long_id = "é" * (MAX_TEXT_BYTES // 2) + "a", "i" * MAX_ID_BYTES
    path = write(tmp_path / "a.csv", f"id,text\n{long_id},{long_text}\n")
    assert [r.text for r in read_records(path, id_column="id")] == [long_text]


def test_parquet_batches_nulls_and_dictionary_strings(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    n = 5000  # more than one batch
    texts = [f"text {i}" if i % 1000 else None for i in range(n)]
    table = pa.table(
        {
            "text": pa.array(texts).dictionary_encode(),
            "id": pa.array(range(n), pa.int64()),
            "label": [["a", "b"][i % 2] for i in range(n)],
        }
    )
    pq.write_table(table, tmp_path / "a.parquet", row_group_size=1500)
    summary = scan_source(tmp_path / "a.parquet", id_column="id", label_column="label")
    assert (summary.rows, summary.skipped_empty) == (n - 5, 5)
    records = list(read_records(tmp_path / "a.parquet", id_column="id", label_column="label"))
    assert records[-1] == Record(n, str(n - 1), f"text {n - 1}", ["a", "b"][(n - 1) % 2])


# --- scan before stream ------------------------------------------------------------------------


def test_a_bad_last_row_is_found_by_the_scan_before_any_record(tmp_path: Path) -> None:
    rows = "".join(f"good {i}\n" for i in range(100))
    path = write(tmp_path / "a.csv", "text\n" + rows + '"unterminated\n')
    assert "row 102 (line 102)" in error(path)
    stream = read_records(path)
    assert next(stream).row == 2  # streaming alone would have handed out rows first
    with pytest.raises(TextalError):
        list(stream)


# --- bad inputs: file level --------------------------------------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    assert error(tmp_path / "nope.csv").endswith("nope.csv: no such file")


def test_directory(tmp_path: Path) -> None:
    (tmp_path / "d.csv").mkdir()
    assert "is a directory" in error(tmp_path / "d.csv")


@pytest.mark.parametrize("name", ["a.xlsx", "a.json", "noext"])
def test_unknown_extension(tmp_path: Path, name: str) -> None:
    message = error(write(tmp_path / name, "text\nx\n"))
    assert "unknown file type" in message and ".csv" in message and ".parquet" in message


@pytest.mark.parametrize("name", ["a.csv", "a.jsonl", "a.parquet"])
def test_empty_file(tmp_path: Path, name: str) -> None:
    assert "file is empty (0 bytes)" in error(write(tmp_path / name, b""))


def test_bom_only_and_blank_header(tmp_path: Path) -> None:
    assert "file is empty" in error(write(tmp_path / "a.csv", b"\xef\xbb\xbf"))
    assert "row 1 (header) is blank" in error(write(tmp_path / "b.csv", "\ntext\nx\n"))


def test_header_only(tmp_path: Path) -> None:
    assert "no rows" in error(write(tmp_path / "a.csv", "text,label\r\n"))


def test_only_empty_rows(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", 'text\n""\n  \n'))
    assert "no rows with text (2 empty rows skipped)" in message


def test_unknown_column_lists_the_columns(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", "body,label\nx,y\n"))
    assert "row 1 (header): no column 'text'; the columns are 'body', 'label'" in message
    message = error(write(tmp_path / "b.csv", "text\nx\n"), id_column="id")
    assert "no column 'id'" in message


def test_missing_header_is_reported_as_unknown_columns(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", "great phone,positive\nbad,negative\n"))
    assert "no column 'text'; the columns are 'great phone', 'positive'" in message


def test_duplicated_header(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", "text,label,text\nx,y,z\n"))
    assert "row 1 (header): column 'text' appears twice (columns 1 and 3)" in message


def test_truncated_mid_row(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", 'text,label\nok,a\n"cut off here\nand more'))
    assert "row 3 (line 3): a quoted field is not closed before the end of the file" in message


def test_stray_quote(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", 'text\nok\n"quoted" then more\n'))
    assert "row 3 (line 3): text after a closing quote" in message


def test_bare_carriage_return(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", "text\nok\nold\rmac\n"))
    assert "row 3 (line 3): a carriage return inside an unquoted field" in message


def test_wrong_field_count(tmp_path: Path) -> None:
    message = error(write(tmp_path / "a.csv", "text,label\nok,a\nhello, world,b\n"))
    assert "row 3 has 3 fields but the header has 2" in message


def test_invalid_utf8_names_row_and_byte_offset(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"text\nok\ncaf\xe9\n")
    message = error(path)
    assert "row 3: invalid UTF-8 at byte offset 11 (byte 0xe9)" in message


def test_mixed_encodings(tmp_path: Path) -> None:
    utf8 = "text\ncafé\nnaïve\n".encode()
    path = write(tmp_path / "a.csv", utf8 + "déjà vu\n".encode("cp1252"))
    assert f"row 4: invalid UTF-8 at byte offset {len(utf8) + 1}" in error(path)


def test_invalid_utf8_after_bom_counts_the_bom(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", b"\xef\xbb\xbftext\n\xff\n")
    assert "row 2: invalid UTF-8 at byte offset 8" in error(path)


def test_utf16(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\nhello\n".encode("utf-16"))
    assert "row 1: the file is UTF-16 encoded; save it as UTF-8" in error(path)


def test_nul_byte(tmp_path: Path) -> None:
    assert "row 3: NUL byte at byte offset 9" in error(
        write(tmp_path / "a.csv", b"text\nok\nx\0\n")
    )


def test_oversized_text_is_reported_as_such(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text\nok\n" + "a" * (MAX_TEXT_BYTES + 1) + "\n")
    message = error(path)
    assert "row 3: field 'text' is 65,536 bytes long; the limit is 65,535 bytes" in message
    path = write(tmp_path / "b.csv", "text\n" + "€" * (MAX_TEXT_BYTES // 3 + 1) + "\n")
    assert "row 2: field 'text' is 65,538 bytes long" in error(path)


def test_absurdly_long_field(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'text\n"' + "a" * (20 * MAX_TEXT_BYTES))
    assert "row 2 (line 2): a field is longer than" in error(path)


def test_oversized_and_empty_ids(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", f"id,text\n{'é' * (MAX_ID_BYTES // 2 + 1)},x\n")
    assert "row 2: field 'id' is 514 bytes long; the limit is 512" in error(path, id_column="id")
    path = write(tmp_path / "b.csv", "id,text\na,x\n  ,y\n")
    assert "row 3: empty id in field 'id'" in error(path, id_column="id")


def test_duplicate_ids_with_different_texts_name_both_rows(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "id,text\na,x\nb,y\na,z\n")
    message = error(path, id_column="id")
    assert "rows 2 and 4 have the same id 'a' but different texts" in message


# --- bad inputs: JSON Lines --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "kind"),
    [("3", "a number"), ("[1]", "a list"), ('{"a": "b"}', "an object"), ("true", "a boolean")],
)
def test_jsonl_non_string_text(tmp_path: Path, value: str, kind: str) -> None:
    path = write(tmp_path / "a.jsonl", f'{{"text": "ok"}}\n{{"text": {value}}}\n')
    assert f"line 2: field 'text' holds {kind}, not a string" in error(path)


def test_jsonl_invalid_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n\n{"text": "b",}\n')
    assert (
        "line 3: invalid JSON (Expecting property name enclosed in double quotes at column 14)"
        in error(path)
    )


def test_jsonl_truncated_last_line(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{"text": "b')
    assert "line 2: invalid JSON (Unterminated string" in error(path)


def test_jsonl_not_an_object(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '["text", "a"]\n')
    assert "line 1: expected a JSON object {...}, found a list" in error(path)


def test_jsonl_duplicate_key(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a", "text": "b"}\n')
    assert "line 1: key 'text' appears twice" in error(path)


def test_jsonl_missing_field(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{"body": "b", "n": 1}\n')
    assert "line 2: no field 'text'; the fields are 'body', 'n'" in error(path)


def test_jsonl_label_field_nowhere(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a"}\n{"text": "b", "lable": "x"}\n')
    assert "no line has the field 'label'" in error(path, label_column="label")


def test_jsonl_null_text_is_empty_and_missing_label_is_none(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl", '{"text": null}\n{"text": "a"}\n{"text": "b", "label": "x"}\n'
    )
    summary = scan_source(path, label_column="label")
    assert (summary.rows, summary.skipped_empty, summary.labels) == (2, 1, {"x": 1})


def test_jsonl_escaped_nul_and_surrogate(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"text": "a\\u0000b"}\n')
    assert "line 1: field 'text' contains a NUL character" in error(path)
    path = write(tmp_path / "b.jsonl", '{"text": "a\\ud800b"}\n')
    assert "line 1: field 'text' holds invalid Unicode" in error(path)


def test_jsonl_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", b'{"text": "a"}\n{"text": "\xc3("}\n')
    assert "line 2: invalid UTF-8 at byte offset 24" in error(path)


def test_jsonl_bad_id_type(tmp_path: Path) -> None:
    path = write(tmp_path / "a.jsonl", '{"id": 1.5, "text": "a"}\n')
    assert "line 1: field 'id' holds a number; ids are strings or integers" in error(
        path, id_column="id"
    )


# --- bad inputs: Parquet -----------------------------------------------------------------------


def test_parquet_problems(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    assert "not a readable Parquet file" in error(write(tmp_path / "a.parquet", "text\nx\n"))
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "b.parquet")
    message = error(tmp_path / "b.parquet")
    assert message == f"{tmp_path / 'b.parquet'}: no column 'text'; the columns are 'body'"
    pq.write_table(pa.table({"text": [1.5]}), tmp_path / "c.parquet")
    assert "column 'text' has type double; expected strings" in error(tmp_path / "c.parquet")
    pq.write_table(pa.table({"text": [1]}), tmp_path / "d.parquet")
    assert "row 1: field 'text' holds a number, not a string" in error(tmp_path / "d.parquet")


def test_parquet_invalid_utf8_names_the_row(tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    offsets = pa.array([0, 2, 4, 7], pa.int32()).buffers()[1]
    texts = pa.Array.from_buffers(pa.string(), 3, [None, offsets, pa.py_buffer(b"okokba\xff")])
    pq.write_table(pa.table({"text": texts}), tmp_path / "a.parquet")
    assert "row 3: field 'text' holds invalid UTF-8" in error(tmp_path / "a.parquet")


# --- Hugging Face datasets ---------------------------------------------------------------------


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", tmp_path / "hf-cache")


@pytest.mark.usefixtures("hf_cache")
def test_hf_class_label_names(tmp_path: Path) -> None:
    import datasets

    features = datasets.Features(
        {"sentence": datasets.Value("string"), "y": datasets.ClassLabel(names=["neg", "pos"])}
    )
    data = {"sentence": ["good", "bad", "meh", " "], "y": [1, 0, -1, 0]}
    datasets.Dataset.from_dict(data, features=features).to_parquet(tmp_path / "d.parquet")
    records = read_hf_records(
        "parquet",
        data_files=str(tmp_path / "d.parquet"),
        text_column="sentence",
        label_column="y",
    )
    assert [(r.row, r.text, r.gold) for r in records] == [
        (1, "good", "pos"),
        (2, "bad", "neg"),
        (3, "meh", None),
    ]
    summary = scan_hf_source(
        "parquet",
        data_files=str(tmp_path / "d.parquet"),
        text_column="sentence",
        label_column="y",
    )
    assert (summary.rows, summary.skipped_empty, summary.labels) == (3, 1, {"pos": 1, "neg": 1})


@pytest.mark.usefixtures("hf_cache")
def test_hf_csv_reads_like_the_file_reader() -> None:
    path = DATA_DIR / "uci_sentiment_labelled/yelp.csv"
    require_data(path)
    from_hf = read_hf_records("csv", data_files=str(path), label_column="label")
    from_file = read_records(path, label_column="label")
    assert [(r.row + 1, r.id, r.text, r.gold) for r in from_hf] == [
        (r.row, r.id, r.text, r.gold) for r in from_file
    ]


@pytest.mark.usefixtures("hf_cache")
def test_hf_errors(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "text,label\nx,1\n")
    with pytest.raises(TextalError, match=r"^csv\[test\]: cannot load the dataset \(.*test"):
        list(read_hf_records("csv", split="test", data_files=str(path)))
    with pytest.raises(TextalError, match=r"no column 'body'; the columns are 'text', 'label'"):
        list(read_hf_records("csv", data_files=str(path), text_column="body"))


def test_hf_without_datasets_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "datasets", None)
    with pytest.raises(TextalError, match=r"pip install 'textal\[hf\]'"):
        list(read_hf_records("imdb"))


# --- properties --------------------------------------------------------------------------------

_TRICKY = st.sampled_from(['"', ",", "\n", "\r", " ", "\t", "\ufeff", "\u2028", "é", "'"])
_TEXTS = st.lists(
    st.text(
        st.one_of(_TRICKY, st.characters(exclude_categories=["Cs"], exclude_characters="\0")),
        max_size=30,
    ),
    min_size=1,
    max_size=12,
)
_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def expected_records(texts: list[str], first_row: int, with_ids: bool) -> list[Record]:
    """The records a reader must return: non-blank texts, the first of each content id."""
    records, seen = [], set()
    for i, text in enumerate(texts):
        item_id = f"r{i}" if with_ids else content_id(text)
        if text.strip() and item_id not in seen:
            seen.add(item_id)
            records.append(Record(first_row + i, item_id, text, None))
    return records


@_PROPERTY
@given(texts=_TEXTS, bom=st.booleans(), crlf=st.booleans(), with_ids=st.booleans())
def test_csv_round_trip(
    tmp_path: Path, texts: list[str], bom: bool, crlf: bool, with_ids: bool
) -> None:
    buffer = io.StringIO()
    # With "\n" line ends csv.writer leaves a lone "\r" unquoted, which no reader can tell from a
    # line end (test_bare_carriage_return), so LF files are written fully quoted.
    lf = {"lineterminator": "\n", "quoting": csv.QUOTE_ALL}
    writer = csv.writer(buffer, **({} if crlf else lf))
    writer.writerow(["id", "text"])
    writer.writerows([f"r{i}", text] for i, text in enumerate(texts))
    path = write(tmp_path / "p.csv", ("\ufeff" if bom else "") + buffer.getvalue())
    expected = expected_records(texts, 2, with_ids)
    if not expected:
        with pytest.raises(TextalError, match="no rows with text"):
            scan_source(path)
        return
    id_column = "id" if with_ids else None
    summary = scan_source(path, id_column=id_column)
    assert summary.rows + summary.skipped_empty + summary.duplicates == len(texts)
    assert list(read_records(path, id_column=id_column)) == expected


@_PROPERTY
@given(texts=_TEXTS, bom=st.booleans(), crlf=st.booleans(), ascii_only=st.booleans())
def test_jsonl_round_trip(
    tmp_path: Path, texts: list[str], bom: bool, crlf: bool, ascii_only: bool
) -> None:
    lines = [
        json.dumps({"id": f"r{i}", "text": t}, ensure_ascii=ascii_only) for i, t in enumerate(texts)
    ]
    content = ("\r\n" if crlf else "\n").join(lines)
    path = write(tmp_path / "p.jsonl", ("\ufeff" if bom else "") + content)
    expected = expected_records(texts, 1, with_ids=True)
    if expected:
        assert list(read_records(path, id_column="id")) == expected
    else:
        with pytest.raises(TextalError, match="no rows with text"):
            scan_source(path, id_column="id")
