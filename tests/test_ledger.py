"""The ledger keeps every label event, survives reopening, and refuses files not its own."""

import sqlite3

import pytest

from textal.errors import TextalError
from textal.ledger import (
    AMBIGUOUS,
    COLD_START,
    UNLABEL,
    ClassProbability,
    LeaderboardEntry,
    Ledger,
    Neighbor,
    NewLabel,
    RoundParams,
    RoundReport,
    Selection,
    Timings,
    labels_digest,
)
from textal.ledger.migrations import SCHEMA_VERSION


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


def _report() -> RoundReport:
    return RoundReport(
        selected_by="margin",
        labeled=1,
        label_counts={"pos": 1},
        model="m",
        cv_score=0.5,
        leaderboard=(LeaderboardEntry("m", 0.5, 0.1), LeaderboardEntry("n", 0.25, 0.0)),
        scored=9,
        suppressed_by_neighbors=2,
        suppressed_by_radius=1,
        capped=3,
        timings=Timings(1.5, 0.25, 0.125, 1.875),
        agreement=0.75,
    )


def test_labels_and_rounds_survive_reopening_typed(tmp_path):
    path = tmp_path / "l.sqlite"
    picked = Selection(
        1,
        "b",
        0.7,
        "pos",
        (ClassProbability("pos", 0.6), ClassProbability("neg", 0.4)),
        (Neighbor("a", "pos", 0.8125),),
    )
    params = RoundParams("margin", 1, 0.5, 7)
    with Ledger(path) as ledger:
        ledger.add_labels([NewLabel("a", "pos")], annotator="x", source="t")
        recorded = ledger.record_round(
            params=params,
            report=_report(),
            last_seq=ledger.last_seq(),
            trained_on=labels_digest({"a": "pos"}),
            selections=[picked],
            stop_predictions={"b": "pos", "c": "neg"},
            new_stop_set=["b", "c"],
        )
    with Ledger(path) as ledger:
        assert ledger.current_labels() == {"a": "pos"}
        (record,) = ledger.rounds()
        assert record == recorded == ledger.last_round()
        assert (record.round, record.params, record.report) == (1, params, _report())
        assert record.trained_on == labels_digest({"a": "pos"}) and record.superseded_by is None
        assert ledger.selections(1) == [picked]
        assert ledger.stop_set() == ["b", "c"]
        assert ledger.stop_predictions(1) == {"b": "pos", "c": "neg"}


def test_a_round_keeps_the_filter_it_was_restricted_to(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for restricted in ('source == "app-store" and ingested_at >= 1764547200', None):
            params = RoundParams("margin", 1, None, 0, "all", restricted)
            recorded = ledger.record_round(
                params=params,
                report=RoundReport(COLD_START, 0),
                last_seq=ledger.last_seq(),
                trained_on=labels_digest({}),
                selections=[Selection(1, "a", None, None)],
            )
            assert recorded.params == params
    with Ledger(tmp_path / "l.sqlite") as ledger:
        assert [r.params.filter for r in ledger.rounds()] == [
            'source == "app-store" and ingested_at >= 1764547200',
            None,
        ]


def test_a_round_made_before_any_new_label_supersedes_the_open_one(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:

        def record(strategy: str) -> None:
            ledger.record_round(
                params=RoundParams(strategy, 1),
                report=RoundReport(COLD_START, 0),
                last_seq=ledger.last_seq(),
                trained_on=labels_digest({}),
                selections=[Selection(1, "a", None, None)],
            )

        record("margin")
        record("entropy")  # no label in between: round 1 is superseded, and kept
        ledger.add_labels([NewLabel("a", "pos")], annotator="x", source="t")
        record("margin")  # a label arrived: round 2 was worked on, not superseded
        assert [(r.round, r.superseded_by) for r in ledger.rounds()] == [
            (1, 2),
            (2, None),
            (3, None),
        ]
        assert ledger.selections(1) == [Selection(1, "a", None, None)]


def test_failed_round_records_nothing(tmp_path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        duplicate_rank = [Selection(1, "a", 0.1, None), Selection(1, "b", 0.2, None)]
        with pytest.raises(sqlite3.IntegrityError):
            ledger.record_round(
                params=RoundParams("margin", 2),
                report=_report(),
                last_seq=0,
                trained_on=labels_digest({}),
                selections=duplicate_rank,
                stop_predictions={"c": "pos"},
                new_stop_set=["c"],
            )
        assert ledger.rounds() == []
        assert ledger.selected_items() == set()
        assert ledger.stop_set() == []


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
