"""One train-score-select step over a store and the current labels, with no side effects.

``plan_round`` is the single implementation behind ``textal round`` and ``textal simulate``: the
workspace records its result in the ledger and writes batch files; the simulation feeds it oracle
labels instead.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from textal.model.automl import AutoClassifier
from textal.store.base import VectorStore
from textal.strategy.coldstart import cold_start
from textal.strategy.density import DENSITY_NEIGHBORS, neighbor_density, weighted
from textal.strategy.diverse import select_diverse
from textal.strategy.scores import DEFAULT_STRATEGY, DENSITY_WEIGHTED, STRATEGIES

CHUNK_SIZE = 8192  # items scored at a time: memory is bounded by this, not the pool size
CANDIDATES_PER_PICK = 10  # the diverse walk sees this many top candidates per batch slot
COLD_START_SAMPLE = 20_000  # unlabeled items the cold-start picker looks at
STOP_SET_SIZE = 2000  # about this many items are predicted each round for the stopping signal
N_WHY = 3  # nearest labeled reviews shown with each pick
MAX_NEIGHBORS = 1000  # cap on the neighbourhood one pick suppresses (one batched query)


def neighborhood_size(pool: int, batch_size: int) -> int:
    """Stored neighbours each pick suppresses: its share of the pool, ``pool / batch_size``.

    Measured on 990 Amazon reviews, batch 20: suppressing 10 neighbours left the batch as
    redundant as the top-margin items (mean pairwise cosine 0.137 vs 0.137); 50 gave 0.122 at
    0.4% lower mean margin, so each pick claims about its share of the pool.
    """
    return int(np.clip(pool // max(batch_size, 1), 10, MAX_NEIGHBORS))


@dataclass(frozen=True)
class Pick:
    """One item of the batch. ``top2`` holds ``(class, probability)`` pairs, best first."""

    item_id: str
    score: float | None
    predicted: str | None
    top2: list[tuple[str, float]]
    why: list[tuple[str, str, float]]  # nearest labeled (item id, label, similarity)


@dataclass
class RoundPlan:
    """The outcome of :func:`plan_round`; ``report`` is JSON-serialisable."""

    picks: list[Pick]
    strategy: str
    model_name: str | None
    cv_score: float | None
    model: AutoClassifier | None
    stop_predictions: dict[str, str] = field(default_factory=dict)
    report: dict = field(default_factory=dict)


def _top_candidates(
    store: VectorStore,
    model: AutoClassifier,
    strategy: str,
    skip: set[str],
    keep: int,
    rng: np.random.Generator,
    chunk_size: int,
    stop_fraction: float,
) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, str], int]:
    """Stream the store; return the ``keep`` highest-scoring unlabeled items (best first),
    their vectors and scores, the stop-set predictions and the number of items scored.

    The stop set is drawn here (a stable hash of the id below ``stop_fraction``) only when
    ``stop_fraction`` > 0; later rounds pass the same ids to :func:`plan_round` instead."""
    score_fn = STRATEGIES[strategy]
    threshold = int(stop_fraction * 2**32)
    best_ids: list[str] = []
    best_vectors = np.empty((0, store.dim), dtype=np.float32)
    best_scores = np.empty(0, dtype=np.float64)
    stop: dict[str, str] = {}
    scored = 0
    for chunk in store.iterate(chunk_size):
        mask = np.fromiter((i not in skip for i in chunk.ids), dtype=bool, count=len(chunk.ids))
        if not mask.any():
            continue
        ids = [i for i, m in zip(chunk.ids, mask, strict=True) if m]
        vectors = chunk.vectors[mask]
        scores = np.asarray(score_fn(model, vectors, rng), dtype=np.float64)
        scored += len(ids)
        in_stop = (
            [k for k, i in enumerate(ids) if zlib.crc32(i.encode("utf-8")) < threshold]
            if threshold
            else []
        )
        if in_stop:
            labels = model.predict(vectors[in_stop])
            stop.update((ids[k], str(label)) for k, label in zip(in_stop, labels, strict=True))
        all_ids = best_ids + ids
        all_vectors = np.concatenate([best_vectors, vectors])
        all_scores = np.concatenate([best_scores, scores])
        if len(all_ids) > keep:
            top = np.argpartition(-all_scores, keep - 1)[:keep]
        else:
            top = np.arange(len(all_ids))
        best_ids = [all_ids[k] for k in top]
        best_vectors, best_scores = all_vectors[top], all_scores[top]
    return (*_best_first(best_ids, best_vectors, best_scores), stop, scored)


def _best_first(
    ids: list[str], vectors: np.ndarray, scores: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Candidates sorted by descending score; ties by id, so the order never depends on chunking."""
    order = sorted(range(len(ids)), key=lambda k: (-scores[k], ids[k]))
    return [ids[k] for k in order], vectors[order], scores[order]


def _sample_unlabeled(
    store: VectorStore, skip: set[str], size: int, rng: np.random.Generator, chunk_size: int
) -> tuple[list[str], np.ndarray]:
    """A uniform sample of unlabeled items by reservoir sampling: memory bounded by ``size``."""
    ids: list[str] = []
    vectors = np.empty((size, store.dim), dtype=np.float32)
    seen = 0
    for chunk in store.iterate(chunk_size):
        for k, item_id in enumerate(chunk.ids):
            if item_id in skip:
                continue
            if seen < size:
                ids.append(item_id)
                vectors[seen] = chunk.vectors[k]
            else:
                slot = int(rng.integers(0, seen + 1))
                if slot < size:
                    ids[slot] = item_id
                    vectors[slot] = chunk.vectors[k]
            seen += 1
    return ids, vectors[: len(ids)]


