"""Review text is written by strangers: it must never run as a formula, move a terminal's cursor or
retitle its window, and textal must never load code from a file.

One workspace per store holds ten hostile reviews (formula starts, ANSI and OSC escapes, a bidi
override) among 30 real ones, with hostile ids, and a label set in which labels start with ``-``
and ``+`` (as sentiment labels often do) or carry an escape sequence. The whole loop runs through
the CLI: ingest, a cold-start round whose batch holds every review, interactive labeling, status,
a trained round, its batch filled in and imported, export with and without predictions.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import tokenize
from pathlib import Path

import pytest

from tests.hardening import REPO, STORES, YELP, run_cli, store_params
from tests.realdata import AMAZON, require_data
from textal.textsafe import undo_spreadsheet_safe
from textal.workspace import Workspace

# What a spreadsheet would run as a formula, and what a terminal would act on (C0 but tab and
# newline, DEL, C1, bidi embeddings/overrides/isolates). Defined here, not imported: the test
# must not trust the code it tests.
FORMULA_START = set("=+-@\t\r")
TERMINAL_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
EVIL_LABEL = "\x1b]0;owned\x07evil"
LABEL_SET = ["-1", "+1", EVIL_LABEL]
HOSTILE = {  # id -> review text
    "=id()": '=HYPERLINK("http://x","y")',
    "-2": "+1",
    "+3": "-1+2",
    "@4": "@SUM(A1)",
    "tab": "\t=1",
    "cr": "\r=1",
    "ansi": "great \x1b[31mred\x1b[0m pasta, \x1b[2J\x1b[Hcleared",
    "osc": "\x1b]0;window title\x07the soup was cold",
    "bidi": "the bill \u202eredaolnwod\u202c was fine",
    "dde": "=cmd|' /C calc'!A0",
}


def _source(path: Path) -> dict[str, str]:
    """Hostile reviews and 30 real Yelp ones as JSON Lines; returns every id -> text."""
    with open(YELP, encoding="utf-8", newline="") as f:
        real = [row["text"] for _, row in zip(range(30), csv.DictReader(f), strict=False)]
    texts = HOSTILE | {f"yelp-{k}": text for k, text in enumerate(real)}
    with open(path, "w", encoding="utf-8") as f:
        for k, (item_id, text) in enumerate(texts.items()):
            f.write(json.dumps({"id": item_id, "text": text, "gold": LABEL_SET[k % 2]}) + "\n")
    return texts


def _clean_for_terminal(output: str) -> None:
    found = TERMINAL_CONTROL.findall(output)
    assert not found, f"control characters reach the terminal: {found[:5]}"


def _check_csv(path: Path, texts: dict[str, str]) -> list[dict[str, str]]:
    """No cell can start a formula; ids and texts read back exactly after undoing the ``'``."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for column, cell in row.items():
            assert cell[:1] not in FORMULA_START, (path.name, column, cell)
        item_id = undo_spreadsheet_safe(row["id"])
        assert undo_spreadsheet_safe(row["text"]) == texts[item_id]
        if texts[item_id][:1] in FORMULA_START:
            assert row["text"] == "'" + texts[item_id]
    return rows


def _check_jsonl(path: Path, texts: dict[str, str]) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    assert all(row["text"] == texts[row["id"]] for row in rows)  # verbatim, escapes and all
    return rows


