"""Annotator agreement from the label history: what each person last said about each item.

The ledger's current label is the latest event of anyone; agreement needs each annotator's own
latest event per item instead (a label, or nothing when their latest is an undo or "ambiguous").
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations

from textal.ledger import LABEL, LabelEvent


@dataclass(frozen=True)
class PairAgreement:
    """Two annotators on the items both labeled. ``kappa`` is Cohen's kappa, ``None`` where it is
    undefined (both gave one and the same class throughout: no chance-corrected agreement)."""

    first: str
    second: str
    items: int
    agreed: int
    kappa: float | None


@dataclass(frozen=True)
class Disagreement:
    """An item whose annotators' latest labels differ; ``labels`` maps annotator to label."""

    item_id: str
    current: str | None
    labels: dict[str, str]


@dataclass(frozen=True)
class AgreementReport:
    """Every pair of annotators with an item in common, and every item they disagree on."""

    pairs: list[PairAgreement]
    disagreements: list[Disagreement]


def labels_by_annotator(events: Iterable[LabelEvent]) -> dict[str, dict[str, str]]:
    """``{item_id: {annotator: label}}`` from each annotator's latest event per item (events in
    ledger order); an annotator whose latest event on an item is not a label is left out."""
    latest: dict[tuple[str, str], LabelEvent] = {}
    for event in events:
        latest[(event.item_id, event.annotator)] = event
    by_item: dict[str, dict[str, str]] = defaultdict(dict)
    for (item_id, annotator), event in latest.items():
        if event.kind == LABEL and event.label is not None:
            by_item[item_id][annotator] = event.label
    return dict(by_item)


def confirmed_items(
    by_item: Mapping[str, Mapping[str, str]], current: Mapping[str, str]
) -> set[str]:
    """Items whose current label is also the latest label of at least two distinct annotators."""
    return {
        item_id
        for item_id, labels in by_item.items()
        if item_id in current and sum(v == current[item_id] for v in labels.values()) >= 2
    }


def annotator_agreement(
    by_item: Mapping[str, Mapping[str, str]], current: Mapping[str, str]
) -> AgreementReport:
    """Cohen's kappa for every pair of annotators over the items both labeled, and the items
    whose annotators disagree (sorted by id). Cheap when nobody double-labels: no pair, no kappa."""
    shared: dict[tuple[str, str], list[tuple[str, str]]] = defaultdict(list)
    disagreements = []
    for item_id in sorted(by_item):
        labels = by_item[item_id]
        for a, b in combinations(sorted(labels), 2):
            shared[(a, b)].append((labels[a], labels[b]))
        if len(set(labels.values())) > 1:
            disagreements.append(Disagreement(item_id, current.get(item_id), dict(labels)))
    pairs = []
    for (a, b), values in sorted(shared.items()):
        first, second = [v[0] for v in values], [v[1] for v in values]
        agreed = sum(x == y for x, y in values)
        pairs.append(PairAgreement(a, b, len(values), agreed, _kappa(first, second)))
    return AgreementReport(pairs, disagreements)


def _kappa(first: list[str], second: list[str]) -> float | None:
    if len(set(first) | set(second)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(first, second))
