"""Coverage on real embeddings: tight groups far from every label point at an unlabeled class."""

from __future__ import annotations

import numpy as np
import pytest

from textal.round.coverage import (
    COVER_SAMPLE,
    COVER_SHARE,
    GROUP_RADIUS,
    SEARCHED,
    gap_scores,
    pick_groups,
)
from textal.store.exact import exact_top_k

ASKED = int(COVER_SHARE * 25)  # what a round of 25 gives to coverage


@pytest.fixture(scope="module")
def trec_fine(embedded_dataset, dataset_labels):
    _, X, _ = embedded_dataset("trec/train.csv")
    y = dataset_labels("trec/train_fine.csv")
    classes, counts = np.unique(y, return_counts=True)
    rare = classes[np.argsort(counts, kind="stable")[:10]]  # 3 to 11 questions each
    return X, np.isin(y, rare)


def cover(X: np.ndarray, labeled: np.ndarray, seed: int) -> list[int]:
    """Rows of X a round's cover step asks about, as plan_round does over an exact store."""
    ids = [str(i) for i in range(len(X))]
    unlabeled = np.setdiff1d(np.arange(len(X)), labeled)
    sample = np.random.default_rng(seed).choice(unlabeled, COVER_SAMPLE, replace=False)
    rows, sims = exact_top_k(X, X[sample], SEARCHED)
    hits = [
        [(ids[j], s) for j, s in zip(r, v, strict=True)]
        for r, v in zip(rows.tolist(), sims.tolist(), strict=True)
    ]
    gaps = gap_scores(hits, [ids[i] for i in sample], X[sample], set(map(str, labeled)), X[labeled])
    return [int(sample[k]) for k in pick_groups(gaps, X[sample], ASKED)]


def test_tight_groups_far_from_the_labels_find_classes_no_label_has_reached(trec_fine):
    X, rare = trec_fine
    found = 0
    for seed in range(10):
        labeled = np.random.default_rng(seed).choice(np.flatnonzero(~rare), 500, replace=False)
        picks = cover(X, labeled, seed)
        assert len(picks) == ASKED and not set(picks) & set(labeled.tolist())
        similarity = X[picks] @ X[picks].T
        assert (similarity[~np.eye(ASKED, dtype=bool)] < GROUP_RADIUS).all()  # distinct groups
        found += bool(rare[picks].any())
    # the ten rarest classes hold 1.5% of the questions: 5 random picks hit one 7% of the time
    assert found >= 4, found


def test_neither_the_item_itself_nor_a_labeled_neighbour_makes_a_group():
    vectors = np.eye(3, dtype=np.float32)
    hits = [[("a", 1.0), ("b", 0.5)], [("b", 1.0), ("a", 0.5)], [("c", 1.0)]]
    gaps = gap_scores(hits, ["a", "b", "c"], vectors, {"b"}, vectors[[1]])
    # a: its only neighbour b is labeled; b: one unlabeled neighbour of 3, and b's own label
    assert gaps == pytest.approx([0.0, 0.5 / 3 - 1.0, 0.0])
