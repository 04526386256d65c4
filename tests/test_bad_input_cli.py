"""Bad input, end to end through ``textal`` on a workspace that already holds items and labels.

Every bad file is refused with exit code 2 and one ``error:`` line naming the file and the row or
field, and changes nothing: the store's items, the ledger's label history, rounds and selections,
the config file and the batch files are byte for byte what they were. Runs on the memory store
(persisted files) and on Milvus Lite. The readers' own cases live in ``test_readers.py`` and
``test_labels_file.py``; this file proves the whole command refuses them without side effects.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.hardening import (
    LABELS,
    STORES,
    YELP,
    gold_of,
    run_cli,
    state,
    store_params,
    stored_ids,
    write_sample,
)
from tests.realdata import AMAZON, require_data
from textal.errors import TextalError
from textal.workspace import Workspace

SAMPLE_ROWS = 60
MB_TEXT = "x" * 1_000_000
MAX_ERROR_CHARS = 400  # an error line names a value, it does not print a megabyte of it

Maker = Callable[[Path, list[str]], bytes]  # (file path, unlabeled ids) -> the file's bytes


@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> Callable[[str], Path]:
    """Per store, made on first use: 60 Yelp reviews, two rounds, ten gold labels, label set
    negative/positive."""
    require_data(AMAZON)
    sample = write_sample(tmp_path_factory.mktemp("data") / "sample.csv", SAMPLE_ROWS)
    roots: dict[str, Path] = {}

    def template(kind: str) -> Path:
        if kind not in roots:
            root = tmp_path_factory.mktemp(f"bad-input-{kind}") / "ws"
            with Workspace.open(root, store_uri=STORES[kind], labels=LABELS) as ws:
                ws.ingest(sample, label_column="label")
                first = ws.round(batch_size=10)
                ids = [s.item_id for s in first.selections]
                ws.add_labels(gold_of(ws, ids).items(), annotator="ana")
                ws.round(batch_size=5)
            roots[kind] = root
        return roots[kind]

    return template


@pytest.fixture(params=store_params())
def workspace(request, templates, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(templates(request.param), root)
    return root


def _csv(*lines: str) -> bytes:
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _parquet(path: Path, table: pa.Table) -> bytes:
    pq.write_table(table, path)
    return path.read_bytes()


def _invalid_utf8_parquet(path: Path) -> bytes:
    offsets = pa.array([0, 2, 6], pa.int32()).buffers()[1]
    texts = pa.Array.from_buffers(pa.string(), 2, [None, offsets, pa.py_buffer(b"okba\xffd")])
    return _parquet(path, pa.table({"text": texts}))


def _truncated_parquet(path: Path) -> bytes:
    whole = _parquet(path, pa.table({"text": ["a new review", "another new one"]}))
    return whole[: len(whole) // 2]


def _bad_last_row(path: Path, ids: list[str]) -> bytes:
    """Fifty reviews not stored yet (Yelp rows 61-110), then an invalid byte in the last row."""
    with open(YELP, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    new = io.StringIO()
    csv.writer(new, lineterminator="\n").writerows([rows[0], *rows[SAMPLE_ROWS + 1 : 111]])
    return new.getvalue().encode("utf-8") + b'"caf\xe9 au lait",positive\n'


# Ingest (--data FILE): (file name, maker, expected part of the message).
INGEST_CASES: dict[str, tuple[str, Maker, str]] = {
    "empty csv": ("a.csv", lambda p, ids: b"", "file is empty (0 bytes)"),
    "empty jsonl": ("a.jsonl", lambda p, ids: b"", "file is empty (0 bytes)"),
    "empty parquet": ("a.parquet", lambda p, ids: b"", "file is empty (0 bytes)"),
    "header only": ("a.csv", lambda p, ids: _csv("text,label"), ": no rows"),
    "csv truncated mid-row": (
        "a.csv",
        lambda p, ids: _csv("text,label", '"fresh bread",positive') + b'"the soup was col',
        "row 3 (line 3): a quoted field is not closed before the end of the file",
    ),
    "jsonl truncated mid-row": (
        "a.jsonl",
        lambda p, ids: b'{"text": "fresh bread"}\n{"text": "the soup was col',
        "line 2: invalid JSON (Unterminated string starting at column 10)",
    ),
    "parquet truncated": ("a.parquet", lambda p, ids: _truncated_parquet(p), "not a readable"),
    "missing header": (
        "a.csv",
        lambda p, ids: _csv("fresh bread,positive", "cold soup,negative"),
        "row 1 (header): no column 'text'; the columns are 'fresh bread', 'positive'",
    ),
    "duplicated header": (
        "a.csv",
        lambda p, ids: _csv("text,label,text", "a,positive,b"),
        "row 1 (header): column 'text' appears twice (columns 1 and 3)",
    ),
    "parquet without the column": (
        "a.parquet",
        lambda p, ids: _parquet(p, pa.table({"review": ["fresh bread"]})),
        "no column 'text'; the columns are 'review'",
    ),
    "too many fields": (
        "a.csv",
        lambda p, ids: _csv("text,label", "fresh bread,positive,extra"),
        "row 2 has 3 fields but the header has 2",
    ),
    "mixed encodings": (
        "a.csv",
        lambda p, ids: _csv("text,label", "café au lait,positive") + b"caf\xe9 noir,negative\n",
        "row 3: invalid UTF-8 at byte offset",
    ),
    "invalid utf-8 jsonl": (
        "a.jsonl",
        lambda p, ids: b'{"text": "fresh"}\n{"text": "bad \xff byte"}\n',
        "line 2: invalid UTF-8 at byte offset 32 (byte 0xff)",
    ),
    "invalid utf-8 parquet": (
        "a.parquet",
        lambda p, ids: _invalid_utf8_parquet(p),
        "row 2: field 'text' holds invalid UTF-8",
    ),
    "utf-16": (
        "a.csv",
        lambda p, ids: "text\nfresh bread\n".encode("utf-16"),
        "the file is UTF-16 encoded; save it as UTF-8",
    ),
    "nul byte csv": (
        "a.csv",
        lambda p, ids: _csv("text,label", "fresh,positive") + b"bad\x00text,negative\n",
        "row 3: NUL byte at byte offset",
    ),
    "escaped nul jsonl": (
        "a.jsonl",
        lambda p, ids: b'{"text": "bad\\u0000text"}\n',
        "line 1: field 'text' contains a NUL character",
    ),
    "1 MB text csv": (
        "a.csv",
        lambda p, ids: _csv("text,label", "fresh,positive", f"{MB_TEXT},negative"),
        "row 3: field 'text' is 1,000,000 bytes long; the limit is 65,535 bytes",
    ),
    "1 MB text jsonl": (
        "a.jsonl",
        lambda p, ids: (json.dumps({"text": MB_TEXT}) + "\n").encode(),
        "line 1: field 'text' is 1,000,000 bytes long",
    ),
    "1 MB text parquet": (
        "a.parquet",
        lambda p, ids: _parquet(p, pa.table({"text": ["fresh", MB_TEXT]})),
        "row 2: field 'text' is 1,000,000 bytes long",
    ),
    "only whitespace rows": (
        "a.csv",
        lambda p, ids: _csv("text,label", "   ,positive", '"\t \r\n",negative'),
        "no rows with text (2 empty rows skipped)",
    ),
    "duplicate ids, different texts": (
        "ids.csv",
        lambda p, ids: _csv("id,text", "1,fresh bread", "2,cold soup", "1,stale bread"),
        "rows 2 and 4 have the same id '1' but different texts",
    ),
    "bad last row after new reviews": ("a.csv", _bad_last_row, "row 52: invalid UTF-8"),
}

# Label import (label FILE): the valid rows come first, so a partial import would show.
LABEL_CASES: dict[str, tuple[str, Maker, str]] = {
    "empty": ("l.csv", lambda p, ids: b"", "file is empty (0 bytes)"),
    "truncated mid-row": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive") + f'"{ids[21]},neg'.encode(),
        "row 3 (line 3): a quoted field is not closed",
    ),
    "jsonl truncated mid-row": (
        "l.jsonl",
        lambda p, ids: f'{{"id": "{ids[20]}", "label": "positive"}}\n{{"id": "{ids[21]}'.encode(),
        "line 2: invalid JSON",
    ),
    "missing label column": (
        "l.csv",
        lambda p, ids: _csv("id,text", f"{ids[20]},fresh"),
        "row 1 (header): no column 'label'; the columns are 'id', 'text'",
    ),
    "missing header": (
        "l.csv",
        lambda p, ids: _csv(f"{ids[20]},positive", f"{ids[21]},negative"),
        "row 1 (header): no column 'id'",
    ),
    "duplicated header": (
        "l.csv",
        lambda p, ids: _csv("id,label,label", f"{ids[20]},positive,negative"),
        "row 1 (header): column 'label' appears twice (columns 2 and 3)",
    ),
    "mixed encodings": (
        "l.csv",
        lambda p, ids: (
            _csv("id,label", f"{ids[20]},positive") + f"{ids[21]},n\xe9g\n".encode("1252")
        ),
        "row 3: invalid UTF-8 at byte offset",
    ),
    "nul byte": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", f"{ids[21]},neg\0ative"),
        "row 3: NUL byte at byte offset",
    ),
    "unknown id": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", "no-such-review,negative"),
        "row 3: unknown id 'no-such-review' (not in the store)",
    ),
    "unknown label": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", f"{ids[21]},maybe"),
        "row 3: unknown label 'maybe' (labels: negative, positive)",
    ),
    "unknown label in parquet": (
        "l.parquet",
        lambda p, ids: _parquet(p, pa.table({"id": ids[20:22], "label": ["positive", "maybe"]})),
        "row 2: unknown label 'maybe'",
    ),
    "label of 1 MB": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", f"{ids[21]},{MB_TEXT}"),
        "row 3: unknown label 'xxxx",
    ),
    "id of 1 MB": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", f"{MB_TEXT},negative"),
        "row 3: unknown id 'xxxx",
    ),
    "whitespace-only id": (
        "l.csv",
        lambda p, ids: _csv("id,label", f"{ids[20]},positive", " \t ,negative"),
        "row 3: empty id in field 'id'",
    ),
    "label that is an object": (
        "l.jsonl",
        lambda p, ids: f'{{"id": "{ids[20]}", "label": {{"x": 1}}}}\n'.encode(),
        "line 1: field 'label' holds an object; labels are strings or integers",
    ),
}


def _refused(capsys, root: Path, argv: list[object], path: Path, message: str) -> None:
    before = state(root)
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, (out, err[:MAX_ERROR_CHARS])
    assert err.startswith("error: ") and err.count("\n") == 1 and err.endswith("\n"), err[:500]
    assert str(path) in err and message in err, err[:500]
    assert len(err) < MAX_ERROR_CHARS, f"{len(err):,} characters: {err[:200]}..."
    assert state(root) == before


def _write_case(tmp_path: Path, root: Path, case: tuple[str, Maker, str]) -> tuple[Path, str]:
    name, make, message = case
    path = tmp_path / "input" / name
    path.parent.mkdir(exist_ok=True)
    with Workspace.open(root, create=False) as ws:  # unlabeled: a row applied would show
        ids = sorted(set(stored_ids(ws)) - set(ws.ledger.current_labels()))
    path.write_bytes(make(path, ids))
    return path, message


@pytest.mark.parametrize("case", list(INGEST_CASES))
def test_bad_source_changes_nothing(capsys, workspace, tmp_path, case):
    path, message = _write_case(tmp_path, workspace, INGEST_CASES[case])
    id_column = ["--id-column", "id"] if path.name == "ids.csv" else []
    argv = ["ingest", "--workspace", workspace, "--data", path, *id_column]
    _refused(capsys, workspace, argv, path, message)


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_bad_label_file_changes_nothing(capsys, workspace, tmp_path, case):
    path, message = _write_case(tmp_path, workspace, LABEL_CASES[case])
    _refused(capsys, workspace, ["label", "--workspace", workspace, path], path, message)


def test_bom_crlf_and_blank_rows_simply_work(capsys, workspace, tmp_path):
    with Workspace.open(workspace, create=False) as ws:
        unlabeled = sorted(set(stored_ids(ws)) - set(ws.ledger.current_labels()))
        gold = gold_of(ws, unlabeled[:4])
    a, b, c, d = gold
    labels_csv = tmp_path / "bom-crlf.csv"
    labels_csv.write_bytes(
        f"\ufeffid,label\r\n{a},{gold[a]}\r\n{b},{gold[b]}\r\n{c},   \r\n".encode()
    )
    code, out, err = run_cli(capsys, "label", "--workspace", workspace, labels_csv)
    assert (code, err) == (0, "") and "2 labels recorded, 0 unchanged" in out
    labels_jsonl = tmp_path / "bom-crlf.jsonl"
    labels_jsonl.write_bytes(f'\ufeff{{"id": "{d}", "label": "{gold[d]}"}}\r\n\r\n'.encode())
    code, out, err = run_cli(capsys, "label", "--workspace", workspace, labels_jsonl)
    assert (code, err) == (0, "") and "1 labels recorded" in out
    source = tmp_path / "blank.csv"  # a stored review, then a whitespace-only row
    write_sample(source, 1)
    with open(source, "a", encoding="utf-8", newline="") as f:
        csv.writer(f).writerow([" \t ", "positive"])
    before = state(workspace)
    code, out, err = run_cli(capsys, "ingest", "--workspace", workspace, "--data", source)
    assert (code, err) == (0, "") and "0 added, 1 already stored; skipped 1 empty" in out
    assert state(workspace) == before
    with Workspace.open(workspace, create=False) as ws:
        current = ws.ledger.current_labels()
    assert [current.get(i) for i in (a, b, c, d)] == [gold[a], gold[b], None, gold[d]]


# --- label import is all or nothing, for any mix of good and bad rows ------------------------


@pytest.fixture(scope="module")
def api_workspace(templates, tmp_path_factory):
    root = tmp_path_factory.mktemp("property") / "ws"
    shutil.copytree(templates("memory"), root)
    with Workspace.open(root, create=False) as ws:
        yield ws, sorted(stored_ids(ws)), tmp_path_factory.mktemp("property-files")


ROW = st.tuples(
    st.one_of(st.integers(0, SAMPLE_ROWS - 1), st.from_regex(r"\Anope-[a-z0-9]{1,6}\Z")),
    st.one_of(st.sampled_from(LABELS), st.from_regex(r"\Ax[a-z=+@ é-]{0,6}\Z")),
)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(ROW, min_size=1, max_size=12), bom_crlf=st.booleans())
def test_label_import_applies_all_or_nothing(api_workspace, rows, bom_crlf):
    ws, ids, folder = api_workspace
    pairs = [(ids[i] if isinstance(i, int) else i, label) for i, label in rows]
    path = folder / "labels.csv"
    with open(path, "w", encoding="utf-8-sig" if bom_crlf else "utf-8", newline="") as f:
        csv.writer(f, lineterminator="\r\n" if bom_crlf else "\n").writerows(
            [("id", "label"), *pairs]
        )
    history = ws.ledger.history()
    expected = dict(ws.ledger.current_labels())
    given: dict[str, str] = {}
    conflict = any(given.setdefault(i, label) != label for i, label in pairs)
    bad = conflict or any(i not in ids or label not in LABELS for i, label in pairs)
    if bad:
        with pytest.raises(TextalError, match=r"rows? \d+(: unknown (id|label)| and \d+ give)"):
            ws.import_labels(path)
        assert ws.ledger.history() == history
        return
    changes = 0
    for item_id, label in pairs:
        changes += expected.get(item_id) != label
        expected[item_id] = label
    done = ws.import_labels(path)
    assert (done.recorded, done.unchanged) == (changes, len(pairs) - changes)
    assert ws.ledger.current_labels() == expected
    assert ws.ledger.history()[: len(history)] == history
    assert len(ws.ledger.history()) == len(history) + changes
