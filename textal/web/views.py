"""What the pages are sent: typed view records, turned into JSON only at the HTTP boundary.

Field names are the JSON keys the page scripts read (``static/*.js``); review text in them has
passed :func:`textal.web.service.shown` (control and bidi characters removed) and reaches the
page through ``textContent`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import JSONResponse

from textal.web.figures import TeamFigures
from textal.web.why import Reason
from textal.web.wire import dump


@dataclass(frozen=True)
class Progress:
    """A batch's progress from the ledger: items no longer open, of ``total``; ``mine`` of
    them (or of the open ones) answered by the asking annotator."""

    done: int
    total: int
    mine: int


@dataclass(frozen=True)
class Neighbour:
    """A labeled review like the one asked (a snippet), its label and cosine similarity."""

    text: str
    label: str
    sim: float


@dataclass(frozen=True)
class ItemView:
    """The review asked, with why: ``top2`` ``[(label, probability)]``; ``probabilities`` each
    label's presence probability in a multi-label round (empty otherwise); ``returned`` when it
    comes back after the asker's own skip."""

    id: str
    text: str
    predicted: str | None
    top2: list[tuple[str, float]]
    probabilities: list[tuple[str, float]]
    score: float | None
    reason: Reason
    returned: bool
    why: list[Neighbour]


@dataclass(frozen=True)
class Waiting:
    """Why nothing is open for the asker: ``kind`` (``others``, ``round``, ``failed``,
    ``exhausted``, ``admin``) and the sentence shown."""

    kind: str
    text: str


@dataclass(frozen=True)
class QueueState:
    """The label page's state: the item leased to the asker, or ``waiting``; ``message`` after
    an undo with nothing to undo."""

    item: ItemView | None
    round: int | None
    round_running: bool
    progress: Progress
    waiting: Waiting | None = None
    message: str | None = None


@dataclass(frozen=True)
class HistoryEntry:
    """One of the asker's latest answers: their own latest event on the item."""

    id: str
    text: str
    kind: str  # label, ambiguous or unlabel
    label: str | None
    at: str


@dataclass(frozen=True)
class History:
    answers: list[HistoryEntry]


@dataclass(frozen=True)
class SearchResult:
    """A stored review found by keyword (``sim`` ``None``) or by similarity; its current label."""

    id: str
    text: str
    sim: float | None
    label: str | None


@dataclass(frozen=True)
class Results:
    """Search results; ``page`` (from 0) and whether a ``more`` page follows."""

    results: list[SearchResult]
    page: int = 0
    more: bool = False


@dataclass(frozen=True)
class RoundRow:
    """A round as the dashboard shows it."""

    round: int
    created_at: str
    strategy: str
    batch_size: int
    labeled: int  # the labels it trained on
    model: str | None
    cv_score: float | None
    agreement: float | None
    cold_start: bool
    filter: str | None = None  # the filter its unlabeled items were restricted to; None: all


@dataclass(frozen=True)
class DisagreementRow:
    """An unresolved item people answered differently: ``answers`` ``{annotator: label}``."""

    id: str
    text: str
    answers: dict[str, str]


@dataclass(frozen=True)
class SettingsView:
    """The admin's settings; a goal of 0 is none."""

    overlap: int
    batch_size: int
    goal_total: int
    goal_per_class: int


@dataclass(frozen=True)
class Left:
    """What is left to do: stored reviews with no answer, open reviews of the latest
    ``round``, disagreements nobody resolved, suspect labels."""

    unlabeled: int
    open_in_round: int
    round: int | None
    unresolved: int
    suspects: int | None  # as `textal status` counted them last (None: not counted yet)


@dataclass(frozen=True)
class Dashboard:
    """The dashboard's figures; ``labels`` and ``annotators`` are counts by name."""

    labels: dict[str, int]
    ambiguous: int
    items: int
    rounds: list[RoundRow]
    round_running: bool
    round_error: str | None
    annotators: dict[str, int]
    kappa: float | None
    multi_labeled: int
    resolved: int
    disagreements: list[DisagreementRow]
    settings: SettingsView
    team: TeamFigures
    left: Left
    stable: bool  # the stopping signal: agreement at :data:`stable_kappa` for 3 rounds
    stable_kappa: float


def respond(view: object) -> JSONResponse:
    """A view record as a JSON response."""
    return JSONResponse(dump(view, type(view)))
