"""Typed records of a round, shared from ``plan_round`` through the ledger to people.

Defined at the ledger layer (below round/ and model/) because the ledger stores them, column by
column, and gives them back as they went in.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

#: What a round that had fewer than two labeled classes did instead of its strategy.
COLD_START = "cold-start"


@dataclass(frozen=True)
class RoundParams:
    """Everything asked of a round that changes its batch.

    ``seed`` is ``None`` for rounds recorded before ledger schema 2, which did not store their
    cap or seed: such a round never counts as asked with the same settings again.
    ``candidates`` is what the round read: ``"all"`` (every stored item) or ``"index"`` (a
    candidate set retrieved from the vector index; ``auto`` resolves to one of them).
    ``filter`` is the filter the round's unlabeled items were restricted to, in the filter
    language (:func:`textal.store.filters.filter_text`); ``None``: every stored item.
    """

    strategy: str
    batch_size: int
    max_class_share: float | None = None
    seed: int | None = 0
    candidates: str = "all"
    filter: str | None = None


@dataclass(frozen=True)
class ClassProbability:
    """One of the model's likeliest classes for an item."""

    label: str
    probability: float


@dataclass(frozen=True)
class Neighbor:
    """A labeled item near a pick: why people are shown it."""

    item_id: str
    label: str
    similarity: float


@dataclass(frozen=True)
class Selection:
    """One item of a round's batch, ``rank`` 1 first. ``top2`` is best first; cold-start picks
    have no ``score``, ``predicted`` or ``top2``. In a multi-label workspace ``predicted`` is
    the predicted label set's canonical text (``""``: none of the labels) and
    ``probabilities`` holds each label's presence probability, in the workspace's label order
    (empty in single-label rounds). ``probe`` is the class with no label whose name this item
    was asked for (:mod:`textal.strategy.probes`), else None."""

    rank: int
    item_id: str
    score: float | None
    predicted: str | None
    top2: tuple[ClassProbability, ...] = ()
    why: tuple[Neighbor, ...] = ()
    probabilities: tuple[ClassProbability, ...] = ()
    probe: str | None = None


@dataclass(frozen=True)
class LeaderboardEntry:
    """One candidate model's cross-validated score: the macro-F1 of its pooled out-of-fold
    predictions (``mean``; ``std`` over the folds), as ranked by ``AutoClassifier``."""

    name: str
    mean: float
    std: float


@dataclass(frozen=True)
class Timings:
    """Seconds spent fitting, scoring the pool, and selecting (``total`` covers all three)."""

    fit: float = 0.0
    score: float = 0.0
    select: float = 0.0
    total: float = 0.0


@dataclass(frozen=True)
class CandidateSet:
    """What a round scored when it did not read the whole store (``--candidates index``): the
    unlabeled stored neighbours (``neighbors``) of ``anchors`` labeled items, plus a uniform
    ``sample``; ``seconds`` is the time retrieving them took."""

    anchors: int
    neighbors: int
    sample: int
    seconds: float = 0.0


@dataclass(frozen=True)
class RoundReport:
    """What a round did. ``selected_by`` is the strategy, or :data:`COLD_START` when fewer than
    two classes were labeled; ``agreement`` is the stopping signal (Cohen's kappa with the
    previous trained round's stop-set predictions), ``None`` when there is no evidence.
    ``candidate_set`` is ``None`` when the round read every stored item."""

    selected_by: str
    labeled: int
    label_counts: Mapping[str, int] = field(default_factory=dict)
    model: str | None = None
    cv_score: float | None = None
    leaderboard: tuple[LeaderboardEntry, ...] = ()
    scored: int = 0
    suppressed_by_neighbors: int = 0
    suppressed_by_radius: int = 0
    capped: int = 0
    timings: Timings = Timings()
    agreement: float | None = None
    candidate_set: CandidateSet | None = None

    @property
    def cold_start(self) -> bool:
        return self.selected_by == COLD_START

    @property
    def candidates(self) -> str:
        """``"index"`` when the round scored a candidate set from the index, else ``"all"``."""
        return "all" if self.candidate_set is None else "index"


@dataclass(frozen=True)
class RoundRecord:
    """A recorded round. ``last_seq`` is the newest label event when it was made;
    ``trained_on`` identifies its label set (:func:`labels_digest`); ``superseded_by`` names the
    round that replaced it before any label arrived (its items were then free again)."""

    round: int
    created_at: str
    params: RoundParams
    last_seq: int
    trained_on: str
    report: RoundReport
    superseded_by: int | None = None


def labels_digest(labels: Mapping[str, str]) -> str:
    """A short fingerprint of a label set: equal exactly when the ``{item: label}`` maps are."""
    h = hashlib.sha256()
    for item_id in sorted(labels):
        h.update(f"{len(item_id)}:{item_id}{len(labels[item_id])}:{labels[item_id]}".encode())
    return h.hexdigest()[:32]
