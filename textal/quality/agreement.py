"""Annotator agreement from the label history: what each person last said about each item.

The ledger's current label is the latest event of anyone; agreement needs each annotator's own
latest event per item instead (a label, or nothing when their latest is an undo or "ambiguous").

In a multi-label workspace the answers are label sets (their canonical text, as the ledger keeps
them). Two people then agree on an item when they gave the same set, and their kappa is the mean
over labels of Cohen's kappa on each label's presence, over the labels where it is defined. Why
this and not Krippendorff's alpha with a set distance (MASI, Jaccard): a multi-label answer is k
yes/no decisions, one per label, which is what the one-vs-rest head learns from and what a
guideline fixes; kappa per label says which label people read differently, it is the same
figure the single-label report gives, and it needs no choice of distance (alpha's value depends
on it: Jaccard and MASI rank the same disagreements differently). Pairs of annotators are
compared on the items both answered, as in the single-label case, so the missing-data handling
that alpha offers is not needed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

from textal.data.label_sets import parse_label_set
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
    by_item: Mapping[str, Mapping[str, str]],
    current: Mapping[str, str],
    *,
    label_names: Sequence[str] | None = None,
) -> AgreementReport:
    """Cohen's kappa for every pair of annotators over the items both labeled, and the items
    whose annotators disagree (sorted by id). Cheap when nobody double-labels: no pair, no kappa.

    ``label_names`` (a multi-label workspace's labels) reads the labels as label sets: kappa is
    then the mean per-label kappa (see the module's docstring)."""
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
        kappa = (
            _kappa(first, second)
            if label_names is None
            else _mean_label_kappa(first, second, label_names)
        )
        pairs.append(PairAgreement(a, b, len(values), agreed, kappa))
    return AgreementReport(pairs, disagreements)


def _mean_label_kappa(
    first: list[str], second: list[str], label_names: Sequence[str]
) -> float | None:
    """The mean over labels of Cohen's kappa on the label's presence in two people's sets;
    ``None`` when no label's kappa is defined."""
    sets = [(parse_label_set(x), parse_label_set(y)) for x, y in zip(first, second, strict=True)]
    kappas = []
    for name in label_names:
        a = ["yes" if name in x else "no" for x, _ in sets]
        b = ["yes" if name in y else "no" for _, y in sets]
        kappa = _kappa(a, b)
        if kappa is not None:
            kappas.append(kappa)
    return sum(kappas) / len(kappas) if kappas else None


def _kappa(first: list[str], second: list[str]) -> float | None:
    if len(set(first) | set(second)) < 2:
        return None
    from sklearn.metrics import cohen_kappa_score

    return float(cohen_kappa_score(first, second))
