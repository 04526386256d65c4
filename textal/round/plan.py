"""One train-score-select step over a store and the current labels, with no side effects.

``plan_round`` is the single implementation behind ``textal round`` and ``textal simulate``: the
workspace records its result in the ledger and writes batch files; the simulation feeds it oracle
labels instead. Its steps, each a function here: fit (:func:`fit_on_labels`), else cold start;
candidates (``index`` mode only: :func:`textal.round.candidates.retrieve`); score (stream the
store or the candidate set, keep the top candidates, draw the stop set); density; explore;
probe (classes with no label, by their names); stop set; select
(:func:`select_diverse`, given the store's search); why; timing (:class:`_Clock`). It returns the
typed records of :mod:`textal.ledger.records`, which the ledger stores as they are.
"""

from __future__ import annotations

import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from textal.ledger.records import (
    COLD_START,
    CandidateSet,
    ClassProbability,
    LeaderboardEntry,
    Neighbor,
    RoundParams,
    RoundReport,
    Selection,
    Timings,
    labels_digest,
)
from textal.model.automl import AutoClassifier, fit_on_labels
from textal.model.multilabel import MultiLabelHead
from textal.round import candidates as index
from textal.store.base import Chunk, VectorStore
from textal.strategy.coldstart import cold_start
from textal.strategy.density import DENSITY_NEIGHBORS, neighbor_density, weighted
from textal.strategy.diverse import BATCH_SIZE, DiverseBatch, NeighborSearch, select_diverse
from textal.strategy.explore import exploration_share, interleave
from textal.strategy.probes import PROBE_DEPTH, choose_probes, probe_slots
from textal.strategy.scores import STRATEGIES, STRATEGY, Builtin, Strategy

M = TypeVar("M")

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


#: Your own ambiguity score: ``(proba (n, c), vectors (n, d)) -> scores (n,)``, higher = ask first.
#: ``proba`` columns follow the model's sorted classes; ``vectors`` are unit-length embeddings.
Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class RoundPlan(Generic[M]):
    """The outcome of :func:`plan_round`: what was asked, the batch, the report, and (for the
    caller's own use) the fitted model and its stop-set predictions. ``trained_on`` fingerprints
    the labels (:func:`textal.ledger.labels_digest`); ``drew_stop_set`` is true when this round
    drew a new stop set (``stop_ids`` was None), whose ids are then ``stop_predictions``' keys.
    ``M`` is the model: ``AutoClassifier``, or ``MultiLabelHead`` for
    :func:`textal.round.multilabel.plan_multilabel_round`."""

    params: RoundParams
    picks: list[Selection]
    report: RoundReport
    trained_on: str
    model: M | None = None
    stop_predictions: dict[str, str] = field(default_factory=dict)
    drew_stop_set: bool = False


#: Scores of a chunk of vectors: ``(X (n, d), rng) -> (n,)``, higher = ask first.
ChunkScore = Callable[[np.ndarray, np.random.Generator], np.ndarray]
#: Predicted answers of a chunk of vectors as stored strings: ``X (n, d) -> n strings``.
Predict = Callable[[np.ndarray], list[str]]


def _predict_names(model: AutoClassifier) -> Predict:
    """The single-label head's predicted class names."""
    return lambda X: [str(label) for label in model.predict(X)]


def _top_candidates(
    chunks: Iterable[Chunk],
    dim: int,
    score: ChunkScore,
    predict: Predict,
    skip: set[str],
    keep: int,
    rng: np.random.Generator,
    stop_fraction: float,
) -> tuple[list[str], np.ndarray, np.ndarray, dict[str, str], int]:
    """Stream ``chunks`` (the whole store, or a candidate set); return the ``keep``
    highest-scoring unlabeled items (best first), their vectors and scores, the stop-set
    predictions and the number of items scored.

    The stop set is drawn here (a stable hash of the id below ``stop_fraction``) only when
    ``stop_fraction`` > 0; later rounds pass the same ids to :func:`plan_round` instead."""
    threshold = int(stop_fraction * 2**32)
    best_ids: list[str] = []
    best_vectors = np.empty((0, dim), dtype=np.float32)
    best_scores = np.empty(0, dtype=np.float64)
    stop: dict[str, str] = {}
    scored = 0
    for chunk in chunks:
        mask = np.fromiter((i not in skip for i in chunk.ids), dtype=bool, count=len(chunk.ids))
        if not mask.any():
            continue
        ids = [i for i, m in zip(chunk.ids, mask, strict=True) if m]
        vectors = chunk.vectors[mask]
        scores = np.asarray(score(vectors, rng), dtype=np.float64)
        scored += len(ids)
        in_stop = (
            [k for k, i in enumerate(ids) if zlib.crc32(i.encode("utf-8")) < threshold]
            if threshold
            else []
        )
        if in_stop:
            labels = predict(vectors[in_stop])
            stop.update((ids[k], label) for k, label in zip(in_stop, labels, strict=True))
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


