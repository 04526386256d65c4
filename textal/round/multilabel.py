"""One multi-label train-score-select step: :func:`plan_round`'s steps with the multi-label head.

``plan_multilabel_round`` fits :class:`~textal.model.multilabel.MultiLabelHead` on the label
sets (else cold start), then runs the same steps as :func:`textal.round.plan.plan_round`, from
that module: candidates, the streaming score of the store keeping the top candidates and drawing
the stop set, density, exploration (at :func:`textal.strategy.multilabel.exploration_share`), the
stop set, the diverse walk (:func:`~textal.strategy.diverse.select_diverse`) and the why. It
returns the same records: a predicted label set is stored as its ``labels`` cell
(:func:`~textal.data.label_sets.join_label_set`, ``""`` for none), in ``Selection.predicted``
and in the stop-set predictions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from textal.data.label_sets import join_label_set, label_matrix, label_sets_of
from textal.ledger.records import (
    ClassProbability,
    RoundParams,
    Selection,
    labels_digest,
)
from textal.model.multilabel import MultiLabelHead, fit_on_label_sets
from textal.round import candidates as index
from textal.round.plan import (
    CANDIDATES_PER_PICK,
    CHUNK_SIZE,
    Predict,
    RoundPlan,
    _candidates_step,
    _Clock,
    _cold_start_step,
    _density_step,
    _explore_step,
    _Labeled,
    _probe_step,
    _probes,
    _stop_set_step,
    _top_candidates,
    _trained_report,
    _walk_search,
    _why,
    neighborhood_size,
)
from textal.store.base import VectorStore
from textal.strategy.diverse import BATCH_SIZE, select_diverse
from textal.strategy.multilabel import STRATEGIES, STRATEGY, exploration_share


def _predict_cells(head: MultiLabelHead, label_names: Sequence[str]) -> Predict:
    """The head's predicted label sets as ``labels`` cells."""
    return lambda X: [join_label_set(s) for s in label_sets_of(head.predict(X), label_names)]


def plan_multilabel_round(
    store: VectorStore,
    label_sets: Mapping[str, frozenset[str]],
    label_names: Sequence[str],
    *,
    strategy: str = STRATEGY.default,
    batch_size: int = BATCH_SIZE.default,
    exclude: set[str] | None = None,
    seed: int = 0,
    chunk_size: int = CHUNK_SIZE,
    stop_ids: Sequence[str] | None = None,
    candidates: str = index.CANDIDATES.default,
    probes: Mapping[str, np.ndarray] | None = None,
) -> RoundPlan[MultiLabelHead]:
    """Fit the multi-label head on ``label_sets``, score the other stored items, select a
    diverse batch.

    Parameters
    ----------
    label_sets : ``{item_id: set of label names}`` (an empty set: "none of these"); every id
        must be stored, every name one of ``label_names``.
    label_names : the workspace's labels, in order: the head's columns, ``Selection.top2``'s
        order (one presence probability per label) and ``RoundReport.label_counts``' keys.
    strategy : a name of :data:`textal.strategy.multilabel.STRATEGY`.
    exclude, seed, chunk_size, stop_ids, candidates, probes : as in
        :func:`textal.round.plan.plan_round` (there is no class-share cap: a pick is predicted
        several labels); a label is probed while no answer holds it.

    Until some label has both a positive and a negative labeled item there is nothing to train:
    a cold-start batch is selected instead. Raises :class:`~textal.errors.TextalError` naming a
    label outside ``label_names``.
    """
    builtin = STRATEGIES[STRATEGY.check(strategy, "strategy")]
    clock = _Clock()
    pool = store.count()
    params = RoundParams(strategy, batch_size, None, seed, index.candidate_mode(candidates, pool))
    ids = list(label_sets)
    cells = {i: join_label_set(label_sets[i]) for i in ids}
    trained_on = labels_digest(cells)
    rng = np.random.default_rng(seed)
    skip = set(label_sets) | set(exclude or ())
    known = _Labeled(
        ids,
        [cells[i] for i in ids],
        store.get_vectors(ids) if ids else np.empty((0, store.dim), dtype=np.float32),
    )
    Y = label_matrix([label_sets[i] for i in ids], label_names)
    counts = {name: int(Y[:, j].sum()) for j, name in enumerate(label_names)}
    head = fit_on_label_sets(known.vectors, Y, label_names=label_names, seed=seed)
    given = {name for names in label_sets.values() for name in names}
    asked_for = _probes(store, probes, given, skip, batch_size) if builtin.probe else {}
    if head is None:
        return _cold_start_step(
            store, known, counts, trained_on, params, skip, rng, clock, asked_for
        )
    clock.lap("fit")
    keep = max(batch_size * CANDIDATES_PER_PICK, 100)
    chunks, stop_fraction, retrieved, found = _candidates_step(
        store, params, known, skip, seed, trained_on, stop_ids, chunk_size, clock
    )
    predict = _predict_cells(head, label_names)
    cand_ids, vectors, scores, stop, scored = _top_candidates(
        chunks, store.dim, lambda X, r: builtin.score(head, X, r), predict, skip, keep, rng,
        stop_fraction,
    )  # fmt: skip
    if builtin.density:
        cand_ids, vectors, scores = _density_step(store, cand_ids, vectors, scores)
    if builtin.explore:
        cand_ids, vectors, scores = _explore_step(
            store, exploration_share(head), skip, batch_size, rng, cand_ids, vectors, scores
        )
    cand_ids, vectors, scores = _probe_step(store, asked_for, cand_ids, vectors, scores)
    if stop_ids is not None or found is not None:
        stop = _stop_set_step(store, predict, stop_ids, skip)
    clock.lap("score")
    k = len(label_names)
    proba = head.predict_proba(vectors) if cand_ids else np.empty((0, k))
    predicted = [join_label_set(s) for s in label_sets_of(proba >= head.thresholds_, label_names)]
    search, read = _walk_search(store, pool, retrieved)
    batch = select_diverse(
        cand_ids,
        vectors,
        search,
        batch_size,
        labeled_vectors=known.vectors,
        n_neighbors=neighborhood_size(read, batch_size),
    )
    why = _why(vectors[batch.picked], known.ids, known.vectors, known.labels)
    picks = [
        Selection(
            rank,
            cand_ids[r],
            None if np.isnan(scores[r]) else float(scores[r]),
            predicted[r],
            tuple(
                ClassProbability(name, round(float(proba[r, j]), 4))
                for j, name in enumerate(label_names)
            ),
            w,
            probe=asked_for.get(cand_ids[r]),
        )
        for rank, (r, w) in enumerate(zip(batch.picked, why, strict=True), start=1)
    ]
    clock.lap("select")
    report = _trained_report(strategy, len(ids), counts, head, scored, batch, clock, found)
    return RoundPlan(
        params,
        picks,
        report,
        trained_on,
        head,
        stop_predictions=stop,
        drew_stop_set=stop_ids is None,
    )
