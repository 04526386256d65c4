"""Reading human label files: id and label columns, skips unlabeled rows, clear errors."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from textal.data.labels_file import LabelRow, read_label_rows
from textal.errors import TextalError
from textal.textsafe import spreadsheet_safe


def write(path: Path, content: str | bytes) -> Path:
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def error(path: Path) -> str:
    with pytest.raises(TextalError) as info:
        read_label_rows(path)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


def test_csv_with_bom_crlf_extra_columns_and_unlabeled_rows(tmp_path: Path) -> None:
    content = (
        "\ufeffid,text,predicted,label\r\n"
        'a,"a text, with\r\nlines",pos,pos\r\n'
        "b,other,neg,\r\n"
        "'-3,=1+1,neg, neg \r\n"
        " c ,x,pos,'=odd\r\n"
    )
    assert read_label_rows(write(tmp_path / "l.csv", content)) == [
        LabelRow(2, "a", "pos"),
        LabelRow(4, "-3", "neg"),
        LabelRow(5, "c", "=odd"),
    ]


def test_jsonl(tmp_path: Path) -> None:
    content = (
        '{"id": "a", "label": "x"}\r\n\r\n'
        '{"id": 2, "label": null}\n{"id": 3}\n{"id": 4, "label": 1}\n'
    )
    assert read_label_rows(write(tmp_path / "l.jsonl", content)) == [
        LabelRow(1, "a", "x"),
        LabelRow(5, "4", "1"),
    ]


def test_missing_columns(tmp_path: Path) -> None:
    message = error(write(tmp_path / "l.csv", "id,text\na,b\n"))
    assert "row 1 (header): no column 'label'; the columns are 'id', 'text'" in message
    message = error(write(tmp_path / "m.csv", "item,label\na,b\n"))
    assert "no column 'id'" in message
    message = error(write(tmp_path / "l.jsonl", '{"id": "a"}\n{"id": "b"}\n'))
    assert "no line has the field 'label'" in message
    message = error(write(tmp_path / "m.jsonl", '{"id": "a", "label": "x"}\n{"label": "y"}\n'))
    assert "line 2: no field 'id'; the fields are 'label'" in message


def test_empty_id(tmp_path: Path) -> None:
    assert "row 3: empty id in field 'id'" in error(
        write(tmp_path / "l.csv", "id,label\na,x\n ,y\n")
    )
    assert "line 1: empty id in field 'id'" in error(
        write(tmp_path / "l.jsonl", '{"id": null, "label": "y"}\n')
    )


def test_bad_values(tmp_path: Path) -> None:
    message = error(write(tmp_path / "l.jsonl", '{"id": "a", "label": ["x"]}\n'))
    assert "line 1: field 'label' holds a list; labels are strings or integers" in message
    assert "row 2: invalid UTF-8" in error(write(tmp_path / "l.csv", b"id,label\na,\xff\n"))
    assert "file is empty (0 bytes)" in error(write(tmp_path / "e.csv", b""))
    assert "no such file" in error(tmp_path / "missing.csv")


def test_header_only_is_an_empty_list(tmp_path: Path) -> None:
    assert read_label_rows(write(tmp_path / "l.csv", "id,label\n")) == []


_VALUES = st.text(
    st.characters(exclude_categories=["Cs"], exclude_characters="\0"), min_size=1, max_size=15
).filter(lambda s: s == s.strip())
# One row per id: an id given two different labels is refused (test_conflicting_rows_refused).
_PAIRS = st.lists(
    st.tuples(_VALUES, st.one_of(st.just(""), _VALUES)), max_size=10, unique_by=lambda p: p[0]
)
_PROPERTY = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_PROPERTY
@given(pairs=_PAIRS, bom=st.booleans(), crlf=st.booleans())
def test_csv_round_trip_of_an_exported_batch(
    tmp_path: Path, pairs: list[tuple[str, str]], bom: bool, crlf: bool
) -> None:
    buffer = io.StringIO()
    # LF files fully quoted: see test_readers.test_csv_round_trip.
    lf = {"lineterminator": "\n", "quoting": csv.QUOTE_ALL}
    writer = csv.writer(buffer, **({} if crlf else lf))
    writer.writerow(["id", "text", "label"])
    writer.writerows([spreadsheet_safe(i), "some text", spreadsheet_safe(lab)] for i, lab in pairs)
    path = write(tmp_path / "l.csv", ("\ufeff" if bom else "") + buffer.getvalue())
    expected = [LabelRow(row, i, lab) for row, (i, lab) in enumerate(pairs, 2) if lab]
    assert read_label_rows(path) == expected


@_PROPERTY
@given(pairs=_PAIRS)
def test_jsonl_round_trip(tmp_path: Path, pairs: list[tuple[str, str]]) -> None:
    lines = [json.dumps({"id": i, "label": lab}) for i, lab in pairs] + [
        '{"label": null, "id": "z"}'
    ]
    path = write(tmp_path / "l.jsonl", "\n".join(lines))
    expected = [LabelRow(row, i, lab) for row, (i, lab) in enumerate(pairs, 1) if lab]
    assert read_label_rows(path) == expected


def test_conflicting_rows_refused_repeated_label_kept(tmp_path: Path) -> None:
    same = write(tmp_path / "same.csv", "id,label\na,pos\nb,neg\na,pos\n")
    assert [r.row for r in read_label_rows(same)] == [2, 3, 4]
    other = write(tmp_path / "other.jsonl", '{"id":"a","label":"pos"}\n{"id":"a","label":"neg"}\n')
    with pytest.raises(TextalError, match=r"other.jsonl: lines 1 and 2 give id 'a' different "):
        read_label_rows(other)