def _why(
    vectors: np.ndarray, labeled_ids: list[str], labeled_vectors: np.ndarray, labels: list[str]
) -> list[tuple[Neighbor, ...]]:
    """Step "why": each row's :data:`N_WHY` nearest labeled items."""
    if not labeled_ids:
        return [() for _ in range(len(vectors))]
    sims = vectors @ labeled_vectors.T
    nearest = np.argsort(-sims, axis=1)[:, :N_WHY]
    return [
        tuple(Neighbor(labeled_ids[j], labels[j], round(float(sims[r, j]), 4)) for j in row)
        for r, row in enumerate(nearest)
    ]


class _Clock:
    """Step "timing": seconds since the round started, at each named mark."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.last, 3)
        self.last = now

    def timings(self) -> Timings:
        total = round(self.last - self.started, 3)
        return Timings(
            self.laps.get("fit", 0.0), self.laps.get("score", 0.0), self.laps["select"], total
        )


@dataclass(frozen=True)
class _Labeled:
    """The labels a round trains on, with their vectors."""

    ids: list[str]
    labels: list[str]
    vectors: np.ndarray

    @property
    def counts(self) -> dict[str, int]:
        return dict(Counter(self.labels))


def _scoring_function(builtin: Builtin | None, scorer: Scorer | None) -> Strategy:
    """The chunk scorer ``(model, X, rng) -> scores`` of a built-in strategy or a custom scorer."""
    if builtin is not None:
        return builtin.score
    assert scorer is not None

    def custom(model: AutoClassifier, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return scorer(model.predict_proba(X), X)

    return custom


def _cold_start_step(
    store: VectorStore,
    known: _Labeled,
    counts: dict[str, int],
    trained_on: str,
    params: RoundParams,
    skip: set[str],
    rng: np.random.Generator,
    clock: _Clock,
    asked_for: Mapping[str, str] | None = None,
) -> RoundPlan:
    """Step "cold start": the probes ``asked_for`` (``{item_id: class}``) first, then
    representative, mutually distant items from a uniform sample of the unlabeled pool (the
    store's ``sample``, in either candidate mode)."""
    asked_for = asked_for or {}
    probe_ids = list(asked_for)
    skip = skip | set(probe_ids)
    sample = index.sample_unlabeled(store, skip, COLD_START_SAMPLE, int(rng.integers(2**31)))
    found = None
    if params.candidates == "index":
        clock.lap("candidates")
        found = CandidateSet(0, 0, len(sample.ids), clock.laps["candidates"])
    ids = probe_ids + sample.ids
    vectors = sample.vectors
    if probe_ids:
        vectors = np.concatenate([store.get_vectors(probe_ids), vectors])
    slots = params.batch_size - len(probe_ids)
    drawn = cold_start(sample.vectors, slots, rng) if sample.ids and slots > 0 else np.empty(0, int)
    chosen = list(range(len(probe_ids))) + [len(probe_ids) + int(k) for k in drawn]
    why = _why(vectors[chosen], known.ids, known.vectors, known.labels)
    picks = [
        Selection(rank, ids[k], None, None, (), w, probe=asked_for.get(ids[k]))
        for rank, (k, w) in enumerate(zip(chosen, why, strict=True), start=1)
    ]
    clock.lap("select")
    report = RoundReport(
        COLD_START, len(known.ids), counts, timings=clock.timings(), candidate_set=found
    )
    return RoundPlan(params, picks, report, trained_on)


def _density_step(
    store: VectorStore, ids: list[str], vectors: np.ndarray, scores: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Step "density": re-rank the top candidates by score x density in the store."""
    if not ids:
        return ids, vectors, scores
    hits = store.search(vectors, top_k=DENSITY_NEIGHBORS + 1)
    return _best_first(ids, vectors, weighted(scores, neighbor_density(ids, hits)))


def _explore_step(
    store: VectorStore,
    share: float,
    skip: set[str],
    batch_size: int,
    rng: np.random.Generator,
    ids: list[str],
    vectors: np.ndarray,
    scores: np.ndarray,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Step "explore" (:mod:`textal.strategy.explore`): mix uniformly drawn unlabeled candidates
    (the store's ``sample``, in either candidate mode; score NaN) into the ranked ``ids`` so that
    every prefix holds about ``share`` of the batch (:func:`exploration_share` of the head)."""
    n = int(np.ceil(share * batch_size)) * CANDIDATES_PER_PICK
    if n == 0:
        return ids, vectors, scores
    drawn = index.sample_unlabeled(store, skip, n, int(rng.integers(2**31)))
    shuffled = rng.permutation(len(drawn.ids))  # the walk takes from the front: no store order
    explored = [drawn.ids[k] for k in shuffled]
    chosen = set(explored)
    kept = [k for k, i in enumerate(ids) if i not in chosen]
    order = interleave(len(explored), len(kept), share)
    return (
        [(explored + [ids[k] for k in kept])[k] for k in order],
        np.concatenate([drawn.vectors[shuffled], vectors[kept]])[order],
        np.concatenate([np.full(len(explored), np.nan), scores[kept]])[order],
    )


def _probes(
    store: VectorStore,
    probes: Mapping[str, np.ndarray] | None,
    given: set[str],
    skip: set[str],
    batch_size: int,
) -> dict[str, str]:
    """``{item_id: class}`` for the declared classes of ``probes`` not in ``given`` (no label
    yet): :func:`textal.strategy.probes.choose_probes` on the store's neighbours of their names.
    """
    missing = sorted(c for c in probes or () if c not in given)
    if not missing:
        return {}
    assert probes is not None
    hits = store.search(np.stack([probes[c] for c in missing]), PROBE_DEPTH)
    return dict(choose_probes(missing, hits, skip, probe_slots(batch_size)))


def _probe_step(
    store: VectorStore,
    asked_for: Mapping[str, str],
    ids: list[str],
    vectors: np.ndarray,
    scores: np.ndarray,
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Step "probe" (:mod:`textal.strategy.probes`): put the probes ``asked_for`` (``{item_id:
    class}``) in front of the ranked ``ids`` (score NaN)."""
    if not asked_for:
        return ids, vectors, scores
    probe_ids = list(asked_for)
    taken = set(probe_ids)
    kept = [k for k, i in enumerate(ids) if i not in taken]
    return (
        probe_ids + [ids[k] for k in kept],
        np.concatenate([store.get_vectors(probe_ids), vectors[kept]]),
        np.concatenate([np.full(len(probe_ids), np.nan), scores[kept]]),
    )


def _stop_set_step(
    store: VectorStore, predict: Predict, stop_ids: Sequence[str] | None, skip: set[str]
) -> dict[str, str]:
    """Step "stop set": predict the fixed stop set's still-unlabeled items; without one yet,
    draw about :data:`STOP_SET_SIZE` unlabeled items uniformly (the store's ``sample``)."""
    if stop_ids is None:
        drawn = index.sample_unlabeled(store, skip, STOP_SET_SIZE, 0)
        still, vectors = drawn.ids, drawn.vectors
    else:
        still = [i for i in stop_ids if i not in skip]
        vectors = store.get_vectors(still) if still else np.empty((0, store.dim), np.float32)
    if not still:
        return {}
    return dict(zip(still, predict(vectors), strict=True))


def _candidates_step(
    store: VectorStore,
    params: RoundParams,
    known: _Labeled,
    skip: set[str],
    seed: int,
    trained_on: str,
    stop_ids: Sequence[str] | None,
    chunk_size: int,
    clock: _Clock,
) -> tuple[Iterable[Chunk], float, index.Candidates | None, CandidateSet | None]:
    """Step "candidates": what the round scores (chunks of the whole store, or in ``index`` mode
    one chunk of retrieved candidates), the stop-set fraction to draw while scoring, and in
    ``index`` mode the retrieved candidates and their record."""
    if params.candidates == "index":
        retrieved = index.retrieve(
            store,
            known.labels,
            known.vectors,
            skip,
            batch_size=params.batch_size,
            seed=int(np.random.default_rng((seed, int(trained_on[:8], 16))).integers(2**31)),
        )
        clock.lap("candidates")
        found = CandidateSet(
            retrieved.anchors,
            retrieved.from_neighbors,
            retrieved.from_sample,
            clock.laps["candidates"],
        )
        return [Chunk(retrieved.ids, retrieved.vectors, [])], 0.0, retrieved, found
    pool = store.count()
    stop_fraction = 0.0 if stop_ids is not None else min(1.0, STOP_SET_SIZE / max(pool, 1))
    return store.iterate(chunk_size), stop_fraction, None, None


def _walk_search(
    store: VectorStore, pool: int, retrieved: index.Candidates | None
) -> tuple[NeighborSearch, int]:
    """The diverse walk's neighbour search and the item count it reads: the store's, or in
    ``index`` mode the candidate set's (searched in-process: its members are all the walk can
    meet)."""
    if retrieved is None:
        return store.search, pool
    return index.search_within(retrieved.ids, retrieved.vectors), len(retrieved.ids)


def _picks(
    ids: list[str],
    scores: np.ndarray,
    proba: np.ndarray,
    classes: list[str],
    picked: list[int],
    why: list[tuple[Neighbor, ...]],
    asked_for: Mapping[str, str],
) -> list[Selection]:
    """The selected candidates as ranked selections with their top-2 classes (and, for a probe,
    the class whose name it was asked for)."""
    picks = []
    for rank, (k, w) in enumerate(zip(picked, why, strict=True), start=1):
        top = np.argsort(-proba[k])[:2]
        picks.append(
            Selection(
                rank,
                ids[k],
                None if np.isnan(scores[k]) else float(scores[k]),
                classes[int(np.argmax(proba[k]))],
                tuple(ClassProbability(classes[c], round(float(proba[k, c]), 4)) for c in top),
                w,
                probe=asked_for.get(ids[k]),
            )
        )
    return picks


def _trained_report(
    strategy: str,
    labeled: int,
    label_counts: dict[str, int],
    model: AutoClassifier | MultiLabelHead,
    scored: int,
    batch: DiverseBatch,
    clock: _Clock,
    found: CandidateSet | None,
) -> RoundReport:
    """The report of a round whose head was trained (either kind of head fills it alike)."""
    return RoundReport(
        selected_by=strategy,
        labeled=labeled,
        label_counts=label_counts,
        model=model.best_name_,
        cv_score=None if np.isnan(model.cv_score_) else float(model.cv_score_),
        leaderboard=tuple(LeaderboardEntry(*row) for row in model.leaderboard_),
        scored=scored,
        suppressed_by_neighbors=batch.suppressed_by_neighbors,
        suppressed_by_radius=batch.suppressed_by_radius,
        capped=batch.capped,
        timings=clock.timings(),
        candidate_set=found,
    )


def plan_round(
    store: VectorStore,
    labels: Mapping[str, str],
    *,
    strategy: str = STRATEGY.default,
    batch_size: int = BATCH_SIZE.default,
    exclude: set[str] | None = None,
    max_class_share: float | None = None,
    seed: int = 0,
    chunk_size: int = CHUNK_SIZE,
    stop_ids: Sequence[str] | None = None,
    scorer: Scorer | None = None,
    candidates: str = index.CANDIDATES.default,
    probes: Mapping[str, np.ndarray] | None = None,
) -> RoundPlan[AutoClassifier]:
    """Fit a model on ``labels``, score the other stored items (all of them, or a candidate
    set retrieved from the vector index), select a diverse batch.

    Parameters
    ----------
    labels : ``{item_id: label}``; every id must be stored.
    strategy : a name of :data:`textal.strategy.scores.STRATEGY`, or with ``scorer`` the name
        recorded for it.
    exclude : items never to select (e.g. marked ambiguous), besides the labeled ones.
    max_class_share : cap on any predicted class's share of the batch (None: no cap).
    seed : seeds the random strategy, the model's CV splits and cold start.
    stop_ids : the stop set of earlier rounds, predicted again for the stopping signal; when
        ``None`` about :data:`STOP_SET_SIZE` items are drawn by a stable hash of their ids.
    scorer : your own ambiguity score ``(proba, vectors) -> scores`` (see :data:`Scorer`), used
        instead of the strategy's; the candidates then go through the same diverse selection.
    probes : ``{class: unit vector of its name}`` (:mod:`textal.strategy.probes`), used by the
        strategies that compose it (``adaptive``): while a class has no label, the review
        nearest its name goes in front of the batch (at most
        :data:`~textal.strategy.probes.PROBE_SHARE` of it); its selection's ``probe`` names it.
    candidates : ``"all"`` scores every stored item (one scan of the store); ``"index"`` scores
        a candidate set from the vector index (:mod:`textal.round.candidates`), so the round's
        time and memory do not grow with the pool; ``"auto"`` (default) uses ``index`` above
        :data:`textal.round.candidates.INDEX_THRESHOLD` stored items. ``params.candidates``
        says which was used; in ``index`` mode cold start and the stop set use uniform samples.

    With fewer than two labeled classes there is nothing to train: a cold-start batch of
    representative, mutually distant items is selected instead (after the probes, if any).
    """
    builtin = None if scorer is not None else STRATEGIES[STRATEGY.check(strategy, "strategy")]
    clock = _Clock()
    pool = store.count()
    params = RoundParams(
        strategy, batch_size, max_class_share, seed, index.candidate_mode(candidates, pool)
    )
    trained_on = labels_digest(labels)
    rng = np.random.default_rng(seed)
    skip = set(labels) | set(exclude or ())
    ids = list(labels)
    known = _Labeled(
        ids,
        [labels[i] for i in ids],
        store.get_vectors(ids) if ids else np.empty((0, store.dim), dtype=np.float32),
    )
    model = fit_on_labels(known.vectors, np.asarray(known.labels), seed=seed)
    asked_for = (
        _probes(store, probes, set(known.labels), skip, batch_size)
        if builtin is not None and builtin.probe
        else {}
    )
    if model is None:
        return _cold_start_step(
            store, known, known.counts, trained_on, params, skip, rng, clock, asked_for
        )
    clock.lap("fit")
    keep = max(batch_size * CANDIDATES_PER_PICK, 100)
    chunks, stop_fraction, retrieved, found = _candidates_step(
        store, params, known, skip, seed, trained_on, stop_ids, chunk_size, clock
    )
    score_fn = _scoring_function(builtin, scorer)
    cand_ids, vectors, scores, stop, scored = _top_candidates(
        chunks, store.dim, lambda X, r: score_fn(model, X, r), _predict_names(model), skip, keep,
        rng, stop_fraction,
    )  # fmt: skip
    if builtin is not None and builtin.density:
        cand_ids, vectors, scores = _density_step(store, cand_ids, vectors, scores)
    if builtin is not None and builtin.explore:
        cand_ids, vectors, scores = _explore_step(
            store, exploration_share(model), skip, batch_size, rng, cand_ids, vectors, scores
        )
    cand_ids, vectors, scores = _probe_step(store, asked_for, cand_ids, vectors, scores)
    if stop_ids is not None or found is not None:
        stop = _stop_set_step(store, _predict_names(model), stop_ids, skip)
    clock.lap("score")
    classes = [str(c) for c in model.classes_]
    proba = model.predict_proba(vectors) if cand_ids else np.empty((0, len(classes)))
    # each pick suppresses its share of what the round reads: the pool, or the candidate set,
    # whose members are the only items the walk can meet (searched in-process, not the store)
    search, read = _walk_search(store, pool, retrieved)
    batch = select_diverse(
        cand_ids,
        vectors,
        search,
        batch_size,
        labeled_vectors=known.vectors,
        predicted=[classes[k] for k in proba.argmax(axis=1)],
        max_class_share=max_class_share,
        n_neighbors=neighborhood_size(read, batch_size),
    )
    why = _why(vectors[batch.picked], known.ids, known.vectors, known.labels)
    picks = _picks(cand_ids, scores, proba, classes, batch.picked, why, asked_for)
    clock.lap("select")
    report = _trained_report(
        strategy, len(known.ids), known.counts, model, scored, batch, clock, found
    )
    return RoundPlan(
        params,
        picks,
        report,
        trained_on,
        model,
        stop_predictions=stop,
        drew_stop_set=stop_ids is None,
    )