@pytest.fixture(scope="module", params=store_params())
def hostile_template(request, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    require_data(AMAZON)
    folder = tmp_path_factory.mktemp(f"hostile-{request.param}")
    texts = _source(folder / "reviews.jsonl")
    with Workspace.open(folder / "ws", store_uri=STORES[request.param], labels=LABEL_SET) as ws:
        ws.ingest(folder / "reviews.jsonl", id_column="id", label_column="gold")
        assert ws.store.count() == len(texts)
    return folder / "ws", texts


@pytest.fixture
def hostile_workspace(hostile_template, tmp_path) -> tuple[Path, dict[str, str]]:
    template, texts = hostile_template
    shutil.copytree(template, tmp_path / "ws")
    return tmp_path / "ws", texts


def test_hostile_reviews_through_the_whole_loop(hostile_workspace, tmp_path, capsys, monkeypatch):
    root, texts = hostile_workspace
    code, out, err = run_cli(capsys, "round", "--workspace", root, "--batch-size", len(texts))
    assert code == 0 and f"cold-start batch of {len(texts)}" in out
    batch = root / "batches" / "round-1.csv"
    assert {undo_spreadsheet_safe(r["id"]) for r in _check_csv(batch, texts)} == set(texts)
    _check_jsonl(batch.with_suffix(".jsonl"), texts)

    # Label 30 reviews in the terminal (all three labels), skip the other 10: all 40 are shown.
    monkeypatch.setattr("builtins.input", _typing(["1", "2", "3"] * 10 + ["s"] * 10))
    code, out, err = run_cli(capsys, "label", "--workspace", root, "--interactive")
    assert code == 0 and "30 recorded this session" in out
    for shown in ("HYPERLINK", "@SUM(A1)", "red pasta", "the soup was cold", "redaolnwod"):
        assert shown in out
    _clean_for_terminal(out + err)

    code, out, err = run_cli(capsys, "status", "--workspace", root)
    assert code == 0 and "labeled     30" in out and "evil" in out
    _clean_for_terminal(out + err)

    # A trained round: predicted labels and the "why" column start with - or +.
    assert run_cli(capsys, "round", "--workspace", root, "--batch-size", "5")[0] == 0
    second = root / "batches" / "round-2.csv"
    rows = _check_csv(second, texts)
    assert {r["predicted"][:2] for r in rows} <= {"'-", "'+", "\x1b]"}
    _check_jsonl(second.with_suffix(".jsonl"), texts)
    monkeypatch.setattr("builtins.input", _typing([]))  # shows the first review, then quits
    code, out, err = run_cli(capsys, "label", "--workspace", root, "--interactive")
    assert "model says:" in out and "similar labeled review" in out
    _clean_for_terminal(out + err)

    # People fill the batch in with the labels as shown ('-1, '+1): they import as -1, +1.
    with open(second, encoding="utf-8", newline="") as f:
        filled = [{**row, "label": row["predicted"]} for row in csv.DictReader(f)]
    with open(second, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(filled[0]))
        writer.writeheader()
        writer.writerows(filled)
    code, out, err = run_cli(capsys, "label", "--workspace", root, second, "--annotator", "@ana")
    assert code == 0 and "error" not in err

    exported = tmp_path / "export.csv"
    assert run_cli(capsys, "export", "--workspace", root, exported)[0] == 0
    rows = _check_csv(exported, texts)
    assert {r["label"] for r in rows} <= {"'-1", "'+1", EVIL_LABEL}
    assert {r["label"] for r in _check_jsonl(exported.with_suffix(".jsonl"), texts)} == set(
        LABEL_SET
    )
    # The exported CSV is itself a valid label file: every id and label reads back unchanged.
    code, out, err = run_cli(capsys, "label", "--workspace", root, exported)
    assert code == 0 and f"0 labels recorded, {len(rows)} unchanged" in out
    predictions = tmp_path / "predictions.csv"
    assert run_cli(capsys, "export", "--workspace", root, predictions, "--predictions")[0] == 0
    assert len(_check_csv(predictions, texts)) == len(texts)
    _check_jsonl(predictions.with_suffix(".jsonl"), texts)


def _typing(keys: list[str]):
    """An ``input`` that checks each prompt, then types the next key; EOF (quit) after the last."""
    remaining = iter(keys)

    def read(prompt: str = "") -> str:
        _clean_for_terminal(prompt)
        key = next(remaining, None)
        if key is None:
            raise EOFError
        return key

    return read


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("labels.csv", "id,label\n-2,\x1b[2J\n"),  # unknown label: an escape sequence
        ("labels.csv", "id,label\n\x1b]0;pwn\x07,+1\n"),  # unknown id: an OSC sequence
        ("\x1b[2J\u202elabels.csv", None),  # a file name with escapes, which does not exist
        ("reviews.csv", "id,text\n\x1b[31m,a\n\x1b[31m,b\n"),  # ingest: duplicate id
    ],
    ids=["unknown label", "unknown id", "file name", "duplicate id"],
)
def test_error_messages_carry_no_escapes(hostile_workspace, tmp_path, capsys, name, content):
    root, _ = hostile_workspace
    path = tmp_path / name
    if content is not None:
        path.write_text(content, encoding="utf-8")
    if name == "reviews.csv":
        argv = ["ingest", "--workspace", root, "--data", path, "--id-column", "id"]
    else:
        argv = ["label", "--workspace", root, path]
    before = (root / "ledger.sqlite").read_bytes()
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    _clean_for_terminal(out + err)
    assert (root / "ledger.sqlite").read_bytes() == before


# --- no code is ever loaded from data -----------------------------------------------------------

FORBIDDEN_NAMES = {"pickle", "cPickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}
FORBIDDEN_NAMES |= {"read_pickle", "to_pickle", "unsafe_load", "full_load"}


def dangerous_calls(source: str) -> list[str]:
    """Pickle-like modules, ``eval``/``exec``, ``torch.load``, ``yaml.load`` and
    ``allow_pickle=True`` in the code of ``source`` (comments and strings are prose, not code)."""
    prose = {tokenize.COMMENT, tokenize.STRING, tokenize.NL, tokenize.NEWLINE}
    prose |= {getattr(tokenize, t) for t in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")
              if hasattr(tokenize, t)}  # fmt: skip
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    code = [t.string for t in tokens if t.type not in prose]
    found = []
    for k, word in enumerate(code):
        before, after = code[max(k - 2, 0) : k], code[k + 1 : k + 3]
        if word in FORBIDDEN_NAMES:
            found.append(word)
        elif word in ("eval", "exec") and after[:1] == ["("] and before[-1:] != ["."]:
            found.append(f"{word}(")
        elif word == "load" and before in (["torch", "."], ["yaml", "."]):
            found.append(f"{before[0]}.load")
        elif word == "allow_pickle" and after == ["=", "True"]:
            found.append("allow_pickle=True")
    return found


def test_the_scan_finds_what_it_looks_for():
    source = (
        '"""No pickle here: we never eval( text."""\n'
        "import pickle  # a comment about yaml.load is fine\n"
        "x = eval(s); exec(code); model.eval(); re.compile(p)\n"
        "torch.load(f); yaml.load(f); np.load(f, allow_pickle=True)\n"
        "np.load(f, allow_pickle=False)\n"
    )
    assert dangerous_calls(source) == [
        "pickle", "eval(", "exec(", "torch.load", "yaml.load", "allow_pickle=True",
    ]  # fmt: skip


def test_nothing_in_textal_loads_pickles_or_evaluates_text():
    found = {
        str(path.relative_to(REPO)): calls
        for path in sorted((REPO / "textal").rglob("*.py"))
        if (calls := dangerous_calls(path.read_text(encoding="utf-8")))
    }
    assert found == {}
