"""Multi-label answers in the ledger (issue 26): sets kept, compared, undone, confirmed, agreed on;
the schema 5 -> 6 migration keeps everything."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from textal.data.label_sets import join_label_set
from textal.errors import TextalError
from textal.ledger import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    Answer,
    ClassProbability,
    Ledger,
    NewLabel,
    RoundParams,
    RoundReport,
    Selection,
    migrations,
)
from textal.ledger import ledger as ledger_module
from textal.quality.agreement import annotator_agreement, labels_by_annotator

V1_FIXTURE = Path(__file__).parent / "fixtures" / "ledger_v1.sqlite"
NAMES = ("food", "service", "price")


def _rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _multi(path: Path) -> Ledger:
    ledger = Ledger(path)
    ledger.make_multi_label()
    return ledger


def _set(item: str, *names: str, who: str = "ana") -> Answer:
    return Answer(item, frozenset(names), LABEL, who, "t")


def test_a_set_is_stored_canonically_and_read_back(tmp_path):
    with _multi(tmp_path / "l.sqlite") as ledger:
        assert ledger.add_answers([_set("a", "service", "food"), _set("b")]) == (2, 0)
        # The same set in another order is the same answer: nothing new.
        assert ledger.add_answers([_set("a", "food", "service")]) == (0, 1)
        assert ledger.current_labels() == {"a": "food;service", "b": ""}
        assert ledger.current_label_sets() == {"a": {"food", "service"}, "b": frozenset()}
        assert [e.label_set for e in ledger.history("b")] == [frozenset()]
    with Ledger(tmp_path / "l.sqlite") as again:  # the flag lives in the file
        assert again.multi_label


def test_undo_ambiguous_and_confirmation_on_sets(tmp_path):
    with _multi(tmp_path / "l.sqlite") as ledger:
        ledger.add_answers([_set("a", "food"), _set("a", "food", who="bo")])
        assert len(ledger.history("a")) == 1  # bo's equal set is not a confirmation
        assert ledger.add_answers([_set("a", "food", who="bo")], confirm=True) == (1, 0)
        ledger.add_answers([_set("a", "food", "price", who="bo")])
        assert ledger.current_label_sets()["a"] == {"food", "price"}
        ledger.add_answers([Answer("a", None, UNLABEL, "bo", "t")])  # bo withdraws: ana's stands
        assert ledger.current_label_sets()["a"] == {"food"}
        ledger.add_answers([Answer("a", None, AMBIGUOUS, "ana", "t")])
        assert ledger.ambiguous_items() == {"a"}
        assert "a" not in ledger.current_label_sets()


def test_the_ledger_refuses_the_other_kind_of_label(tmp_path):
    with _multi(tmp_path / "m.sqlite") as multi, pytest.raises(ValueError, match="label set"):
        multi.add_answers([Answer("a", "food", LABEL, "ana", "t")])
    with Ledger(tmp_path / "s.sqlite") as single:
        with pytest.raises(ValueError, match="single label"):
            single.add_answers([_set("a", "food")])
        single.add_labels([NewLabel("a", "pos")], annotator="ana", source="t")
        with pytest.raises(TextalError, match="single-label answers"):
            single.make_multi_label()
        assert not single.multi_label


def test_an_answer_checks_its_kind_once_when_made():
    with pytest.raises(ValueError, match="unknown label event kind"):
        Answer("a", "x", "maybe")
    with pytest.raises(ValueError, match="needs"):
        Answer("a", None, LABEL)
    with pytest.raises(ValueError, match="has no"):
        Answer("a", "x", AMBIGUOUS)
    with pytest.raises(ValueError, match="without ';'"):
        Answer("a", frozenset({"a;b"}))
    assert Answer("a", frozenset({"b", "a"})).stored == "a;b"
    assert join_label_set([]) == ""


def test_per_label_probabilities_of_a_pick_survive_reopening(tmp_path):
    path = tmp_path / "l.sqlite"
    every = tuple(ClassProbability(n, p) for n, p in zip(NAMES, (0.9, 0.4, 0.1), strict=True))
    pick = Selection(1, "a", 0.6, "food", probabilities=every)
    with _multi(path) as ledger:
        ledger.record_round(
            params=RoundParams("margin", 1),
            report=RoundReport("margin", 3),
            last_seq=0,
            trained_on="x",
            selections=[pick, Selection(2, "b", None, None)],
        )
    with Ledger(path) as ledger:
        assert ledger.selections(1) == [pick, Selection(2, "b", None, None)]


def test_agreement_on_sets_is_the_mean_kappa_over_labels():
    events = []
    ana = {"1": {"food"}, "2": {"food", "service"}, "3": {"price"}, "4": set(), "5": {"service"}}
    bo = {"1": {"food"}, "2": {"food"}, "3": {"price"}, "4": set(), "5": {"service", "price"}}
    seq = 0
    for who, answers in (("ana", ana), ("bo", bo)):
        for item, names in answers.items():
            seq += 1
            events.append(
                ledger_module.LabelEvent(seq, item, LABEL, join_label_set(names), who, "t", "now")
            )
    by_item = labels_by_annotator(events)
    report = annotator_agreement(by_item, {}, label_names=NAMES)
    (pair,) = report.pairs
    assert (pair.items, pair.agreed) == (5, 3)  # items 1, 3 and 4 have the same set
    from sklearn.metrics import cohen_kappa_score

    expected = [
        cohen_kappa_score([n in ana[i] for i in ana], [n in bo[i] for i in ana]) for n in NAMES
    ]
    assert pair.kappa == pytest.approx(sum(expected) / 3)
    assert {d.item_id for d in report.disagreements} == {"2", "5"}


def test_a_schema_5_ledger_migrates_to_6_with_nothing_lost(tmp_path, monkeypatch):
    path = tmp_path / "ledger.sqlite"
    shutil.copyfile(V1_FIXTURE, path)
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", 5)
    Ledger(path).close()  # the v1 fixture brought to schema 5, as textal before issue 26 left it
    monkeypatch.undo()
    assert _rows(path, "PRAGMA user_version") == [(5,)]
    tables = {name for (name,) in _rows(path, "SELECT name FROM sqlite_master")}
    assert "ledger_settings" not in tables
    events = _rows(path, "SELECT * FROM label_events ORDER BY seq")
    with Ledger(path) as before_check:  # migrates
        rounds = before_check.rounds()
        selections = {r.round: before_check.selections(r.round) for r in rounds}
        assert not before_check.multi_label
        assert before_check.current_labels()
    assert _rows(path, "PRAGMA user_version") == [(migrations.SCHEMA_VERSION,)]
    assert _rows(path, "SELECT * FROM label_events ORDER BY seq") == events
    assert all(s.probabilities == () for batch in selections.values() for s in batch)
    assert sum(len(b) for b in selections.values()) == len(_rows(path, "SELECT * FROM selections"))
    with Ledger(path) as ledger:  # still single-label: a label, not a set
        ledger.add_labels([NewLabel("new", "pos;itive")], annotator="x", source="t")
        assert ledger.current_labels()["new"] == "pos;itive"
