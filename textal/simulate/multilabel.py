"""The multi-label oracle loop: :func:`plan_multilabel_round` with gold label sets revealed.

The protocol is the single-label one (:mod:`textal.simulate.oracle`): the same initial labels
per seed, ``rounds`` batches, one more fit for the last point, round r seeded ``1000 * seed + r +
1``. Each point scores the multi-label head on the test set: subset accuracy (in
``CurvePoint.accuracy``), micro- and macro-F1 over the labels, and per-label recall.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.metrics import f1_score, recall_score
from threadpoolctl import threadpool_limits

from textal.data.label_sets import label_matrix, parse_label_set
from textal.model.multilabel import MultiLabelHead, fit_on_label_sets
from textal.round.multilabel import plan_multilabel_round
from textal.round.plan import RoundPlan
from textal.simulate.dataset import SimulationData
from textal.simulate.oracle import (
    CurvePoint,
    Learner,
    Protocol,
    Reference,
    oracle_run,
    run_all,
)


@dataclass(frozen=True)
class SetScores:
    """Test-set scores of predicted label sets; ``recall`` maps every label to its recall."""

    subset_accuracy: float
    micro_f1: float
    macro_f1: float
    recall: dict[str, float]


def score_label_sets(Y_true: np.ndarray, Y_pred: np.ndarray, names: Sequence[str]) -> SetScores:
    """Subset accuracy, micro/macro-F1 and per-label recall of ``Y_pred`` against ``Y_true``
    (both (n, k) bool, columns ``names``). A label never predicted counts with F1 0."""
    recalls = recall_score(Y_true, Y_pred, average=None, zero_division=0)
    return SetScores(
        subset_accuracy=float((Y_true == Y_pred).all(axis=1).mean()),
        micro_f1=float(f1_score(Y_true, Y_pred, average="micro", zero_division=0)),
        macro_f1=float(f1_score(Y_true, Y_pred, average="macro", zero_division=0)),
        recall={n: float(r) for n, r in zip(names, recalls, strict=True)},
    )


def _matrix(cells: Sequence[str], names: Sequence[str]) -> np.ndarray:
    return label_matrix([parse_label_set(c) for c in cells], names)


def _names(data: SimulationData) -> list[str]:
    if data.label_names is None:
        raise ValueError("single-label data: use textal.simulate.oracle")
    return data.label_names


def evaluate_sets(head: MultiLabelHead | None, data: SimulationData) -> SetScores:
    """Score ``head`` on the test set; without one (cold start) every set is predicted empty."""
    names = _names(data)
    truth = _matrix(data.test_labels.tolist(), names)
    predicted = np.zeros_like(truth) if head is None else head.predict(data.test_vectors)
    return score_label_sets(truth, predicted, names)


def _point(
    data: SimulationData,
    strategy: str,
    seed: int,
    round_: int,
    labels: Mapping[str, str],
    head: MultiLabelHead | None,
    fit_s: float,
    select_s: float | None,
) -> CurvePoint:
    names = _names(data)
    scores = evaluate_sets(head, data)
    counts = _matrix(list(labels.values()), names).sum(axis=0)
    return CurvePoint(
        strategy=strategy,
        seed=seed,
        round=round_,
        labels=len(labels),
        labeled={n: int(c) for n, c in zip(names, counts, strict=True)},
        accuracy=scores.subset_accuracy,
        macro_f1=scores.macro_f1,
        recall=scores.recall,
        model=head.best_name_ if head is not None else None,
        fit_s=round(fit_s, 4),
        select_s=None if select_s is None else round(select_s, 4),
        micro_f1=scores.micro_f1,
    )


def _plan(
    data: SimulationData, labels: Mapping[str, str], strategy: str, seed: int, protocol: Protocol
) -> RoundPlan[MultiLabelHead]:
    return plan_multilabel_round(
        data.store,
        {i: parse_label_set(c) for i, c in labels.items()},
        _names(data),
        strategy=strategy,
        batch_size=protocol.batch_size,
        seed=seed,
        candidates=protocol.candidates,
        probes=data.class_vectors,
    )


def _fit(data: SimulationData, labels: Mapping[str, str], seed: int) -> MultiLabelHead | None:
    ids = list(labels)
    names = _names(data)
    Y = _matrix([labels[i] for i in ids], names)
    return fit_on_label_sets(data.store.get_vectors(ids), Y, label_names=names, seed=seed)


MULTI_LABEL = Learner(_plan, _fit, _point)


def simulate_multilabel_run(
    data: SimulationData,
    strategy: str,
    seed: int,
    protocol: Protocol,
    on_point: Callable[[], None] | None = None,
) -> list[CurvePoint]:
    """One multi-label learning curve (:func:`~textal.simulate.oracle.oracle_run` with
    ``plan_multilabel_round`` and the gold sets); deterministic given the data, strategy, seed
    and protocol."""
    _names(data)  # single-label data is refused before anything runs
    return oracle_run(data, strategy, seed, protocol, on_point, MULTI_LABEL, data.oracle)


def full_data_multilabel_reference(data: SimulationData) -> Reference:
    """Fit the head on every pool item's gold set (seed 0) and score it on the test set."""
    names = _names(data)
    with threadpool_limits(limits=1):
        ids: list[str] = []
        chunks = []
        for chunk in data.store.iterate():
            ids.extend(chunk.ids)
            chunks.append(np.array(chunk.vectors))
        started = time.perf_counter()
        Y = _matrix([data.oracle[i] for i in ids], names)
        head = fit_on_label_sets(np.concatenate(chunks), Y, label_names=names, seed=0)
        fit_s = time.perf_counter() - started
        if head is None:
            raise ValueError("no label has both a positive and a negative item: nothing to learn")
        scores = evaluate_sets(head, data)
    return Reference(
        len(ids),
        scores.subset_accuracy,
        scores.macro_f1,
        scores.recall,
        head.best_name_,
        round(fit_s, 3),
        micro_f1=scores.micro_f1,
    )


def run_all_multilabel(
    data: SimulationData,
    strategies: list[str],
    seeds: list[int],
    protocol: Protocol,
    *,
    workers: int = 2,
) -> tuple[list[list[CurvePoint]], Reference]:
    """:func:`textal.simulate.oracle.run_all` with the multi-label run and reference."""
    return run_all(
        data,
        strategies,
        seeds,
        protocol,
        workers=workers,
        run=simulate_multilabel_run,
        reference=full_data_multilabel_reference,
    )
