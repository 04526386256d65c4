"""The ledger keeps every label event, survives reopening, and refuses files not its own."""

import sqlite3

import pytest

from textal.errors import TextalError
from textal.ledger import AMBIGUOUS, UNLABEL, Ledger, NewLabel, Selection
from textal.ledger.ledger import SCHEMA_VERSION


def test_latest_event_wins_and_history_is_kept(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.add_labels([NewLabel("a", "pos"), NewLabel("b", "neg")], annotator="ana", source="t")
        ledger.add_labels([NewLabel("a", "neg")], annotator="bo", source="t")
        assert ledger.current_labels() == {"a": "neg", "b": "neg"}
        assert [(e.label, e.annotator) for e in ledger.history("a")] == [
            ("pos", "ana"),
            ("neg", "bo"),
        ]


def test_same_label_again_is_recorded_once(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert ledger.add_labels([NewLabel("a", "pos")], annotator="x", source="t") == (1, 0)
        assert ledger.add_labels([NewLabel("a", "pos")], annotator="x", source="t") == (0, 1)
        assert len(ledger.history()) == 1


def test_unlabel_and_ambiguous(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.add_labels([NewLabel("a", "pos"), NewLabel("b", "pos")], annotator="x", source="t")
        ledger.add_labels(
            [NewLabel("a", None, UNLABEL), NewLabel("b", None, AMBIGUOUS)],
            annotator="x",
            source="t",
        )
        assert ledger.current_labels() == {}
        assert ledger.ambiguous_items() == {"b"}
        assert len(ledger.history()) == 4


def test_labels_and_rounds_survive_reopening(tmp_path):
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.add_labels([NewLabel("a", "pos")], annotator="x", source="t")
        ledger.record_round(
            strategy="margin",
            batch_size=1,
            last_seq=ledger.last_seq(),
            model="m",
            cv_score=0.5,
            report={"k": [1, 2]},
            selections=[Selection(1, "b", 0.7, "pos", {"why": []})],
        )
    with Ledger(path) as ledger:
        assert ledger.current_labels() == {"a": "pos"}
        (record,) = ledger.rounds()
        assert (record.round, record.report) == (1, {"k": [1, 2]})
        assert ledger.selections(1) == [Selection(1, "b", 0.7, "pos", {"why": []})]


def test_failed_round_records_nothing(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        duplicate_rank = [Selection(1, "a", 0.1, None, {}), Selection(1, "b", 0.2, None, {})]
        with pytest.raises(sqlite3.IntegrityError):
            ledger.record_round(
                strategy="margin",
                batch_size=2,
                last_seq=0,
                model=None,
                cv_score=None,
                report={},
                selections=duplicate_rank,
            )
        assert ledger.rounds() == []
        assert ledger.selected_items() == set()


def test_not_a_ledger_is_refused_and_untouched(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"these are my notes, not a database\n")
    with pytest.raises(TextalError, match="not a textal ledger"):
        Ledger(path)
    assert path.read_bytes() == b"these are my notes, not a database\n"


def test_other_applications_database_is_refused(tmp_path):
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = path.read_bytes()
    with pytest.raises(TextalError, match="another application"):
        Ledger(path)
    assert path.read_bytes() == before


def test_newer_schema_is_refused(tmp_path):
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()
    with pytest.raises(TextalError, match="newer"):
        Ledger(path)
