"""The ledger: what people know, kept in SQLite (WAL) and never rewritten.

Labels are append-only events; an item's current label is its latest event, so a correction or an
undo never destroys history. Rounds and their selections are recorded in one transaction each, so a
crash leaves either the whole round or none of it. Every write is one ``BEGIN IMMEDIATE``
transaction; concurrent writers wait for each other (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from textal.errors import TextalError

APPLICATION_ID = 0x54585441  # "TXTA": marks a SQLite file as a textal ledger
SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 60_000

# Event kinds: a label, the undo of a label, or "people could not decide".
LABEL, UNLABEL, AMBIGUOUS = "label", "unlabel", "ambiguous"

# Explicit column lists, so that a migration adding a column never shifts what reads return.
_EVENT_COLUMNS = "seq, item_id, kind, label, annotator, source, created_at"
_ROUND_COLUMNS = "round, created_at, strategy, batch_size, last_seq, model, cv_score, report"

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

# Forward migrations: MIGRATIONS[v] upgrades a ledger from schema v to v + 1.
MIGRATIONS: dict[int, str] = {}


@dataclass(frozen=True)
class LabelEvent:
    """One row of the label history."""

    seq: int
    item_id: str
    kind: str
    label: str | None
    annotator: str
    source: str
    created_at: str


@dataclass(frozen=True)
class NewLabel:
    """A label to record: ``label=None`` with ``kind`` ``unlabel``/``ambiguous`` for the others."""

    item_id: str
    label: str | None
    kind: str = LABEL


@dataclass(frozen=True)
class Selection:
    """One item of a round's batch; ``reason`` is JSON-serialisable (top-2 probs, neighbours)."""

    rank: int
    item_id: str
    score: float | None
    predicted: str | None
    reason: dict


@dataclass(frozen=True)
class RoundRecord:
    """A recorded round. ``last_seq`` is the newest label event the round was trained on."""

    round: int
    created_at: str
    strategy: str
    batch_size: int
    last_seq: int
    model: str | None
    cv_score: float | None
    report: dict


