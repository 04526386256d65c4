"""A multi-label workspace (issue 26): fixed at creation, one write API for sets, label files with
a ``labels`` column, on real restaurant reviews."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.realdata import DATA_DIR, require_data
from textal.errors import TextalError
from textal.ledger import AMBIGUOUS, LABEL, Answer
from textal.workspace import Workspace
from textal.workspace.config import CONFIG_NAME

SEMEVAL = DATA_DIR / "semeval2014_restaurant_aspects"
NAMES = ["food", "service", "price", "ambience", "anecdotes/miscellaneous"]
ROWS = 40


def semeval_slice(path: Path, start: int, rows: int) -> list[dict[str, str]]:
    """``rows`` train reviews from ``start`` as ``id,text,labels`` in ``path``."""
    require_data(SEMEVAL / "train.csv")
    with (SEMEVAL / "train.csv").open(newline="", encoding="utf-8") as f:
        data = list(csv.DictReader(f))[start : start + rows]
    out = [{"id": f"r{start + k}", **row} for k, row in enumerate(data)]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text", "labels"])
        writer.writeheader()
        writer.writerows(out)
    return out


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> tuple[Path, list[dict[str, str]]]:
    base = tmp_path_factory.mktemp("ml")
    rows = semeval_slice(base / "reviews.csv", 0, ROWS)
    with Workspace.open(base / "ws", store_uri="memory", labels=NAMES, multi_label=True) as ws:
        ws.ingest(base / "reviews.csv", id_column="id")
    return base / "ws", rows


@pytest.fixture
def ws_dir(template, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template[0], root)
    return root


def test_multi_label_is_fixed_at_creation(ws_dir, tmp_path):
    assert "multi_label = true" in (ws_dir / CONFIG_NAME).read_text()
    with Workspace.open(ws_dir, create=False) as ws:
        assert ws.multi_label and ws.ledger.multi_label
        assert list(ws.config.labels) == NAMES
    with pytest.raises(TextalError, match="fixed at creation"):
        Workspace.open(ws_dir, labels=["drinks"])
    with pytest.raises(TextalError, match="may not hold ';'"):
        Workspace.open(tmp_path / "new", labels=["a;b", "c"], multi_label=True)
    with pytest.raises(TextalError, match="needs its label set"):
        Workspace.open(tmp_path / "new", multi_label=True)
    assert not (tmp_path / "new").exists()
    # A config edited to single-label no longer matches its ledger of sets: refused.
    config = ws_dir / CONFIG_NAME
    config.write_text(config.read_text().replace("multi_label = true\n", ""))
    with pytest.raises(TextalError, match="ledger records label sets"):
        Workspace.open(ws_dir, create=False)


def test_a_single_label_workspace_is_written_as_before(template, tmp_path):
    root = tmp_path / "single"
    with Workspace.open(root, store_uri="memory", labels=["negative", "positive"]) as ws:
        ws.ingest(template[0].parent / "reviews.csv", id_column="id")
    assert "multi_label" not in (root / CONFIG_NAME).read_text()
    with pytest.raises(TextalError, match="is single-label"):
        Workspace.open(root, multi_label=True)
    with Workspace.open(root, create=False) as ws:
        item = next(iter(ws.store.iterate())).ids[0]
        with pytest.raises(TextalError, match="single-label: give one label"):
            ws.add_labels([(item, frozenset({"positive"}))])


def test_write_answers_takes_sets_and_refuses_what_does_not_fit(ws_dir):
    with Workspace.open(ws_dir, create=False) as ws:
        done = ws.write_answers(
            [
                Answer("r0", frozenset({"service"}), LABEL, "ana", "t"),
                Answer("r1", frozenset(), LABEL, "ana", "t"),  # none of these
                Answer("r2", None, AMBIGUOUS, "ana", "t"),
            ]
        )
        assert (done.recorded, done.unchanged, done.refused) == (3, 0, {})
        assert ws.current_label_sets() == {"r0": {"service"}, "r1": frozenset()}
        with pytest.raises(TextalError, match="multi-label: give a set"):
            ws.add_labels([("r3", "food")])
        with pytest.raises(TextalError, match="unknown label 'drinks'"):
            ws.add_labels([("r3", frozenset({"food", "drinks"}))])
        # The web's group commit: the bad answer fails alone, the good ones are recorded.
        partial = ws.write_answers(
            [
                Answer("r3", frozenset({"food"}), LABEL, "ana", "web"),
                Answer("nope", frozenset({"food"}), LABEL, "bo", "web"),
                Answer("r4", frozenset({"price"}), LABEL, "bo", "web"),
            ],
            partial=True,
        )
        assert partial.recorded == 2 and set(partial.refused) == {1}
        assert "unknown id 'nope'" in str(partial.refused[1])
        assert ws.current_label_sets()["r4"] == {"price"}


def test_label_files_carry_a_labels_column(ws_dir, template, tmp_path):
    rows = template[1]
    csv_file = tmp_path / "labels.csv"
    with csv_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "labels", "text"])
        writer.writerows([[r["id"], r["labels"], r["text"]] for r in rows[:10]])
        writer.writerow([rows[10]["id"], ";", ""])  # none of these
        writer.writerow([rows[11]["id"], "", ""])  # not labeled yet
    jsonl_file = tmp_path / "more.jsonl"
    jsonl_file.write_text(
        "".join(
            json.dumps({"id": r["id"], "labels": r["labels"].split(";")}) + "\n"
            for r in rows[12:20]
        )
        + json.dumps({"id": rows[20]["id"], "labels": []})
        + "\n",
        encoding="utf-8",
    )
    with Workspace.open(ws_dir, create=False) as ws:
        first = ws.import_labels(csv_file, annotator="ana")
        assert (first.recorded, first.unchanged) == (11, 0)
        assert ws.import_labels(jsonl_file, annotator="bo").recorded == 9
        sets = ws.current_label_sets()
        assert len(sets) == 20
        for r in rows[:10] + rows[12:20]:
            assert sets[r["id"]] == frozenset(r["labels"].split(";"))
        assert sets[rows[10]["id"]] == sets[rows[20]["id"]] == frozenset()
        assert rows[11]["id"] not in sets
        bad = tmp_path / "bad.csv"
        bad.write_text("id,labels\nr30,food\nr31,food;drinks\n", encoding="utf-8")
        with pytest.raises(TextalError, match=r"bad.csv: row 3: unknown label 'drinks'"):
            ws.import_labels(bad)
        assert "r30" not in ws.current_label_sets()  # all or nothing
