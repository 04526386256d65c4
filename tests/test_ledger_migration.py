"""A ledger written by textal at schema 1 migrates to schema 2 with nothing lost.

``fixtures/ledger_v1.sqlite`` was made by textal before issue 10 (``fixtures/make_v1_ledger.py``):
label events by two annotators, an ambiguous mark, an undo and a relabel, a cold-start round,
trained rounds with three strategies and a cap, and two rounds with no label in between.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from textal.ledger import (
    COLD_START,
    LABEL,
    ClassProbability,
    LeaderboardEntry,
    Ledger,
    Neighbor,
    Timings,
    labels_digest,
    migrations,
)

FIXTURE = Path(__file__).parent / "fixtures" / "ledger_v1.sqlite"


@pytest.fixture
def v1_path(tmp_path: Path) -> Path:
    path = tmp_path / "ledger.sqlite"
    shutil.copyfile(FIXTURE, path)
    return path


def _rows(path: Path, query: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(query).fetchall()
    finally:
        conn.close()


def _labels_as_of(events: list[tuple[Any, ...]], last_seq: int) -> dict[str, str]:
    labels: dict[str, str] = {}
    for seq, item_id, kind, label, *_ in events:
        if seq <= last_seq:
            if kind == LABEL:
                labels[item_id] = label
            else:
                labels.pop(item_id, None)
    return labels


def test_the_fixture_is_a_schema_1_ledger():
    assert _rows(FIXTURE, "PRAGMA user_version") == [(1,)]
    kinds = {kind for (kind,) in _rows(FIXTURE, "SELECT kind FROM label_events")}
    assert kinds == {"label", "unlabel", "ambiguous"}
    assert len(_rows(FIXTURE, "SELECT * FROM rounds")) == 5


def test_a_v1_ledger_migrates_with_nothing_lost(v1_path):
    events = _rows(v1_path, "SELECT * FROM label_events ORDER BY seq")
    v1_rounds = _rows(v1_path, "SELECT * FROM rounds ORDER BY round")
    v1_selections = _rows(v1_path, "SELECT * FROM selections ORDER BY round, rank")

    with Ledger(v1_path) as ledger:
        assert _rows(v1_path, "PRAGMA user_version") == [(migrations.SCHEMA_VERSION,)]
        # Label events did not change shape: the very same rows, value for value.
        assert _rows(v1_path, "SELECT * FROM label_events ORDER BY seq") == events
        rounds = ledger.rounds()
        assert [r.round for r in rounds] == [row[0] for row in v1_rounds]
        drawn_by = None
        for record, (number, created_at, strategy, size, last_seq, model, cv, text) in zip(
            rounds, v1_rounds, strict=True
        ):
            old = json.loads(text)
            assert (record.created_at, record.last_seq) == (created_at, last_seq)
            assert (record.params.strategy, record.params.batch_size) == (strategy, size)
            assert record.params.seed is None  # schema 1 did not record it: never re-used
            report = record.report
            assert report.cold_start == old["cold_start"]
            assert report.selected_by == (COLD_START if old["cold_start"] else strategy)
            assert (report.model, report.cv_score) == (model, cv)
            assert report.labeled == old["labeled"]
            assert dict(report.label_counts) == old["label_counts"]
            assert report.leaderboard == tuple(
                LeaderboardEntry(*row) for row in old.get("leaderboard", [])
            )
            for key in ("scored", "suppressed_by_neighbors", "suppressed_by_radius", "capped"):
                assert getattr(report, key) == old.get(key, 0), key
            assert report.timings == Timings(**old["seconds"])
            assert report.agreement == old["agreement"]
            assert record.trained_on == labels_digest(_labels_as_of(events, last_seq))
            assert ledger.stop_predictions(number) == old["stop_predictions"]
            if old["stop_predictions"] and drawn_by is None:
                drawn_by = number
                assert ledger.stop_set() == list(old["stop_predictions"])
        assert drawn_by == 2
        # Rounds 4 and 5 were made with no label in between: 4 was superseded by 5.
        assert [r.superseded_by for r in rounds] == [None, None, None, 5, None]

        migrated = [(r.round, s) for r in rounds for s in ledger.selections(r.round)]
        assert len(migrated) == len(v1_selections)
        for (got, s), (number, rank, item_id, score, predicted, text) in zip(
            migrated, v1_selections, strict=True
        ):
            reason = json.loads(text)
            assert got == number
            assert (s.rank, s.item_id, s.score, s.predicted) == (rank, item_id, score, predicted)
            assert s.top2 == tuple(ClassProbability(*pair) for pair in reason["top2"])
            assert s.why == tuple(Neighbor(*near) for near in reason["why"])
        assert ledger.selected_items() == {row[2] for row in v1_selections}
    # Reopening runs nothing again.
    before = hashlib.sha256(v1_path.read_bytes()).hexdigest()
    Ledger(v1_path).close()
    assert hashlib.sha256(v1_path.read_bytes()).hexdigest() == before


def test_a_migration_failing_mid_way_leaves_the_v1_file_untouched(v1_path, monkeypatch):
    before = v1_path.read_bytes()
    calls = []

    def failing_digest(labels):
        calls.append(1)
        if len(calls) == 3:  # tables renamed and created, two rounds moved already
            raise RuntimeError("disk trouble mid-way")
        return labels_digest(labels)

    monkeypatch.setattr(migrations, "labels_digest", failing_digest)
    with pytest.raises(RuntimeError, match="mid-way"):
        Ledger(v1_path)
    assert len(calls) == 3
    assert v1_path.read_bytes() == before
    assert _rows(v1_path, "PRAGMA user_version") == [(1,)]
    assert {name for (name,) in _rows(v1_path, "SELECT name FROM sqlite_master")} == {
        name for (name,) in _rows(FIXTURE, "SELECT name FROM sqlite_master")
    }
    monkeypatch.undo()
    with Ledger(v1_path) as ledger:  # and it migrates once the trouble is gone
        assert len(ledger.rounds()) == 5
