"""Ledger schema 2: rounds in columns, and the v1 -> v2 migration.

Schema 1 kept a round's report and each selection's reason as JSON text. Schema 2 stores every
field in its own column (lists in their own tables), the round's requested cap and seed, what
the round actually did (``selected_by``), the label set it was trained on, and the stop set in
its own table. The migration runs inside the ledger's migration transaction: if any step fails,
nothing of it is kept and the file stays at schema 1.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from textal.ledger.records import COLD_START, labels_digest

SCHEMA_V2 = """
CREATE TABLE rounds (
    round                   INTEGER PRIMARY KEY,
    created_at              TEXT NOT NULL,
    strategy                TEXT NOT NULL,
    batch_size              INTEGER NOT NULL,
    max_class_share         REAL,
    seed                    INTEGER,
    last_seq                INTEGER NOT NULL,
    trained_on              TEXT NOT NULL,
    selected_by             TEXT NOT NULL,
    labeled                 INTEGER NOT NULL,
    model                   TEXT,
    cv_score                REAL,
    scored                  INTEGER NOT NULL,
    suppressed_by_neighbors INTEGER NOT NULL,
    suppressed_by_radius    INTEGER NOT NULL,
    capped                  INTEGER NOT NULL,
    fit_s                   REAL NOT NULL,
    score_s                 REAL NOT NULL,
    select_s                REAL NOT NULL,
    total_s                 REAL NOT NULL,
    agreement               REAL
);
CREATE TABLE round_label_counts (
    round INTEGER NOT NULL REFERENCES rounds (round),
    label TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (round, label)
);
CREATE TABLE round_leaderboard (
    round    INTEGER NOT NULL REFERENCES rounds (round),
    position INTEGER NOT NULL,
    name     TEXT NOT NULL,
    mean     REAL NOT NULL,
    std      REAL NOT NULL,
    PRIMARY KEY (round, position)
);
CREATE TABLE selections (
    round     INTEGER NOT NULL REFERENCES rounds (round),
    rank      INTEGER NOT NULL,
    item_id   TEXT NOT NULL,
    score     REAL,
    predicted TEXT,
    top1      TEXT,
    p1        REAL,
    top2      TEXT,
    p2        REAL,
    PRIMARY KEY (round, rank)
);
CREATE TABLE selection_why (
    round      INTEGER NOT NULL,
    rank       INTEGER NOT NULL,
    position   INTEGER NOT NULL,
    item_id    TEXT NOT NULL,
    label      TEXT NOT NULL,
    similarity REAL NOT NULL,
    PRIMARY KEY (round, rank, position),
    FOREIGN KEY (round, rank) REFERENCES selections (round, rank)
);
CREATE TABLE stop_set (
    position INTEGER PRIMARY KEY,
    item_id  TEXT NOT NULL UNIQUE,
    round    INTEGER NOT NULL REFERENCES rounds (round)
);
CREATE TABLE stop_predictions (
    round     INTEGER NOT NULL REFERENCES rounds (round),
    item_id   TEXT NOT NULL,
    predicted TEXT NOT NULL,
    PRIMARY KEY (round, item_id)
);
"""

ROUND_INSERT = f"INSERT INTO rounds VALUES ({', '.join('?' * 21)})"
SELECTION_INSERT = "INSERT INTO selections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the open transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def migrate_v1_to_v2(conn: sqlite3.Connection) -> None:
    """Move schema 1's JSON reports and reasons into schema 2's columns, nothing lost.

    Label events are not touched. Each v1 round keeps its number, time, strategy, batch size,
    label sequence, model and scores; the label set it was trained on is replayed from the
    events up to its ``last_seq``; its cap and seed were never stored, so they stay unknown.
    """
    conn.execute("ALTER TABLE selections RENAME TO v1_selections")
    conn.execute("ALTER TABLE rounds RENAME TO v1_rounds")
    execute_script(conn, SCHEMA_V2)
    events = conn.execute(
        "SELECT seq, item_id, kind, label FROM label_events ORDER BY seq"
    ).fetchall()
    labels: dict[str, str] = {}
    replayed = 0
    stop_drawn = False
    for number, created_at, strategy, batch_size, last_seq, model, cv_score, text in list(
        conn.execute(
            "SELECT round, created_at, strategy, batch_size, last_seq, model, cv_score, report"
            " FROM v1_rounds ORDER BY round"
        )
    ):
        if last_seq < (events[replayed - 1][0] if replayed else 0):  # out of order: replay again
            labels, replayed = {}, 0
        while replayed < len(events) and events[replayed][0] <= last_seq:
            _, item_id, kind, label = events[replayed]
            if kind == "label":
                labels[item_id] = label
            else:
                labels.pop(item_id, None)
            replayed += 1
        report: dict[str, Any] = json.loads(text)
        seconds = report.get("seconds", {})
        conn.execute(
            ROUND_INSERT,
            (
                number,
                created_at,
                strategy,
                batch_size,
                None,  # max_class_share: not recorded by schema 1
                None,  # seed: not recorded by schema 1
                last_seq,
                labels_digest(labels),
                COLD_START if report.get("cold_start") else strategy,
                report.get("labeled", len(labels)),
                model,
                cv_score,
                report.get("scored", 0),
                report.get("suppressed_by_neighbors", 0),
                report.get("suppressed_by_radius", 0),
                report.get("capped", 0),
                seconds.get("fit", 0.0),
                seconds.get("score", 0.0),
                seconds.get("select", 0.0),
                seconds.get("total", 0.0),
                report.get("agreement"),
            ),
        )
        conn.executemany(
            "INSERT INTO round_label_counts VALUES (?, ?, ?)",
            [(number, label, count) for label, count in report.get("label_counts", {}).items()],
        )
        conn.executemany(
            "INSERT INTO round_leaderboard VALUES (?, ?, ?, ?, ?)",
            [
                (number, position, name, mean, std)
                for position, (name, mean, std) in enumerate(report.get("leaderboard", []))
            ],
        )
        stop = report.get("stop_predictions") or {}
        conn.executemany(
            "INSERT INTO stop_predictions VALUES (?, ?, ?)",
            [(number, item_id, predicted) for item_id, predicted in stop.items()],
        )
        if stop and not stop_drawn:  # the first trained round drew the stop set
            conn.executemany(
                "INSERT INTO stop_set VALUES (?, ?, ?)",
                [(position, item_id, number) for position, item_id in enumerate(stop)],
            )
            stop_drawn = True
    for number, rank, item_id, score, predicted, text in list(
        conn.execute(
            "SELECT round, rank, item_id, score, predicted, reason FROM v1_selections"
            " ORDER BY round, rank"
        )
    ):
        reason: dict[str, Any] = json.loads(text)
        top2 = [*reason.get("top2", []), [None, None], [None, None]][:2]
        conn.execute(
            SELECTION_INSERT,
            (number, rank, item_id, score, predicted, *top2[0], *top2[1]),
        )
        conn.executemany(
            "INSERT INTO selection_why VALUES (?, ?, ?, ?, ?, ?)",
            [
                (number, rank, position, nid, label, sim)
                for position, (nid, label, sim) in enumerate(reason.get("why", []))
            ],
        )
    conn.execute("DROP TABLE v1_selections")
    conn.execute("DROP TABLE v1_rounds")
