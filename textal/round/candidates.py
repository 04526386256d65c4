"""Candidate retrieval: the items a round scores when it does not read the whole store.

A full scan scores every stored item, so a round's cost grows with the pool. Here the round
scores a candidate set drawn from the vector index instead (SEALS, Coleman et al. 2022; AnchorAL,
Lesci & Vlachos 2024): the unlabeled nearest neighbours of *anchors* (up to
:data:`ANCHORS_PER_CLASS` labeled items of every class, drawn at random so that rare classes get
their share, plus the newest ``batch_size`` labels: the last batch, picked as ambiguous, so its
neighbourhood is where the boundary is), all asked in one batched ``search``; plus a small uniform
``store.sample`` so that regions no label has reached yet can still be asked about.

Its size is at most ``(classes * ANCHORS_PER_CLASS + batch_size) * NEIGHBORS_PER_ANCHOR +
explore``: it depends on the labels and the batch size, never on the pool.

Considered and left out: a linear head's class-difference vector ``w_a - w_b`` as an
inner-product query. The index returns the items with the *largest* ``(w_a - w_b) . x``, i.e.
those the model is surest are ``a`` rather than ``b``; the decision boundary is where that
product is near ``-(b_a - b_b)``, which no top-k inner-product query asks for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textal.options import StrOptions
from textal.store.base import Chunk, VectorStore
from textal.store.exact import exact_top_k
from textal.strategy.diverse import NeighborSearch

#: What a round scores: every stored item (``all``), a candidate set from the index (``index``),
#: or ``auto``: ``index`` above :data:`INDEX_THRESHOLD` stored items.
CANDIDATES = StrOptions(("auto", "all", "index"), default="auto")
#: ``auto`` scores a candidate set when the pool holds more items than this, else every item.
#: Below it a full scan costs little (about 8 s on Milvus Lite or a server on a loaded 2-core
#: machine, under 0.1 s in memory) and scores exactly what the reference results measured.
INDEX_THRESHOLD = 50_000
ANCHORS_PER_CLASS = 10  # labeled items per class whose neighbourhoods are searched
NEIGHBORS_PER_ANCHOR = 30  # stored neighbours asked per anchor
EXPLORE_PER_PICK = 10  # uniform sample size per batch slot


@dataclass(frozen=True)
class Candidates:
    """Unlabeled, non-excluded items to score, neighbours first, then the uniform sample."""

    ids: list[str]
    vectors: np.ndarray
    anchors: int
    from_neighbors: int
    from_sample: int


def candidate_mode(candidates: str, pool: int) -> str:
    """``"all"`` or ``"index"`` for the mode asked (``auto``, ``all`` or ``index``)."""
    if CANDIDATES.check(candidates, "candidates") == "auto":
        return "index" if pool > INDEX_THRESHOLD else "all"
    return candidates


def choose_anchors(
    labels: Sequence[str], recent: int, per_class: int, rng: np.random.Generator
) -> list[int]:
    """Rows of ``labels`` (oldest first) to search around: the newest ``recent`` and up to
    ``per_class`` more of every class, drawn at random from the rest."""
    older = max(len(labels) - max(recent, 0), 0)
    by_class: dict[str, list[int]] = {}
    for row in range(older):
        by_class.setdefault(labels[row], []).append(row)
    chosen = list(range(older, len(labels)))
    for label in sorted(by_class):
        rows = by_class[label]
        take = rng.choice(len(rows), min(per_class, len(rows)), replace=False)
        chosen += [rows[k] for k in sorted(take)]
    return chosen


def retrieve(
    store: VectorStore,
    labels: Sequence[str],
    labeled_vectors: np.ndarray,
    skip: set[str],
    *,
    batch_size: int,
    seed: int,
) -> Candidates:
    """The candidate set of one round. ``labels`` and ``labeled_vectors`` (shape ``(n, dim)``)
    describe the labeled items, oldest first; ``skip`` holds the items never to score (labeled
    or excluded).

    Deterministic for a seed and the store's contents; memory is bounded by the set's size.
    """
    rng = np.random.default_rng(seed)
    anchors = choose_anchors(labels, batch_size, ANCHORS_PER_CLASS, rng)
    neighbor_ids: dict[str, None] = {}  # an ordered set
    if anchors:
        for hits in store.search(labeled_vectors[anchors], NEIGHBORS_PER_ANCHOR):
            neighbor_ids.update((i, None) for i, _ in hits if i not in skip)
    ids = list(neighbor_ids)
    vectors = store.get_vectors(ids) if ids else np.empty((0, store.dim), dtype=np.float32)
    sample = store.sample(EXPLORE_PER_PICK * batch_size, int(rng.integers(2**31)))
    extra = [k for k, i in enumerate(sample.ids) if i not in skip and i not in neighbor_ids]
    return Candidates(
        ids=ids + [sample.ids[k] for k in extra],
        vectors=np.concatenate([vectors, sample.vectors[extra]]),
        anchors=len(anchors),
        from_neighbors=len(ids),
        from_sample=len(extra),
    )


def search_within(ids: Sequence[str], vectors: np.ndarray) -> NeighborSearch:
    """Exact nearest-neighbour search over the candidate set itself (``vectors``: unit rows in
    the order of ``ids``), for the diverse walk of an ``index`` round: the walk only meets
    candidates, so a pick's neighbours elsewhere in the store would suppress nothing."""

    def search(queries: np.ndarray, top_k: int) -> list[list[tuple[str, float]]]:
        rows, scores = exact_top_k(vectors, queries, min(top_k, len(ids)))
        return [
            [(ids[j], s) for j, s in zip(row, score, strict=True)]
            for row, score in zip(rows.tolist(), scores.tolist(), strict=True)
        ]

    return search


def sample_unlabeled(store: VectorStore, skip: set[str], size: int, seed: int) -> Chunk:
    """About ``size`` items drawn uniformly from those not in ``skip``, without a full scan
    where the store allows it (the cold-start sample and the stop set)."""
    drawn = store.sample(size + len(skip), seed)
    keep = [k for k, i in enumerate(drawn.ids) if i not in skip]
    if len(keep) > size:  # a uniform subset: stores return samples in their own order
        keep = sorted(np.random.default_rng([seed, 1]).choice(keep, size, replace=False))
    return Chunk(ids=[drawn.ids[k] for k in keep], vectors=drawn.vectors[keep], metadata=[])
