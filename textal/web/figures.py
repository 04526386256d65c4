"""The lead's figures on the dashboard, from the label history: who answered how much, how fast,
how often they agree with the others, and labels per day in the viewer's time zone.

An *answer* is a person's ``label`` or ``ambiguous`` event (an admin's resolution is no one's
answer). Speed is the median gap between a person's consecutive answers, counting only gaps
under :data:`SITTING_GAP_S` (a longer one is a break, not a slow answer). Agreement with the
consensus: over the items where the others' latest labels have one most common label, the share
where this person's latest label is that label.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from statistics import median

from textal.ledger import AMBIGUOUS, LABEL, LabelEvent
from textal.quality.agreement import labels_by_annotator

SITTING_GAP_S = 600.0
DAYS_SHOWN = 7


@dataclass(frozen=True)
class PersonFigures:
    """One annotator: ``answers`` in all, ``today`` (viewer's day), ``last_hour``;
    ``median_seconds`` per answer (``None`` under two answers in a sitting); ``agreement``
    with the others' consensus on ``compared`` items (``None`` when none)."""

    name: str
    answers: int
    today: int
    last_hour: int
    median_seconds: float | None
    agreement: float | None
    compared: int


@dataclass(frozen=True)
class DayCount:
    """Answers on ``day`` (``YYYY-MM-DD`` in the viewer's time zone) by annotator."""

    day: str
    by_annotator: dict[str, int]


@dataclass(frozen=True)
class AnswerAgreement:
    """Items with answers from several people: Cohen's ``kappa`` over each such item's first two
    answers (``None`` with one class only), how many there are (``multi_labeled``), the
    unresolved ``disagreements`` as ``(item, [(annotator, label), ...])`` and how many items
    were ``resolved`` (their latest event a resolution)."""

    kappa: float | None
    multi_labeled: int
    disagreements: list[tuple[str, list[tuple[str, str]]]]
    resolved: int


@dataclass(frozen=True)
class TeamFigures:
    people: list[PersonFigures]
    days: list[DayCount]  # the last :data:`DAYS_SHOWN` days, oldest first


def _consensus(labels: Sequence[str]) -> str | None:
    """The single most common label, ``None`` on a tie."""
    ranked = Counter(labels).most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return None
    return ranked[0][0]


def _agreement(answers: Sequence[LabelEvent]) -> dict[str, tuple[int, int]]:
    """``{annotator: (agreed, compared)}`` with the others' consensus."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for labels in labels_by_annotator(answers).values():
        for name, label in labels.items():
            others = _consensus([v for who, v in labels.items() if who != name])
            if others is not None:
                out[name][0] += label == others
                out[name][1] += 1
    return {name: (agreed, compared) for name, (agreed, compared) in out.items()}


def team_figures(
    events: Sequence[LabelEvent], *, now: datetime, offset: timedelta, resolution: str
) -> TeamFigures:
    """Figures over ``events`` (ledger order); ``now`` aware; days are shifted by ``offset``
    (the viewer's UTC offset); events of source ``resolution`` are left out."""
    people = [e for e in events if e.source != resolution]
    answers = [e for e in people if e.kind in (LABEL, AMBIGUOUS)]
    when = {e.seq: datetime.fromisoformat(e.created_at) for e in answers}
    today = (now + offset).date()
    first_day = today - timedelta(days=DAYS_SHOWN - 1)
    days: dict[str, Counter[str]] = {
        str(first_day + timedelta(days=k)): Counter() for k in range(DAYS_SHOWN)
    }
    times: dict[str, list[datetime]] = defaultdict(list)
    for e in answers:
        times[e.annotator].append(when[e.seq])
        day = str((when[e.seq] + offset).date())
        if day in days:
            days[day][e.annotator] += 1
    agreement = _agreement(people)
    figures = []
    for name in sorted(times):
        stamps = sorted(times[name])
        gaps = [s for a, b in pairwise(stamps) if (s := (b - a).total_seconds()) < SITTING_GAP_S]
        agreed, compared = agreement.get(name, (0, 0))
        figures.append(
            PersonFigures(
                name=name,
                answers=len(stamps),
                today=sum((t + offset).date() == today for t in stamps),
                last_hour=sum(now - t < timedelta(hours=1) for t in stamps),
                median_seconds=median(gaps) if gaps else None,
                agreement=agreed / compared if compared else None,
                compared=compared,
            )
        )
    return TeamFigures(figures, [DayCount(day, dict(c)) for day, c in days.items()])


def answer_agreement(events: Sequence[LabelEvent], *, resolution: str) -> AnswerAgreement:
    """:class:`AnswerAgreement` over ``events`` (ledger order); a later answer on a resolved
    item opens the question again."""
    from sklearn.metrics import cohen_kappa_score

    per_item: dict[str, dict[str, str | None]] = defaultdict(dict)
    resolved: set[str] = set()
    for event in events:
        if event.source == resolution:
            resolved.add(event.item_id)
            continue
        resolved.discard(event.item_id)
        per_item[event.item_id][event.annotator] = event.label if event.kind == LABEL else None
    pairs, disagreements = [], []
    for item_id, answers in per_item.items():
        given = [(a, label) for a, label in answers.items() if label is not None]
        if len(given) >= 2:
            pairs.append((given[0][1], given[1][1]))
            if len({label for _, label in given}) > 1 and item_id not in resolved:
                disagreements.append((item_id, given))
    kappa = None
    if pairs and len({x for p in pairs for x in p}) > 1:
        kappa = float(cohen_kappa_score([a for a, _ in pairs], [b for _, b in pairs]))
    return AnswerAgreement(kappa, len(pairs), disagreements, len(resolved))