def _execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run ``;``-separated DDL inside the open transaction (``executescript`` would commit it)."""
    for statement in script.split(";"):
        if statement.strip():
            conn.execute(statement)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Ledger:
    """Open (creating if absent) the ledger at ``path``.

    A file that is not a textal ledger, or one written by a newer textal, is refused with a
    :class:`TextalError` and left untouched.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self._conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        existed = self.path.exists() and self.path.stat().st_size > 0
        if existed:
            with open(self.path, "rb") as f:
                if f.read(16) != b"SQLite format 3\x00":
                    raise TextalError(f"{self.path} is not a textal ledger (not a SQLite file)")
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise TextalError(f"{self.path} is not a textal ledger ({exc})") from exc
        if tables and app_id != APPLICATION_ID:
            conn.close()
            raise TextalError(f"{self.path} is not a textal ledger (another application's file)")
        if version > SCHEMA_VERSION:
            conn.close()
            raise TextalError(
                f"{self.path} has ledger schema {version}, newer than this textal's "
                f"{SCHEMA_VERSION}: upgrade textal"
            )
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        self._migrate(conn, version if tables else 0)
        return conn

    def _migrate(self, conn: sqlite3.Connection, version: int) -> None:
        if version == SCHEMA_VERSION:
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = conn.execute("PRAGMA user_version").fetchone()[0]
            if current == 0:
                _execute_script(conn, _SCHEMA_V1)
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                current = 1
            while current < SCHEMA_VERSION:
                _execute_script(conn, MIGRATIONS[current])
                current += 1
            conn.execute(f"PRAGMA user_version = {current}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- labels ---------------------------------------------------------------------------

    def add_labels(
        self, labels: Iterable[NewLabel], *, annotator: str, source: str, confirm: bool = False
    ) -> tuple[int, int]:
        """Record ``labels`` in one transaction; returns ``(recorded, unchanged)``.

        An event that would not change an item's state (same kind and label as its latest event)
        is skipped, so importing the same file twice records it once. With ``confirm`` such an
        event is recorded when ``annotator``'s own latest event on the item differs: a second
        person confirming a label (what annotator agreement and suspect labels need).
        """
        rows = list(labels)
        now = _now()
        recorded = 0
        with self._write():
            current = self._latest_events([r.item_id for r in rows])
            own = self._latest_events([r.item_id for r in rows], annotator) if confirm else {}
            for row in rows:
                if row.kind not in (LABEL, UNLABEL, AMBIGUOUS):
                    raise ValueError(f"unknown label event kind {row.kind!r}")
                latest = current.get(row.item_id)
                if latest is not None and (latest.kind, latest.label) == (row.kind, row.label):
                    mine = own.get(row.item_id)
                    if not confirm or (mine and (mine.kind, mine.label) == (row.kind, row.label)):
                        continue
                if latest is None and row.kind == UNLABEL:
                    continue
                cur = self._conn.execute(
                    "INSERT INTO label_events (item_id, kind, label, annotator, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (row.item_id, row.kind, row.label, annotator, source, now),
                )
                current[row.item_id] = LabelEvent(
                    cur.lastrowid, row.item_id, row.kind, row.label, annotator, source, now
                )
                own[row.item_id] = current[row.item_id]
                recorded += 1
        return recorded, len(rows) - recorded

    def _latest_events(
        self, item_ids: Sequence[str], annotator: str | None = None
    ) -> dict[str, LabelEvent]:
        """Each item's latest event (``annotator``'s latest, when given)."""
        found: dict[str, LabelEvent] = {}
        unique = list(dict.fromkeys(item_ids))
        by = "" if annotator is None else " AND annotator = ?"
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            marks = ",".join("?" * len(part))
            for row in self._conn.execute(
                f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))}"
                " FROM label_events e JOIN (SELECT item_id, max(seq) AS seq"
                f" FROM label_events WHERE item_id IN ({marks}){by} GROUP BY item_id) m"
                " ON e.seq = m.seq",
                [*part, annotator] if annotator is not None else part,
            ):
                found[row[1]] = LabelEvent(*row)
        return found

    def _latest_of_kind(self, kind: str) -> list[tuple[str, str | None]]:
        """``(item_id, label)`` of every item whose latest event has ``kind``."""
        return self._conn.execute(
            "SELECT e.item_id, e.label FROM label_events e JOIN (SELECT item_id,"
            " max(seq) AS seq FROM label_events GROUP BY item_id) m ON e.seq = m.seq"
            " WHERE e.kind = ?",
            (kind,),
        ).fetchall()

    def current_labels(self) -> dict[str, str]:
        """``{item_id: label}`` for every item whose latest event is a label."""
        return dict(self._latest_of_kind(LABEL))

    def ambiguous_items(self) -> set[str]:
        """Items whose latest event marks them ambiguous; rounds do not ask about them again."""
        return {item_id for item_id, _ in self._latest_of_kind(AMBIGUOUS)}

    def history(self, item_id: str | None = None) -> list[LabelEvent]:
        """All label events, oldest first (of one item when ``item_id`` is given)."""
        if item_id is None:
            rows = self._conn.execute(f"SELECT {_EVENT_COLUMNS} FROM label_events ORDER BY seq")
        else:
            rows = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM label_events WHERE item_id = ? ORDER BY seq",
                (item_id,),
            )
        return [LabelEvent(*row) for row in rows]

    def last_seq(self) -> int:
        """The newest label event's sequence number (0 when there is none)."""
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM label_events").fetchone()[0]

    # -- rounds ---------------------------------------------------------------------------

    def record_round(
        self,
        *,
        strategy: str,
        batch_size: int,
        last_seq: int,
        model: str | None,
        cv_score: float | None,
        report: dict,
        selections: Sequence[Selection],
    ) -> RoundRecord:
        """Record a round and its batch atomically; returns it with its number."""
        now = _now()
        with self._write():
            number = self._conn.execute("SELECT coalesce(max(round), 0) + 1 FROM rounds").fetchone()
            number = number[0]
            self._conn.execute(
                "INSERT INTO rounds VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (number, now, strategy, batch_size, last_seq, model, cv_score, json.dumps(report)),
            )
            self._conn.executemany(
                "INSERT INTO selections VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (number, s.rank, s.item_id, s.score, s.predicted, json.dumps(s.reason))
                    for s in selections
                ],
            )
        return RoundRecord(
            number, now, strategy, batch_size, last_seq, model, cv_score, dict(report)
        )

    def rounds(self) -> list[RoundRecord]:
        """Every recorded round, oldest first."""
        return [
            RoundRecord(*row[:7], json.loads(row[7]))
            for row in self._conn.execute(f"SELECT {_ROUND_COLUMNS} FROM rounds ORDER BY round")
        ]

    def last_round(self) -> RoundRecord | None:
        rounds = self._conn.execute(
            f"SELECT {_ROUND_COLUMNS} FROM rounds ORDER BY round DESC LIMIT 1"
        ).fetchall()
        return RoundRecord(*rounds[0][:7], json.loads(rounds[0][7])) if rounds else None

    def selections(self, round_number: int) -> list[Selection]:
        """The batch of round ``round_number``, by rank."""
        return [
            Selection(rank, item_id, score, predicted, json.loads(reason))
            for rank, item_id, score, predicted, reason in self._conn.execute(
                "SELECT rank, item_id, score, predicted, reason FROM selections"
                " WHERE round = ? ORDER BY rank",
                (round_number,),
            )
        ]

    def selected_items(self) -> set[str]:
        """Every item ever put in a batch."""
        return {row[0] for row in self._conn.execute("SELECT DISTINCT item_id FROM selections")}

    # -- plumbing -------------------------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Reads inside see one state of the ledger, whatever other connections commit meanwhile
        (one read transaction; in WAL mode writers are not blocked by it)."""
        self._conn.execute("BEGIN")
        try:
            yield
        finally:
            self._conn.execute("COMMIT")

    def _write(self) -> _Transaction:
        return _Transaction(self._conn)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
