"""What the web app does, without HTTP: leases, labels, background rounds, dashboard figures.

Threads: SQLite connections belong to the thread that made them, so every request-side use of the
workspace runs on one worker thread (:meth:`LabelService.call`), which also serialises the lease
table without a lock. A round runs on its own thread with its own ledger connection; the two
share the store, opened with ``Workspace.open(threads=True)`` (one call at a time: the Milvus Lite
client is not known to be thread safe). Labeling never waits for a round, only for single store
calls.

Leases live in memory: a killed server's leases vanish with it, so its items come back at once.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from textal.data.readers import SourceSummary
from textal.errors import TextalError, show_value
from textal.ingest import IngestReport
from textal.ledger import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    Answer,
    LabelEvent,
    LabelValue,
    RoundRecord,
    Selection,
    labels_digest,
)
from textal.ledger.annotators import Annotator
from textal.model.predictor import Predictor, TrainedModel
from textal.round.stopping import STABLE_KAPPA
from textal.store.base import Item
from textal.store.filters import Filter
from textal.textsafe import terminal_safe
from textal.web.figures import answer_agreement, team_figures
from textal.web.jobs import Job, JobBoard
from textal.web.views import (
    Dashboard,
    DisagreementRow,
    History,
    HistoryEntry,
    ItemView,
    Left,
    Neighbour,
    Progress,
    QueueState,
    Results,
    RoundRow,
    SearchResult,
    SettingsView,
    Waiting,
)
from textal.web.why import reason
from textal.web.wire import dump
from textal.workspace import Workspace
from textal.workspace.guidelines import Guidelines, checked, load_guidelines, save_guidelines
from textal.workspace.workspace import RoundResult, Source

T = TypeVar("T")
LEASE_SECONDS = 300.0
LOCAL_USER = ":local"  # the CLI's credential while `serve` runs; no account has this name
WHY_CHARS = 160
SEARCH_LIMIT = 50  # search results a page
BULK_LIMIT = 500  # ids in one bulk labeling
QUERY_CHARS = 5_000  # a typed "similar to" sentence; the model reads ~1,000 characters anyway
HISTORY_LENGTH = 10
RESOLUTION = "resolution"  # the source of an admin's resolution event


def shown(text: str) -> str:
    """Review text as the page shows it: control and bidi characters removed. HTML escaping is
    left to Jinja's autoescape and to ``textContent`` in the browser."""
    return terminal_safe(text)


def _reviews(n: int) -> str:
    return f"{n} review" if n == 1 else f"{n} reviews"


def web_answer(name: str, item_id: str, label: LabelValue | None, source: str = "web") -> Answer:
    """``name``'s answer as the page sends it: a label (a set of labels in a multi-label
    workspace), or no label for "ambiguous"."""
    if label is None:
        return Answer(item_id, None, AMBIGUOUS, name, source)
    return Answer(item_id, label, LABEL, name, source)


def round_view(record: RoundRecord) -> RoundRow:
    """A round as the dashboard shows it."""
    return RoundRow(
        round=record.round,
        created_at=record.created_at,
        strategy=record.report.selected_by,
        batch_size=record.params.batch_size,
        labeled=record.report.labeled,
        model=record.report.model,
        cv_score=record.report.cv_score,
        agreement=record.report.agreement,
        cold_start=record.report.cold_start,
        filter=record.params.filter,
    )


@dataclass(frozen=True)
class RoundRequest:
    """A round's parameters as :meth:`Workspace.round` takes them."""

    batch_size: int = 20
    strategy: str | None = None
    max_class_share: float | None = None
    seed: int = 0
    candidates: str = "auto"
    filter: Filter | None = None  # textal.store.filters: which unlabeled items it may ask


SEARCH_STATUSES = ("any", "unlabeled", "labeled")


@dataclass(frozen=True)
class SearchQuery:
    """What the search page asks: ``text`` contained (case-insensitive; empty: any text), a
    ``status`` of :data:`SEARCH_STATUSES` (``unlabeled``: no label, not marked ambiguous), the
    current ``label``, the ``predicted`` class, a metadata ``filter``, and the ``page``
    (from 0)."""

    text: str = ""
    status: str = "any"
    label: str | None = None
    predicted: str | None = None
    filter: Filter | None = None
    page: int = 0


