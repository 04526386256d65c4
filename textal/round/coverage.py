"""Coverage: ask about the tight groups of the pool that no label has come near.

A class with no label cannot be predicted, so no ambiguity score ever points at it: a rare class
missed by the first labels can stay unasked for the whole budget (TREC's 50 fine classes: the
default ended every seed with 2.3 of them unlabeled at 525 labels, of classes of 3 to 11
questions). What shows that the pool holds such a class is an item whose nearest unlabeled
neighbours are close to it while every label is far: a group of similar items the labeled
classes' predictions only extrapolate to. :func:`gap_scores` scores a uniform sample of the
unlabeled pool by ``mean cosine to its TIGHT_NEIGHBORS nearest unlabeled neighbours - largest
cosine to a labeled item`` and :func:`pick_groups` takes the best of distinct groups; the round
puts up to :data:`COVER_SHARE` of its batch there.

A class named in a workspace's label set but never labeled is the same case: its name alone says
nothing about which items are its members, so it is found the same way.
"""

from __future__ import annotations

import numpy as np

from textal.strategy.diverse import _max_similarity

#: The most of a batch given to coverage (rounded down: 5 of a batch of 25).
COVER_SHARE = 0.2
#: Unlabeled items sampled and scored per round.
COVER_SAMPLE = 2000
#: Nearest unlabeled neighbours whose mean similarity makes a group.
TIGHT_NEIGHBORS = 3
#: Stored neighbours asked per sampled item (labeled ones and the item itself are dropped).
SEARCHED = 10
#: Two picks closer than this are one group (the radius of the diverse walk's default).
GROUP_RADIUS = 0.9


def gap_scores(
    hits: list[list[tuple[str, float]]],
    ids: list[str],
    vectors: np.ndarray,
    labeled: set[str],
    labeled_vectors: np.ndarray,
) -> np.ndarray:
    """Per sampled item (``ids``, ``vectors`` (n, d)): mean cosine to its first
    :data:`TIGHT_NEIGHBORS` unlabeled neighbours in ``hits`` (the store's search, best first;
    missing ones count 0) minus its largest cosine to ``labeled_vectors`` (m, d): (n,)."""
    tight = np.zeros(len(ids))
    for row, (item, found) in enumerate(zip(ids, hits, strict=True)):
        sims = [s for i, s in found if i != item and i not in labeled][:TIGHT_NEIGHBORS]
        tight[row] = sum(sims) / TIGHT_NEIGHBORS
    return tight - _max_similarity(vectors, labeled_vectors).astype(np.float64)


def pick_groups(scores: np.ndarray, vectors: np.ndarray, n: int) -> list[int]:
    """Up to ``n`` rows by descending score, skipping any row within cosine
    :data:`GROUP_RADIUS` of one taken (one question per group); ties by row."""
    taken: list[int] = []
    for row in np.argsort(-scores, kind="stable"):
        if len(taken) == n:
            break
        if not taken or float((vectors[taken] @ vectors[row]).max()) < GROUP_RADIUS:
            taken.append(int(row))
    return taken