def _why(
    vectors: np.ndarray, labeled_ids: list[str], labeled_vectors: np.ndarray, labels: list[str]
) -> list[list[tuple[str, str, float]]]:
    if not labeled_ids:
        return [[] for _ in range(len(vectors))]
    sims = vectors @ labeled_vectors.T
    nearest = np.argsort(-sims, axis=1)[:, :N_WHY]
    return [
        [(labeled_ids[j], labels[j], round(float(sims[r, j]), 4)) for j in row]
        for r, row in enumerate(nearest)
    ]


def plan_round(
    store: VectorStore,
    labels: Mapping[str, str],
    *,
    strategy: str = DEFAULT_STRATEGY,
    batch_size: int = 20,
    exclude: set[str] | None = None,
    max_class_share: float | None = None,
    seed: int = 0,
    chunk_size: int = CHUNK_SIZE,
    time_budget_s: float = 10.0,
    stop_ids: Sequence[str] | None = None,
) -> RoundPlan:
    """Fit a model on ``labels``, score every other stored item, select a diverse batch.

    Parameters
    ----------
    labels : ``{item_id: label}``; every id must be stored.
    strategy : a key of :data:`textal.strategy.scores.STRATEGIES`.
    exclude : items never to select (e.g. marked ambiguous), besides the labeled ones.
    max_class_share : cap on any predicted class's share of the batch (None: no cap).
    seed : seeds the random strategy, the model's CV splits and cold start.
    stop_ids : the stop set of earlier rounds, predicted again for the stopping signal; when
        ``None`` about :data:`STOP_SET_SIZE` items are drawn by a stable hash of their ids.

    With fewer than two labeled classes there is nothing to train: a cold-start batch of
    representative, mutually distant items is selected instead.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose from {', '.join(STRATEGIES)}")
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    skip = set(labels) | set(exclude or ())
    labeled_ids = list(labels)
    label_list = [labels[i] for i in labeled_ids]
    labeled_vectors = (
        store.get_vectors(labeled_ids)
        if labeled_ids
        else np.empty((0, store.dim), dtype=np.float32)
    )
    counts = dict(Counter(label_list))
    report: dict = {"label_counts": counts, "labeled": len(labeled_ids)}

    if len(counts) < 2:
        ids, vectors = _sample_unlabeled(store, skip, COLD_START_SAMPLE, rng, chunk_size)
        chosen = cold_start(vectors, batch_size, rng) if len(ids) else []
        why = _why(vectors[list(chosen)], labeled_ids, labeled_vectors, label_list)
        picks = [Pick(ids[k], None, None, [], w) for k, w in zip(chosen, why, strict=True)]
        seconds = round(time.perf_counter() - started, 3)
        report.update(
            cold_start=True,
            seconds={"fit": 0.0, "score": 0.0, "select": seconds, "total": seconds},
        )
        return RoundPlan(picks, "cold-start", None, None, None, report=report)

    model = AutoClassifier(time_budget_s=time_budget_s, random_state=seed)
    model.fit(labeled_vectors, np.asarray(label_list))
    fitted = time.perf_counter()
    pool = store.count()
    stop_fraction = 0.0 if stop_ids is not None else min(1.0, STOP_SET_SIZE / max(pool, 1))
    keep = max(batch_size * CANDIDATES_PER_PICK, 100)
    ids, vectors, scores, stop, scored = _top_candidates(
        store, model, strategy, skip, keep, rng, chunk_size, stop_fraction
    )
    if strategy in DENSITY_WEIGHTED and ids:
        hits = store.search(vectors, top_k=DENSITY_NEIGHBORS + 1)
        ids, vectors, scores = _best_first(
            ids, vectors, weighted(scores, neighbor_density(ids, hits))
        )
    if stop_ids is not None:
        still = [i for i in stop_ids if i not in skip]
        if still:
            stop = dict(zip(still, map(str, model.predict(store.get_vectors(still))), strict=True))
    scored_at = time.perf_counter()
    proba = model.predict_proba(vectors) if len(ids) else np.empty((0, len(model.classes_)))
    classes = [str(c) for c in model.classes_]
    predicted = [classes[k] for k in proba.argmax(axis=1)] if len(ids) else []
    batch = select_diverse(
        ids,
        vectors,
        store,
        batch_size,
        labeled_vectors=labeled_vectors,
        predicted=predicted,
        max_class_share=max_class_share,
        n_neighbors=neighborhood_size(pool, batch_size),
    )
    why = _why(vectors[batch.picked], labeled_ids, labeled_vectors, label_list)
    picks = []
    for k, w in zip(batch.picked, why, strict=True):
        top = np.argsort(-proba[k])[:2]
        picks.append(
            Pick(
                ids[k],
                float(scores[k]),
                predicted[k],
                [(classes[c], round(float(proba[k, c]), 4)) for c in top],
                w,
            )
        )
    done = time.perf_counter()
    report.update(
        cold_start=False,
        model=model.best_name_,
        cv_score=None if np.isnan(model.cv_score_) else float(model.cv_score_),
        leaderboard=[list(row) for row in model.leaderboard_],
        scored=scored,
        suppressed_by_neighbors=batch.suppressed_by_neighbors,
        suppressed_by_radius=batch.suppressed_by_radius,
        capped=batch.capped,
        seconds={
            "fit": round(fitted - started, 3),
            "score": round(scored_at - fitted, 3),
            "select": round(done - scored_at, 3),
            "total": round(done - started, 3),
        },
    )
    return RoundPlan(
        picks,
        strategy,
        model.best_name_,
        report["cv_score"],
        model,
        stop_predictions=stop,
        report=report,
    )