def _status_matches(query: SearchQuery, label: str | None, ambiguous: bool) -> bool:
    """Whether an item with current ``label`` (``None``: none) passes ``query``'s status and
    label restrictions."""
    if query.status == "unlabeled" and (label is not None or ambiguous):
        return False
    if query.status == "labeled" and label is None:
        return False
    return query.label is None or label == query.label


@dataclass
class Settings:
    """What an admin may change while the server runs."""

    overlap: int = 1  # distinct annotators per item (2 or 3 for agreement)
    batch_size: int = 20
    lease_seconds: float = LEASE_SECONDS
    goal_total: int = 0  # the lead's goal: labels in all (0: none)
    goal_per_class: int = 0  # and labels of each class (0: none)


@dataclass
class _People:
    """Per-annotator state of this process: skipped items (``{item: when}``, oldest first come
    back first) and the undo stack."""

    skipped: dict[str, float] = field(default_factory=dict)
    done: list[str] = field(default_factory=list)


class LabelService:
    """The workspace as the web app uses it. Create with :meth:`open`; :meth:`close` at exit."""

    def __init__(self, path: Path, *, settings: Settings | None = None, autostart: bool = True):
        self.path = path
        self.settings = settings or Settings()
        self.autostart = autostart  # start a round by itself when the batch runs out
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="textal-web")
        self._leases: dict[str, dict[str, float]] = defaultdict(dict)
        self._people: dict[str, _People] = defaultdict(_People)
        self.jobs = JobBoard()
        self.local_token: str | None = None  # set by `serve`: the CLI's credential
        self._predictor: Predictor | None = None  # what /api/v1/predict serves
        self._predictor_lock = threading.Lock()
        self._pending: list[tuple[Answer, Future[QueueState]]] = []
        self._pending_lock = threading.Lock()
        self._batch_cache: tuple[int, list[Selection]] | None = None
        self.round_error: str | None = None
        self._failed_at_seq: int | None = None
        self._encoder_lock = threading.Lock()
        self.ws: Workspace = self._executor.submit(self._open).result()

    def _open(self) -> Workspace:
        ws = Workspace.open(self.path, create=False, threads=True)
        if not ws.config.labels:
            ws.close()
            raise TextalError(
                f"workspace {ws.path} has no label set: run "
                "`textal init --workspace DIR --labels a,b,...` first"
            )
        return ws

    def close(self) -> None:
        """Stop: ingests are cancelled after their batch in hand, a round is let finish."""
        for job in self.jobs.running():
            if job.kind != "round":
                job.cancel.set()
            job.finished.wait()
        self._executor.submit(self.ws.close).result()
        self._executor.shutdown()

    # -- threading ------------------------------------------------------------------------

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the workspace thread and wait (for scripts and tests)."""
        return self._executor.submit(fn, *args).result()

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the workspace thread without blocking the event loop."""
        return await asyncio.wrap_future(self._executor.submit(fn, *args))

    # -- accounts -------------------------------------------------------------------------

    def login(self, token: str, seconds: float) -> tuple[Annotator, str] | None:
        """The account of ``token`` and a new session id, or ``None`` for an unknown token."""
        return self.ws.accounts.open_session(token, seconds=seconds)

    def account(self, session_id: str) -> Annotator | None:
        """The session's account, or ``None`` once the session ended, its account was removed or
        issued a new token (from this process or from ``textal annotators`` in another)."""
        return self.ws.accounts.session_account(session_id)

    def logout(self, session_id: str) -> None:
        self.ws.accounts.end_session(session_id)

    def bearer(self, token: str) -> Annotator | None:
        """The account whose login token a script sends as ``Authorization: Bearer``, or the
        CLI's local credential (:attr:`local_token`: an admin that may name files by path)."""
        if self.local_token is not None and secrets.compare_digest(token, self.local_token):
            return Annotator(LOCAL_USER, "admin", "")
        return self.ws.accounts.find(token=token)

    # -- the queue ------------------------------------------------------------------------

    @property
    def labels(self) -> list[str]:
        return list(self.ws.config.labels)

    def round_running(self) -> bool:
        return bool(self.jobs.running("round"))

    def _answers(self, item_ids: list[str]) -> dict[str, dict[str, str]]:
        """``{item_id: {annotator: kind of their latest event}}`` (one ledger query)."""
        latest: dict[str, dict[str, str]] = {item_id: {} for item_id in item_ids}
        for event in self.ws.events_of(item_ids):
            latest[event.item_id][event.annotator] = event.kind
        return latest

    def _still_open(self, answers: dict[str, str]) -> bool:
        """Whether the item still wants an answer (for anybody)."""
        kinds = list(answers.values())
        if AMBIGUOUS in kinds:
            return False
        return kinds.count(LABEL) < self.settings.overlap

    def next_item(self, name: str) -> QueueState:
        """Lease the next item of the open batch to ``name``: its view, or a waiting state.

        ``name`` gets the item they hold already, else the first free one they did not skip,
        else the free ones they skipped, longest ago first: a skipped item goes to the others
        first and comes back to ``name`` once nothing else is left, so a skip never stalls."""
        last = self.ws.last_round()
        if last is None:
            self._maybe_start_round()
            return self._waiting(name, None)
        now = time.monotonic()
        skipped = self._people[name].skipped
        held = fresh = None
        returned: list[Selection] = []
        free_for_anyone = False
        leased = waiting_for_others = 0  # open items with others / answered by name
        batch = self._batch(last.round)
        all_answers = self._answers([s.item_id for s in batch])
        for selection in batch:
            answers = all_answers[selection.item_id]
            if not self._still_open(answers):
                continue
            leases = self._leases[selection.item_id]
            for holder, expiry in list(leases.items()):
                if expiry <= now:
                    del leases[holder]
            others = [a for a in leases if a != name and answers.get(a) != LABEL]
            free = list(answers.values()).count(LABEL) + len(others) < self.settings.overlap
            free_for_anyone |= free and not leases
            if answers.get(name) == LABEL:
                waiting_for_others += 1
            elif name in leases:
                held = held or selection
            elif not free:
                leased += 1
            elif selection.item_id in skipped:
                returned.append(selection)
            elif fresh is None:
                fresh = selection
        mine = held or fresh or min(returned, key=lambda s: skipped[s.item_id], default=None)
        progress = self._progress(name, last, all_answers)
        if mine is None:
            if not free_for_anyone:
                self._maybe_start_round()
            return self._waiting(
                name, last, leased=leased, second=waiting_for_others, progress=progress
            )
        self._leases[mine.item_id][name] = now + self.settings.lease_seconds
        return self._view(name, mine, last, progress)

    def _batch(self, round_number: int) -> list[Selection]:
        """A round's selections (recorded once, never changed: kept for the latest round)."""
        if self._batch_cache is None or self._batch_cache[0] != round_number:
            self._batch_cache = (round_number, self.ws.selections(round_number))
        return self._batch_cache[1]

    def _progress(
        self, name: str, last: RoundRecord | None, answers: dict[str, dict[str, str]] | None = None
    ) -> Progress:
        """The latest batch's progress, from the ledger (the same in every tab and process);
        ``answers``: the batch's :meth:`_answers` when the caller has them already."""
        if last is None:
            return Progress(0, 0, 0)
        batch = self._batch(last.round)
        if answers is None:
            answers = self._answers([s.item_id for s in batch])
        return Progress(
            done=sum(not self._still_open(a) for a in answers.values()),
            total=len(batch),
            mine=sum(a.get(name) in (LABEL, AMBIGUOUS) for a in answers.values()),
        )

    def _waiting(
        self,
        name: str,
        last: RoundRecord | None,
        *,
        leased: int = 0,
        second: int = 0,
        progress: Progress | None = None,
    ) -> QueueState:
        """Nothing for ``name`` now, and what happens next in words: never a batch promised
        that no round is computing. ``leased``: open items others hold; ``second``: open items
        ``name`` answered that wait for more people's answers."""
        kind, text = self._what_next(last, leased=leased, second=second)
        return QueueState(
            item=None,
            round=last.round if last else None,
            round_running=self.round_running(),
            progress=progress or self._progress(name, last),
            waiting=Waiting(kind, text),
        )

    def _what_next(self, last: RoundRecord | None, *, leased: int, second: int) -> tuple[str, str]:
        this = f"round {last.round}" if last else "this round"
        if leased:
            rest = f"The rest of {this} ({_reviews(leased)}) is with other annotators"
            if self.round_running():
                return "others", f"{rest}; the next round is being computed meanwhile."
            return "others", (
                f"{rest}. A review comes back here if they skip it or leave it for "
                f"{self.settings.lease_seconds / 60:.0f} minutes."
            )
        if second:
            return "others", (
                f"{_reviews(second).capitalize()} of {this} wait for another annotator's answer "
                f'(each needs {self.settings.overlap}). An admin can change "Annotators per '
                'item" on the dashboard.'
            )
        if self.round_running():
            if last is None:
                return "round", "The first round is being computed; its reviews appear here."
            return "round", (
                f"Round {last.round} is done. The next round is being computed from the labels "
                "so far; its reviews appear here when it is ready."
            )
        if self.round_error is not None:
            return "failed", (
                f"The last round failed: {terminal_safe(self.round_error)}. An admin can retry "
                'with "Start a round now" on the dashboard.'
            )
        if last is not None and not self._batch(last.round):
            return "exhausted", (
                f"Round {last.round} had nothing to ask: every stored review is labeled or "
                "marked ambiguous."
            )
        how = 'with "Start a round now" on the dashboard.'
        if last is None:
            return "admin", f"No round yet: an admin starts the first one {how}"
        return "admin", (
            f"Round {last.round} is done and no new round is running: an admin starts the next "
            f"one {how}"
        )

    def _view(
        self,
        name: str,
        selection: Selection,
        last: RoundRecord | None,
        progress: Progress | None = None,
    ) -> QueueState:
        why = selection.why
        neighbours = {item.id: item.text for item in self.ws.store.get([n.item_id for n in why])}
        (item,) = self.ws.store.get([selection.item_id])
        view = ItemView(
            id=item.id,
            text=shown(item.text),
            predicted=selection.predicted,
            top2=[(c.label, float(c.probability)) for c in selection.top2],
            probabilities=[(c.label, float(c.probability)) for c in selection.probabilities],
            score=selection.score,
            reason=reason(selection, last),
            returned=selection.item_id in self._people[name].skipped,
            why=[
                Neighbour(shown(neighbours[n.item_id])[:WHY_CHARS], n.label, float(n.similarity))
                for n in why
            ],
        )
        return QueueState(
            item=view,
            round=last.round if last else None,
            round_running=self.round_running(),
            progress=progress or self._progress(name, last),
        )

    def history(self, name: str, limit: int = HISTORY_LENGTH) -> History:
        """``name``'s latest answers, newest first: one row per item with their own latest
        event on it (``label``, ``ambiguous`` or ``unlabel``)."""
        latest: dict[str, LabelEvent] = {}
        for event in self.ws.history():
            if event.annotator == name:
                latest.pop(event.item_id, None)
                latest[event.item_id] = event
        recent = list(latest.values())[: -limit - 1 : -1]
        texts = {item.id: item.text for item in self.ws.store.get([e.item_id for e in recent])}
        return History(
            [
                HistoryEntry(
                    id=e.item_id,
                    text=shown(texts.get(e.item_id, ""))[:WHY_CHARS],
                    kind=e.kind,
                    label=e.label,
                    at=e.created_at,
                )
                for e in recent
            ]
        )

    def _release(self, name: str, item_id: str) -> None:
        self._leases.get(item_id, {}).pop(name, None)

    # -- guidelines -----------------------------------------------------------------------

    def guidelines(self) -> Guidelines:
        """Read on every page load: ``textal guidelines FILE`` may change them while serving."""
        return load_guidelines(self.path)

    def set_guidelines(self, instructions: str, descriptions: dict[str, str]) -> Guidelines:
        guidelines = checked(instructions, descriptions, self.labels, where="guidelines")
        save_guidelines(self.path, guidelines)
        return guidelines

    # -- answers --------------------------------------------------------------------------

    def record(self, name: str, item_id: str, label: LabelValue | None) -> None:
        """Record ``label`` (``None``: ambiguous) as ``name``'s ledger event, committed before
        this returns, so an acknowledged label survives a crash."""
        self.ws.write_answers([web_answer(name, item_id, label)], confirm=True)
        self._answered(name, item_id)

    def record_all(self, name: str, item_ids: Sequence[str], label: LabelValue | None) -> int:
        """Bulk labeling from search results: ``name``'s answer ``label`` on each of
        ``item_ids``, all in one :meth:`Workspace.write_answers` (all or nothing: an unknown id
        records none). Returns how many items were recorded."""
        if not 1 <= len(item_ids) <= BULK_LIMIT:
            raise TextalError(f"field 'ids': from 1 to {BULK_LIMIT} ids")
        unique = list(dict.fromkeys(item_ids))
        self.ws.write_answers([web_answer(name, i, label) for i in unique], confirm=True)
        for item_id in unique:
            self._answered(name, item_id)
        return len(unique)

    def label(self, name: str, item_id: str, label: LabelValue | None) -> QueueState:
        """:meth:`record`, then lease the next item."""
        self.record(name, item_id, label)
        return self.next_item(name)

    async def answer(self, name: str, item_id: str, label: LabelValue | None) -> QueueState:
        """:meth:`label` with group commit: answers that arrive while the workspace thread is
        busy are committed together in one transaction (one disk sync for all of them)."""
        done: Future[QueueState] = Future()
        with self._pending_lock:
            self._pending.append((web_answer(name, item_id, label), done))
        self._executor.submit(self._commit_pending)
        return await asyncio.wrap_future(done)

    def _commit_pending(self) -> None:
        """The group commit: every parked answer through :meth:`Workspace.write_answers` at
        once; a refused one fails only its own request."""
        with self._pending_lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            written = self.ws.write_answers(
                [answer for answer, _ in pending],
                confirm=True,  # each person's answer counts, for agreement and suspects
                partial=True,
            )
        except Exception as exc:
            for _, done in pending:
                done.set_exception(exc)
            return
        for k, (answer, done) in enumerate(pending):
            if k in written.refused:
                done.set_exception(written.refused[k])
                continue
            try:
                self._answered(answer.annotator, answer.item_id)
                done.set_result(self.next_item(answer.annotator))
            except Exception as exc:
                done.set_exception(exc)

    def _answered(self, name: str, item_id: str) -> None:
        self._release(name, item_id)
        person = self._people[name]
        person.done.append(item_id)
        person.skipped.pop(item_id, None)

    def skip(self, name: str, item_id: str) -> QueueState:
        """Hand the item back: the others get it first, ``name`` once nothing else is left."""
        self._release(name, item_id)
        skipped = self._people[name].skipped
        skipped.pop(item_id, None)
        skipped[item_id] = time.monotonic()
        return self.next_item(name)

    def undo(self, name: str) -> QueueState:
        """Record an ``unlabel`` event for ``name``'s last answer and show that item again."""
        person = self._people[name]
        if not person.done:
            return replace(self.next_item(name), message="nothing to undo")
        item_id = person.done.pop()
        self.ws.write_answers([Answer(item_id, None, UNLABEL, name, "web")])
        last = self.ws.last_round()
        selection = None
        if last is not None:
            selection = next((s for s in self._batch(last.round) if s.item_id == item_id), None)
        selection = selection or Selection(0, item_id, None, None)
        self._leases[item_id][name] = time.monotonic() + self.settings.lease_seconds
        return self._view(name, selection, last)

    # -- rounds ---------------------------------------------------------------------------

    def _maybe_start_round(self) -> None:
        last = self.ws.last_round()
        if not self.autostart or self.round_running():
            return
        seq = self.ws.last_seq()
        if last is not None and last.last_seq == seq:
            return  # no label since the last round: it would be the same batch
        if self._failed_at_seq == seq:
            return  # it failed on these very labels: an admin may retry from the dashboard
        self.start_round()

    def start_round(self) -> bool:
        """Start a round with the admin's settings; ``False`` when one is running already."""
        return self.start_round_job(RoundRequest(self.settings.batch_size)) is not None

    def start_round_job(self, request: RoundRequest) -> Job | None:
        """Start a round in the background (``None`` when one is running already); its job's
        result is the :class:`RoundResult`. Labeling goes on meanwhile."""
        if self.round_running():
            return None
        self.round_error = None
        self._failed_at_seq = None

        def work(job: Job) -> Any:
            with self.ws.sibling() as ws:
                seq = ws.last_seq()
                try:
                    result = ws.round(
                        batch_size=request.batch_size,
                        strategy=request.strategy,
                        max_class_share=request.max_class_share,
                        seed=request.seed,
                        candidates=request.candidates,
                        filter=request.filter,
                    )
                except Exception as exc:  # shown on the dashboard; labeling goes on
                    self.round_error = str(exc) if isinstance(exc, TextalError) else repr(exc)
                    self._failed_at_seq = seq
                    print(f"round failed: {terminal_safe(self.round_error)}", file=sys.stderr)
                    raise
                if self._predictor is not None and not result.round.report.cold_start:
                    self._train_predictor(ws)  # the next model, swapped in whole
            return dump(result, RoundResult)

        return self.jobs.start("round", work)

    # -- background work ------------------------------------------------------------------

    def start_ingest(self, source: Source) -> Job:
        """Embed and store a checked source in the background (see :meth:`Workspace.ingest`);
        labeling and rounds go on, and a round started meanwhile sees what is stored."""
        report = IngestReport()

        def progress() -> dict[str, int]:
            return {
                "rows": source.summary.rows,
                "read": report.read,
                "embedded": report.embedded,
                "stored": report.added,
                "already_stored": report.already_stored,
            }

        def work(job: Job) -> Any:
            self.ws.encoder  # noqa: B018 - loaded once, shared (its calls are serialised)
            with self.ws.sibling() as ws:
                done, summary = ws.ingest(source, report=report, cancel=job.cancel)
            return {"report": dump(done, IngestReport), "summary": dump(summary, SourceSummary)}

        return self.jobs.start("ingest", work, progress)

    async def served_predictor(self) -> Predictor:
        """The model ``POST /api/v1/predict`` serves: the one the last round's job trained
        (swapped in whole, one reference assignment), or, before any, one trained now."""
        current = self._predictor
        if current is None:
            current = await self.off_thread(self._train_predictor)
        return current

    def _train_predictor(self, ws: Workspace) -> Predictor:
        with self._predictor_lock:  # one training at a time; the others take its result
            digest = labels_digest(ws.current_labels())
            if self._predictor is None or self._predictor.model.card.trained_on != digest:
                self._predictor = ws.predictor()
            return self._predictor

    async def off_thread(self, work: Callable[[Workspace], T]) -> T:
        """``work(workspace)`` on a thread of its own with its own ledger connection: for what
        takes seconds (suspects, exports with predictions); labeling goes on meanwhile."""

        def run() -> T:
            with self.ws.sibling() as ws:
                return work(ws)

        return await asyncio.to_thread(run)

    # -- search ---------------------------------------------------------------------------

    def search(self, query: SearchQuery, model: TrainedModel | None = None) -> Results:
        """Page ``query.page`` (:data:`SEARCH_LIMIT` a page) of the stored items ``query``
        matches, in store order; ``model`` predicts for ``query.predicted`` (required then).
        A query with no text and no restriction finds nothing."""
        for name, value in (("label", query.label), ("predicted", query.predicted)):
            if value is not None and value not in self.labels:
                raise TextalError(f"field {name!r}: unknown label {show_value(value)}")
        if query.status not in SEARCH_STATUSES:
            raise TextalError(f"field 'status': one of {', '.join(SEARCH_STATUSES)}")
        needle = query.text.casefold().strip()
        if not needle and replace(query, page=0) == SearchQuery():
            return Results([])
        labels = self.ws.current_labels()
        ambiguous = self.ws.ambiguous_items()
        wanted = (query.page + 1) * SEARCH_LIMIT + 1  # one more tells whether a next page exists
        found: list[Item] = []
        for chunk in self.ws.store.iterate(filter=query.filter):
            rows = [
                k
                for k, item_id in enumerate(chunk.ids)
                if _status_matches(query, labels.get(item_id), item_id in ambiguous)
            ]
            if query.predicted is not None and rows:
                assert model is not None, "a predicted-class search needs the model"
                said = model.predict_vectors(chunk.vectors[rows]).labels
                rows = [k for k, p in zip(rows, said, strict=True) if p == query.predicted]
            items = self.ws.store.get([chunk.ids[k] for k in rows])
            found += [item for item in items if needle in item.text.casefold()]
            if len(found) >= wanted:
                break
        start = query.page * SEARCH_LIMIT
        shown_items = [(item, None) for item in found[start : start + SEARCH_LIMIT]]
        return replace(
            self._results(shown_items), page=query.page, more=len(found) > start + SEARCH_LIMIT
        )

    def embed_query(self, text: str) -> np.ndarray:
        """A typed sentence's vector, shape (1, dim). Thread-safe and meant to run OFF the
        workspace thread, so a long text never holds up anybody's labeling."""
        if len(text) > QUERY_CHARS:
            raise TextalError(f"field 'text': at most {QUERY_CHARS:,} characters")
        with self._encoder_lock:
            return self.ws.encoder.encode([text])

    def similar(self, *, vector: np.ndarray | None = None, item_id: str | None = None) -> Results:
        """Nearest stored items to a query ``vector`` (from :meth:`embed_query`) or to a stored
        item (an unknown ``item_id`` is refused)."""
        if item_id is not None:
            if not self.ws.store.existing_ids([item_id]):
                raise TextalError(f"field 'id': unknown id {show_value(item_id)}")
            vector = self.ws.store.get_vectors([item_id])
        if vector is None:
            return Results([])
        hits = [(i, s) for i, s in self.ws.store.search(vector, 21)[0] if i != item_id][:20]
        items = self.ws.store.get([i for i, _ in hits])
        return self._results([(item, sim) for item, (_, sim) in zip(items, hits, strict=True)])

    def _results(self, found: Sequence[tuple[Item, float | None]]) -> Results:
        labels = self.ws.current_labels()
        return Results(
            [
                SearchResult(item.id, shown(item.text), sim, labels.get(item.id))
                for item, sim in found
            ]
        )

    # -- dashboard ------------------------------------------------------------------------

    def dashboard(self, offset: timedelta = timedelta(0)) -> Dashboard:
        """The dashboard's figures; days counted in the viewer's UTC ``offset``."""
        history = self.ws.history()
        answers = answer_agreement(history, resolution=RESOLUTION)
        disagreements = answers.disagreements
        current = self.ws.current_labels()
        counts = Counter(current.values())
        ambiguous = len(self.ws.ambiguous_items())
        items = self.ws.store.count()
        status = self.ws.status()  # the stopping verdict and cached suspect count of the CLI's
        rounds = self.ws.rounds()
        last = rounds[-1] if rounds else None
        progress = self._progress("", last)
        by_annotator = Counter(
            e.annotator for e in history if e.kind == LABEL and e.source != RESOLUTION
        )
        texts = {i.id: i.text for i in self.ws.store.get([d[0] for d in disagreements[:50]])}
        return Dashboard(
            labels=dict(sorted(counts.items())),
            ambiguous=ambiguous,
            items=items,
            rounds=[round_view(r) for r in rounds],
            round_running=self.round_running(),
            round_error=self.round_error,
            annotators=dict(sorted(by_annotator.items())),
            kappa=answers.kappa,
            multi_labeled=answers.multi_labeled,
            resolved=answers.resolved,
            disagreements=[
                DisagreementRow(i, shown(texts[i])[:WHY_CHARS], dict(given))
                for i, given in disagreements[:50]
            ],
            settings=SettingsView(
                self.settings.overlap,
                self.settings.batch_size,
                self.settings.goal_total,
                self.settings.goal_per_class,
            ),
            team=team_figures(history, now=datetime.now(UTC), offset=offset, resolution=RESOLUTION),
            left=Left(
                unlabeled=max(items - len(current) - ambiguous, 0),
                open_in_round=progress.total - progress.done,
                round=last.round if last else None,
                unresolved=len(disagreements),
                suspects=status.suspects,
            ),
            stable=status.stable,
            stable_kappa=STABLE_KAPPA,
        )

    def resolve(self, name: str, item_id: str, label: LabelValue | None) -> None:
        """A reviewer's or an admin's resolution of a disagreement: ``label`` (``None``:
        ambiguous) becomes the item's current label, what rounds train on. Recorded as
        ``name``'s event with source :data:`RESOLUTION`, which the agreement figures leave out
        (it is no one's answer)."""
        self.ws.write_answers(
            [web_answer(name, item_id, label, RESOLUTION)], confirm=True, where=["web"]
        )

    def export_csv(self, path: Path) -> int:
        return self.ws.export(path)
