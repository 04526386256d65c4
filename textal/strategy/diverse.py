"""Diverse batches: walk candidates from most ambiguous down, suppressing each pick's neighbourhood.

Batched nearest-neighbour queries (a callable the caller passes in, usually the store's
``search``) give each pick's ``n_neighbors`` nearest stored items. Accepting a candidate
suppresses those neighbours for the rest of this batch, and any candidate whose cosine similarity
to an accepted or labeled item reaches ``radius`` is skipped, so twenty near-duplicate reviews
cost one question, not twenty.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from textal.options import Interval

#: The size of a batch for people (``textal round --batch-size``, ``Workspace.round``, the web
#: app's setting): at most 500, a day's labeling, not a pool.
BATCH_SIZE = Interval(int, 20, low=1, high=500)
#: The most one predicted class may take of a batch (``--max-class-share``), a fraction; 1 caps
#: nothing (the API's default, ``None``, says so).
MAX_CLASS_SHARE = Interval(float, 1.0, low=0, high=1, low_open=True)

#: ``(vectors (n, d), top_k) -> for each row, up to top_k (id, cosine similarity), best first``:
#: the signature of :meth:`textal.store.base.VectorStore.search`.
NeighborSearch = Callable[[np.ndarray, int], list[list[tuple[str, float]]]]


@dataclass(frozen=True)
class DiverseBatch:
    """Indices into the candidate arrays, in acceptance order, and why others were passed over."""

    picked: list[int]
    suppressed_by_neighbors: int
    suppressed_by_radius: int
    capped: int


def _max_similarity(queries: np.ndarray, others: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Row-wise max cosine similarity of ``queries`` (n, d) to ``others`` (m, d); -1 when m == 0."""
    best = np.full(len(queries), -1.0, dtype=np.float32)
    for start in range(0, len(others), chunk):
        sims = queries @ others[start : start + chunk].T
        np.maximum(best, sims.max(axis=1), out=best)
    return best


def select_diverse(
    ids: Sequence[str],
    vectors: np.ndarray,
    search: NeighborSearch,
    batch_size: int,
    *,
    labeled_vectors: np.ndarray | None = None,
    predicted: Sequence[str] | None = None,
    max_class_share: float | None = None,
    n_neighbors: int = 10,
    radius: float = 0.9,
) -> DiverseBatch:
    """Pick up to ``batch_size`` mutually distinct candidates.

    Parameters
    ----------
    ids, vectors : candidates, most ambiguous first; ``vectors`` has shape (n, d), unit rows.
    search : nearest-neighbour queries over the whole pool, e.g. ``store.search`` (called a few
        times, each with a batch of query rows).
    labeled_vectors : (m, d) vectors of labeled items; candidates within ``radius`` are skipped.
    predicted, max_class_share : when both are given, at most ``ceil(share * batch_size)`` picks
        share one predicted class, so rare classes get asked about.
    n_neighbors : stored neighbours suppressed around each pick (default 10).
    radius : cosine similarity at or above which two reviews count as the same (default 0.9).

    When the rules leave fewer than ``batch_size`` picks, the best remaining candidates fill the
    batch in order, so the batch has the requested size whenever there are enough candidates.
    """
    n = len(ids)
    near_labeled = (
        _max_similarity(vectors, labeled_vectors) >= radius
        if labeled_vectors is not None and len(labeled_vectors)
        else np.zeros(n, dtype=bool)
    )
    cap = None
    if max_class_share is not None and predicted is not None:
        cap = max(1, int(np.ceil(max_class_share * batch_size)))

    picked: list[int] = []
    per_class: dict[str, int] = {}
    suppressed: set[str] = set()
    by_neighbors = by_radius = capped = 0
    picked_vectors = np.empty((batch_size, vectors.shape[1]), dtype=np.float32)

    def passes_local_rules(i: int) -> bool:
        nonlocal by_radius, capped
        if near_labeled[i] or (
            picked and float((picked_vectors[: len(picked)] @ vectors[i]).max()) >= radius
        ):
            by_radius += 1
            return False
        if cap is not None and predicted is not None and per_class.get(predicted[i], 0) >= cap:
            capped += 1
            return False
        return True

    # Tentatively take as many candidates as slots are left, ask for all their
    # neighbourhoods in one call, then confirm them in order: a later one falls if an earlier
    # one's neighbourhood holds it. Usually two or three calls fill the batch.
    cursor = 0
    while len(picked) < batch_size and cursor < n:
        tentative: list[int] = []
        while cursor < n and len(tentative) < batch_size - len(picked):
            if ids[cursor] in suppressed:
                by_neighbors += 1
            else:
                tentative.append(cursor)
            cursor += 1
        hits = search(vectors[tentative], n_neighbors + 1) if tentative else []
        for i, neighbors in zip(tentative, hits, strict=True):
            if ids[i] in suppressed:
                by_neighbors += 1
            elif passes_local_rules(i):
                picked_vectors[len(picked)] = vectors[i]
                picked.append(i)
                if cap is not None and predicted is not None:
                    per_class[predicted[i]] = per_class.get(predicted[i], 0) + 1
                suppressed.update(hit_id for hit_id, _ in neighbors)
    if len(picked) < batch_size:
        chosen = set(picked)
        picked += [i for i in range(n) if i not in chosen][: batch_size - len(picked)]
    return DiverseBatch(picked, by_neighbors, by_radius, capped)
