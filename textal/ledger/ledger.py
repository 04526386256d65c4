"""The ledger: what people know, kept in SQLite (WAL) and never rewritten.

Labels are append-only events, so a correction or an undo never destroys history. Each annotator's
latest event on an item is their answer in force; an ``unlabel`` (undo) withdraws that annotator's
own answer and nobody else's. An item's current state is the newest answer in force: when two
people disagree, the later answer is the current label until someone answers again (see
:meth:`Ledger.current_events`). Rounds and their selections are recorded in one transaction
each, so a crash leaves either the whole round or none of it. Every write is one ``BEGIN IMMEDIATE``
transaction; concurrent writers wait for each other (``busy_timeout``) instead of failing.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from textal.data.label_sets import parse_label_set
from textal.errors import TextalError
from textal.fsio import disk_problem
from textal.ledger import migrations
from textal.ledger.answers import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    Answer,
    NewLabel,
)
from textal.ledger.migrations import APPLICATION_ID, ROUND_INSERT, SELECTION_INSERT
from textal.ledger.records import (
    CandidateSet,
    ClassProbability,
    LeaderboardEntry,
    Neighbor,
    RoundParams,
    RoundRecord,
    RoundReport,
    Selection,
    Timings,
)

BUSY_TIMEOUT_MS = 60_000

# Explicit column lists, so that a migration adding a column never shifts what reads return.
_EVENT_COLUMNS = "seq, item_id, kind, label, annotator, source, created_at"
_ROUND_COLUMNS = (
    "r.round, r.created_at, r.strategy, r.batch_size, r.max_class_share, r.seed, r.last_seq,"
    " r.trained_on, r.selected_by, r.labeled, r.model, r.cv_score, r.scored,"
    " r.suppressed_by_neighbors, r.suppressed_by_radius, r.capped, r.fit_s, r.score_s,"
    " r.select_s, r.total_s, r.agreement"
)


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

    @property
    def label_set(self) -> frozenset[str] | None:
        """A multi-label ledger's answer as a set (``None`` for ``unlabel``/``ambiguous``)."""
        return None if self.label is None else parse_label_set(self.label)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Ledger:
    """Open (creating if absent) the ledger at ``path``.

    A file that is not a textal ledger, or one written by a newer textal, is refused with a
    :class:`TextalError` and left untouched. ``read_only`` opens an existing ledger on a
    read-only (or full) file system (SQLite's ``mode=ro``; ``immutable`` when the write-ahead log
    is absent or empty, since nothing can write there anyway).

    A ledger is single-label (every ledger before schema 6) or, once :meth:`make_multi_label`
    ran on it before any answer, multi-label (:attr:`multi_label`): its answers are label sets,
    stored as their canonical text in the same ``label`` column (:mod:`textal.ledger.answers`
    says why). The flag lives in the ledger, not only in the workspace's config, so that the
    events are never read with the other meaning of ``;``.
    """

    def __init__(self, path: Path | str, *, read_only: bool = False):
        self.path = Path(path)
        self.read_only = read_only
        self._conn = self._connect()
        self._multi_label: bool | None = None

    @property
    def multi_label(self) -> bool:
        """Whether this ledger's answers are label sets (read once)."""
        if self._multi_label is None:
            row = self._conn.execute(
                "SELECT value FROM ledger_settings WHERE name = 'multi_label'"
            ).fetchone()
            self._multi_label = row is not None and row[0] == "1"
        return self._multi_label

    def _connect(self) -> sqlite3.Connection:
        # Never open the file outside SQLite: POSIX locks belong to the process, so closing any
        # other descriptor of it drops every lock SQLite holds here, and another process then
        # checkpoints and deletes the write-ahead log this one still commits into (SQLite's "How
        # To Corrupt An SQLite Database File", 2.2). SQLite reads the header itself and answers
        # SQLITE_NOTADB for another kind of file, leaving it untouched.
        existed = self.path.exists() and self.path.stat().st_size > 0
        if not existed and self.read_only:
            raise TextalError(f"no ledger at {self.path} (the workspace is read-only)")
        target: str | Path = self.path
        if self.read_only:
            wal = Path(f"{self.path}-wal")
            target = f"{self.path.absolute().as_uri()}?mode=ro" + (
                "" if wal.exists() and wal.stat().st_size else "&immutable=1"
            )
        conn = sqlite3.connect(
            target,
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
            uri=self.read_only,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            conn.close()
            kind = getattr(exc, "sqlite_errorname", "")
            if kind == "SQLITE_NOTADB":
                why = "not a SQLite file"
                raise TextalError(f"{self.path} is not a textal ledger ({why})") from exc
            if kind == "SQLITE_CORRUPT":
                raise TextalError(f"{self.path} is not a textal ledger ({exc})") from exc
            why = disk_problem(self.path) or "check the disk and the permissions"
            raise TextalError(
                f"cannot open ledger {self.path} ({exc}): {why}; nothing in it was changed"
            ) from exc
        if tables and app_id != APPLICATION_ID:
            conn.close()
            raise TextalError(f"{self.path} is not a textal ledger (another application's file)")
        if version > migrations.SCHEMA_VERSION:
            conn.close()
            raise TextalError(
                f"{self.path} has ledger schema {version}, newer than this textal's "
                f"{migrations.SCHEMA_VERSION}: upgrade textal"
            )
        if self.read_only:
            if version != migrations.SCHEMA_VERSION:
                conn.close()
                raise TextalError(
                    f"{self.path} has ledger schema {version} and needs upgrading, which a "
                    "read-only workspace does not allow"
                )
            return conn
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        try:
            migrations.migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

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
        """Record ``labels`` as ``annotator``'s answers through ``source`` (see
        :meth:`add_answers`); returns ``(recorded, unchanged)``."""
        return self.add_answers(
            [replace(a, annotator=annotator, source=source) for a in labels], confirm=confirm
        )

    def add_answers(self, answers: Sequence[Answer], *, confirm: bool = False) -> tuple[int, int]:
        """Record ``answers`` (of any annotators) in ONE transaction, in order (one disk sync:
        the web app commits concurrent answers together); returns ``(recorded, unchanged)``.

        An answer that would not change an item's state (the same kind and label as its latest
        event) is skipped, so importing the same file twice records it once; an undo with no
        answer of that annotator's in force is skipped too. With ``confirm`` an unchanged answer
        is recorded when its annotator's own latest event on the item differs: a second person
        confirming a label (what annotator agreement and suspect labels need). A label answer
        must be a set in a multi-label ledger and a single label otherwise (``ValueError``).
        """
        for a in answers:
            if a.kind == LABEL and isinstance(a.label, frozenset) != self.multi_label:
                want = "a label set" if self.multi_label else "a single label"
                raise ValueError(f"this ledger records {want}; got {a.label!r} for {a.item_id!r}")
        now = _now()
        recorded = 0
        with self._write():
            ids = [a.item_id for a in answers]
            current = self.latest_events(ids)
            own: dict[str, dict[str, LabelEvent]] = {}
            for a in answers:
                if a.annotator not in own:
                    mine_ids = [b.item_id for b in answers if b.annotator == a.annotator]
                    own[a.annotator] = self.latest_events(mine_ids, a.annotator)
                latest, mine = current.get(a.item_id), own[a.annotator].get(a.item_id)
                answer = (a.kind, a.stored)
                if a.kind == UNLABEL:
                    if mine is None or mine.kind == UNLABEL:
                        continue  # no answer of this annotator's in force to withdraw
                elif (
                    latest is not None
                    and (latest.kind, latest.label) == answer
                    and (not confirm or (mine and (mine.kind, mine.label) == answer))
                ):
                    continue
                (seq,) = self._conn.execute(
                    "INSERT INTO label_events"
                    " (item_id, kind, label, annotator, source, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?) RETURNING seq",
                    (a.item_id, a.kind, a.stored, a.annotator, a.source, now),
                ).fetchone()
                event = LabelEvent(seq, a.item_id, a.kind, a.stored, a.annotator, a.source, now)
                current[a.item_id] = own[a.annotator][a.item_id] = event
                recorded += 1
        return recorded, len(answers) - recorded

    def make_multi_label(self) -> None:
        """Make this ledger record label sets (done once, when a multi-label workspace is made);
        refused with a :class:`TextalError` once it holds an answer."""
        with self._write():
            if self._conn.execute("SELECT count(*) FROM label_events").fetchone()[0]:
                raise TextalError(
                    f"{self.path} holds single-label answers: a workspace is multi-label from "
                    "its creation (use a new --workspace)"
                )
            self._conn.execute("INSERT OR REPLACE INTO ledger_settings VALUES ('multi_label', '1')")
        self._multi_label = True

    def latest_events(
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

    def current_events(self) -> list[LabelEvent]:
        """Each answered item's current answer, oldest first: the newest event that is some
        annotator's answer in force (their latest event on the item, when it is a label or an
        ambiguous mark). An item whose every answer was withdrawn has none."""
        return [
            LabelEvent(*row)
            for row in self._conn.execute(
                f"SELECT {', '.join('e.' + c for c in _EVENT_COLUMNS.split(', '))}"
                " FROM label_events e JOIN (SELECT o.item_id, max(o.seq) AS seq FROM"
                " (SELECT item_id, max(seq) AS seq FROM label_events"
                " GROUP BY item_id, annotator) o JOIN label_events x ON x.seq = o.seq"
                f" WHERE x.kind != '{UNLABEL}' GROUP BY o.item_id) m ON e.seq = m.seq"
                " ORDER BY e.seq"
            )
        ]

    def current_labels(self) -> dict[str, str]:
        """``{item_id: label}`` for every item whose current answer is a label, oldest first."""
        return {
            e.item_id: e.label
            for e in self.current_events()
            if e.kind == LABEL and e.label is not None
        }

    def current_label_sets(self) -> dict[str, frozenset[str]]:
        """A multi-label ledger's ``{item_id: label set}`` for every item whose current answer
        is a label set (the empty set included: "none of these"), oldest first."""
        return {
            e.item_id: parse_label_set(e.label)
            for e in self.current_events()
            if e.kind == LABEL and e.label is not None
        }

    def ambiguous_items(self) -> set[str]:
        """Items whose current answer is "ambiguous"; rounds do not ask about them again."""
        return {e.item_id for e in self.current_events() if e.kind == AMBIGUOUS}

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

    def events_of(self, item_ids: Sequence[str]) -> list[LabelEvent]:
        """The label events of these items, oldest first."""
        unique = list(dict.fromkeys(item_ids))
        events: list[LabelEvent] = []
        for start in range(0, len(unique), 500):
            part = unique[start : start + 500]
            events += [
                LabelEvent(*row)
                for row in self._conn.execute(
                    f"SELECT {_EVENT_COLUMNS} FROM label_events"
                    f" WHERE item_id IN ({','.join('?' * len(part))})",
                    part,
                )
            ]
        return sorted(events, key=lambda e: e.seq)

    def last_seq(self) -> int:
        """The newest label event's sequence number (0 when there is none)."""
        return self._conn.execute("SELECT coalesce(max(seq), 0) FROM label_events").fetchone()[0]

    # -- rounds ---------------------------------------------------------------------------

    def record_round(
        self,
        *,
        params: RoundParams,
        report: RoundReport,
        last_seq: int,
        trained_on: str,
        selections: Sequence[Selection],
        stop_predictions: Mapping[str, str] | None = None,
        new_stop_set: Sequence[str] = (),
    ) -> RoundRecord:
        """Record a round, its batch and its stop-set predictions atomically; returns it with its
        number. ``new_stop_set`` is the stop set when this round drew it (the first trained one).
        """
        now = _now()
        with self._write():
            number = self._conn.execute("SELECT coalesce(max(round), 0) + 1 FROM rounds").fetchone()
            number = number[0]
            t = report.timings
            self._conn.execute(
                ROUND_INSERT,
                (
                    number, now, params.strategy, params.batch_size, params.max_class_share,
                    params.seed, last_seq, trained_on, report.selected_by, report.labeled,
                    report.model, report.cv_score, report.scored, report.suppressed_by_neighbors,
                    report.suppressed_by_radius, report.capped, t.fit, t.score, t.select, t.total,
                    report.agreement,
                ),
            )  # fmt: skip
            if params.filter is not None:
                self._conn.execute(
                    "INSERT INTO round_filters VALUES (?, ?)", (number, params.filter)
                )
            found = report.candidate_set
            if found is not None:
                self._conn.execute(
                    "INSERT INTO round_candidates VALUES (?, ?, ?, ?, ?)",
                    (number, found.anchors, found.neighbors, found.sample, found.seconds),
                )
            self._conn.executemany(
                "INSERT INTO round_label_counts VALUES (?, ?, ?)",
                [(number, label, count) for label, count in report.label_counts.items()],
            )
            self._conn.executemany(
                "INSERT INTO round_leaderboard VALUES (?, ?, ?, ?, ?)",
                [(number, k, e.name, e.mean, e.std) for k, e in enumerate(report.leaderboard)],
            )
            self._conn.executemany(
                SELECTION_INSERT, [_selection_row(number, s) for s in selections]
            )
            self._conn.executemany(
                "INSERT INTO selection_why VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (number, s.rank, k, n.item_id, n.label, n.similarity)
                    for s in selections
                    for k, n in enumerate(s.why)
                ],
            )
            self._conn.executemany(
                "INSERT INTO selection_probabilities VALUES (?, ?, ?, ?, ?)",
                [
                    (number, s.rank, k, c.label, c.probability)
                    for s in selections
                    for k, c in enumerate(s.probabilities)
                ],
            )
            self._conn.executemany(
                "INSERT INTO selection_probes VALUES (?, ?, ?)",
                [(number, s.rank, s.probe) for s in selections if s.probe is not None],
            )
            self._conn.executemany(
                "INSERT INTO stop_predictions VALUES (?, ?, ?)",
                [(number, i, label) for i, label in (stop_predictions or {}).items()],
            )
            if new_stop_set:
                first = self._conn.execute("SELECT coalesce(max(position), -1) + 1 FROM stop_set")
                start = first.fetchone()[0]
                self._conn.executemany(
                    "INSERT OR IGNORE INTO stop_set VALUES (?, ?, ?)",
                    [(start + k, i, number) for k, i in enumerate(new_stop_set)],
                )
            (record,) = self._read_rounds("WHERE r.round = ?", (number,))
        return record

    def rounds(self) -> list[RoundRecord]:
        """Every recorded round, oldest first."""
        return self._read_rounds()

    def last_round(self) -> RoundRecord | None:
        rounds = self._read_rounds("WHERE r.round = (SELECT max(round) FROM rounds)")
        return rounds[0] if rounds else None

    def _read_rounds(self, where: str = "", args: Sequence[object] = ()) -> list[RoundRecord]:
        """Rounds matching ``where`` (over alias ``r``), oldest first, with their lists.

        A round is superseded by the next one when that was made before any label event arrived
        (so it was asked with other settings: the same settings re-use the open round).
        """
        rows = self._conn.execute(
            f"SELECT {_ROUND_COLUMNS}, n.round, f.filter,"
            " c.anchors, c.neighbors, c.sample, c.seconds"
            " FROM rounds r LEFT JOIN rounds n"
            " ON n.round = (SELECT min(round) FROM rounds WHERE round > r.round)"
            " AND n.last_seq = r.last_seq LEFT JOIN round_candidates c ON c.round = r.round"
            " LEFT JOIN round_filters f ON f.round = r.round"
            f" {where} ORDER BY r.round",
            args,
        ).fetchall()
        if not rows:
            return []
        numbers = [row[0] for row in rows]
        counts: dict[int, dict[str, int]] = {n: {} for n in numbers}
        board: dict[int, list[LeaderboardEntry]] = {n: [] for n in numbers}
        span = "round BETWEEN ? AND ?"
        bounds = (numbers[0], numbers[-1])
        for number, label, count in self._conn.execute(
            f"SELECT round, label, count FROM round_label_counts WHERE {span}"
            " ORDER BY round, rowid",
            bounds,
        ):
            if number in counts:
                counts[number][label] = count
        for number, name, mean, std in self._conn.execute(
            f"SELECT round, name, mean, std FROM round_leaderboard WHERE {span}"
            " ORDER BY round, position",
            bounds,
        ):
            if number in board:
                board[number].append(LeaderboardEntry(name, mean, std))
        records = []
        for row in rows:
            (number, created_at, strategy, batch_size, share, seed, last_seq, trained_on) = row[:8]
            (selected_by, labeled, model, cv_score, scored, by_neighbors, by_radius) = row[8:15]
            (capped, fit_s, score_s, select_s, total_s, agreement, superseded_by) = row[15:22]
            restricted = row[22]
            found = None if row[23] is None else CandidateSet(*row[23:])
            report = RoundReport(
                selected_by=selected_by,
                labeled=labeled,
                label_counts=counts[number],
                model=model,
                cv_score=cv_score,
                leaderboard=tuple(board[number]),
                scored=scored,
                suppressed_by_neighbors=by_neighbors,
                suppressed_by_radius=by_radius,
                capped=capped,
                timings=Timings(fit_s, score_s, select_s, total_s),
                agreement=agreement,
                candidate_set=found,
            )
            params = RoundParams(strategy, batch_size, share, seed, report.candidates, restricted)
            records.append(
                RoundRecord(number, created_at, params, last_seq, trained_on, report, superseded_by)
            )
        return records

    def selections(self, round_number: int) -> list[Selection]:
        """The batch of round ``round_number``, by rank."""
        why: dict[int, list[Neighbor]] = {}
        for rank, item_id, label, similarity in self._conn.execute(
            "SELECT rank, item_id, label, similarity FROM selection_why WHERE round = ?"
            " ORDER BY rank, position",
            (round_number,),
        ):
            why.setdefault(rank, []).append(Neighbor(item_id, label, similarity))
        every: dict[int, list[ClassProbability]] = {}
        for rank, label, probability in self._conn.execute(
            "SELECT rank, label, probability FROM selection_probabilities WHERE round = ?"
            " ORDER BY rank, position",
            (round_number,),
        ):
            every.setdefault(rank, []).append(ClassProbability(label, probability))
        probes = dict(
            self._conn.execute(
                "SELECT rank, label FROM selection_probes WHERE round = ?", (round_number,)
            ).fetchall()
        )
        return [
            Selection(
                rank,
                item_id,
                score,
                predicted,
                tuple(
                    ClassProbability(label, p)
                    for label, p in ((top1, p1), (top2, p2))
                    if label is not None
                ),
                tuple(why.get(rank, ())),
                tuple(every.get(rank, ())),
                probes.get(rank),
            )
            for rank, item_id, score, predicted, top1, p1, top2, p2 in self._conn.execute(
                "SELECT rank, item_id, score, predicted, top1, p1, top2, p2 FROM selections"
                " WHERE round = ? ORDER BY rank",
                (round_number,),
            )
        ]

    def selected_items(self) -> set[str]:
        """Every item ever put in a batch."""
        return {row[0] for row in self._conn.execute("SELECT DISTINCT item_id FROM selections")}

    def stop_set(self) -> list[str]:
        """The fixed items whose predictions feed the stopping signal (empty until drawn)."""
        return [
            row[0] for row in self._conn.execute("SELECT item_id FROM stop_set ORDER BY position")
        ]

    def stop_predictions(self, round_number: int) -> dict[str, str]:
        """Round ``round_number``'s model's predictions on the stop set."""
        return dict(
            self._conn.execute(
                "SELECT item_id, predicted FROM stop_predictions WHERE round = ?", (round_number,)
            ).fetchall()
        )

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


def _selection_row(number: int, s: Selection) -> tuple[object, ...]:
    top = [(c.label, c.probability) for c in s.top2[:2]] + [(None, None)] * (2 - len(s.top2[:2]))
    return (number, s.rank, s.item_id, s.score, s.predicted, *top[0], *top[1])


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any exception."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")
