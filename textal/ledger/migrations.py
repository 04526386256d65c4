"""The ledger's schema, as one ordered list of numbered migrations (llm's style).

``MIGRATIONS[v]`` takes a ledger from schema ``v`` to ``v + 1``: SQL (``;``-separated DDL) or a
function run inside the migration transaction. A new ledger runs them all from 0, an old one those
from its ``PRAGMA user_version`` on, in order. :func:`migrate` runs them in one transaction: if
any step fails, nothing of it is kept and the file stays at its version. A schema change is a new
entry at the end, never an edit of one that has shipped.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from textal.ledger.records import COLD_START, labels_digest

APPLICATION_ID = 0x54585441  # "TXTA": marks a SQLite file as a textal ledger

Migration = str | Callable[[sqlite3.Connection], None]

# 0 -> 1: label events, and rounds and selections with their report and reason as JSON text.
_SCHEMA_V1 = """
CREATE TABLE label_events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id    TEXT NOT NULL,
    kind       TEXT NOT NULL CHECK (kind IN ('label', 'unlabel', 'ambiguous')),
    label      TEXT,
    annotator  TEXT NOT NULL,
    source     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    CHECK ((kind = 'label') = (label IS NOT NULL))
);
CREATE INDEX label_events_item ON label_events (item_id, seq);
CREATE TABLE rounds (
    round       INTEGER PRIMARY KEY,
    created_at  TEXT NOT NULL,
    strategy    TEXT NOT NULL,
    batch_size  INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    model       TEXT,
    cv_score    REAL,
    report      TEXT NOT NULL
);
CREATE TABLE selections (
    round     INTEGER NOT NULL REFERENCES rounds (round),
    rank      INTEGER NOT NULL,
    item_id   TEXT NOT NULL,
    score     REAL,
    predicted TEXT,
    reason    TEXT NOT NULL,
    PRIMARY KEY (round, rank)
);
"""


# 1 -> 2: rounds in columns. Schema 1 kept a round's report and each selection's reason as JSON
# text. Schema 2 stores every field in its own column (lists in their own tables), the round's
# requested cap and seed, what the round actually did (``selected_by``), the label set it was
# trained on, and the stop set in its own table.
_SCHEMA_V2 = """
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
    execute_script(conn, _SCHEMA_V2)
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


# 2 -> 3: web accounts (textal.ledger.annotators): only a hash of each login token is kept.
_SCHEMA_ANNOTATORS = """
CREATE TABLE annotators (
    name       TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    admin      INTEGER NOT NULL CHECK (admin IN (0, 1)),
    created_at TEXT NOT NULL
);
"""


# 3 -> 4: rounds that scored a candidate set from the vector index (``--candidates index``); a round
# without a row here read every stored item, as every round before schema 4 did.
_SCHEMA_CANDIDATES = """
CREATE TABLE round_candidates (
    round     INTEGER PRIMARY KEY REFERENCES rounds (round),
    anchors   INTEGER NOT NULL,
    neighbors INTEGER NOT NULL,
    sample    INTEGER NOT NULL,
    seconds   REAL NOT NULL
);
"""


# 4 -> 5: web sessions (textal.ledger.annotators): only a hash of each session id is kept. A session
# belongs to the login token it began with, so removing the account or issuing it a new token
# ends it. Accounts get a role (``admin`` stays, kept equal to role = 'admin'). The index serves
# the per-annotator queries of answers in force.
_SCHEMA_SESSIONS = """
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX sessions_token ON sessions (token_hash);
CREATE INDEX label_events_item_annotator ON label_events (item_id, annotator, seq);
ALTER TABLE annotators ADD COLUMN role TEXT NOT NULL DEFAULT 'annotator'
    CHECK (role IN ('annotator', 'reviewer', 'admin', 'service'));
UPDATE annotators SET role = 'admin' WHERE admin = 1;
"""


# 5 -> 6: multi-label workspaces (issue 26). ``ledger_settings`` records ``multi_label = '1'`` in a
# ledger whose label events hold label sets (canonical text, see textal.ledger.answers); a ledger
# without the row is single-label, as every ledger before schema 6 is. ``selection_probabilities``
# keeps a multi-label pick's presence probability for every label (``top1``/``top2`` keep two).
_SCHEMA_MULTI_LABEL = """
CREATE TABLE ledger_settings (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE selection_probabilities (
    round       INTEGER NOT NULL,
    rank        INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    label       TEXT NOT NULL,
    probability REAL NOT NULL,
    PRIMARY KEY (round, rank, position),
    FOREIGN KEY (round, rank) REFERENCES selections (round, rank)
);
"""


# 6 -> 7: the filter a round was restricted to (``textal round --filter/--since``), in the filter
# language (textal.store.filters.filter_text); a round without a row here read every stored item.
_SCHEMA_ROUND_FILTERS = """
CREATE TABLE round_filters (
    round  INTEGER PRIMARY KEY REFERENCES rounds (round),
    filter TEXT NOT NULL
);
"""


# 7 -> 8: the class whose name a pick was asked for (textal.strategy.probes: a class with no label
# yet, probed by the review nearest its name); a pick without a row was ranked or explored.
_SCHEMA_SELECTION_PROBES = """
CREATE TABLE selection_probes (
    round  INTEGER NOT NULL,
    rank   INTEGER NOT NULL,
    label  TEXT NOT NULL,
    PRIMARY KEY (round, rank),
    FOREIGN KEY (round, rank) REFERENCES selections (round, rank)
);
"""


MIGRATIONS: dict[int, Migration] = {
    0: _SCHEMA_V1,
    1: migrate_v1_to_v2,
    2: _SCHEMA_ANNOTATORS,
    3: _SCHEMA_CANDIDATES,
    4: _SCHEMA_SESSIONS,
    5: _SCHEMA_MULTI_LABEL,
    6: _SCHEMA_ROUND_FILTERS,
    7: _SCHEMA_SELECTION_PROBES,
}
SCHEMA_VERSION = len(MIGRATIONS)  # what this textal writes


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the ledger on ``conn`` (opened outside a transaction) to :data:`SCHEMA_VERSION`
    in one ``BEGIN IMMEDIATE`` transaction; a ledger already there is left alone."""
    if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Re-read under the write lock: another process may have migrated meanwhile.
        current = conn.execute("PRAGMA user_version").fetchone()[0]
        if current == 0:
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        for version in range(current, SCHEMA_VERSION):
            step = MIGRATIONS[version]
            if callable(step):
                step(conn)
            else:
                execute_script(conn, step)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
