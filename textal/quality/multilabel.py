"""Suspect label sets: which given sets the evidence says are wrong, as plain functions over arrays.

The evidence is the multi-label head's **out-of-fold** presence probabilities: the head
(:class:`~textal.model.multilabel.MultiLabelHead`) picks its C on all labeled sets, then the
one-vs-rest fit at that C is refitted on each of ``min(5, n // 2)`` iteratively stratified folds
and predicts the held-out fold, so no set is judged by a model that saw it. Confident learning for
multi-label data (cleanlab's ``multilabel_classification.filter.find_label_issues``, which runs
``prune_by_noise_rate`` one label at a time) decides which sets are issues; the ranking is
cleanlab's label quality score (``multilabel_classification.get_label_quality_scores``: per-label
self-confidence, aggregated by an exponential moving average that weighs the worst labels most),
lowest first, and ``confidence = 1 - quality``.

Unlike single-label suspects (:mod:`textal.quality.suspects`) there is no labeled-neighbour vote:
its 0.8 / 0.2 blend was measured on single-label noise only.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from textal.extras import require_extra
from textal.model.multilabel import MultiLabelHead, iterative_folds, out_of_fold_proba

#: Most folds of the out-of-fold predictions (fewer with under 10 labeled sets).
MAX_FOLDS = 5


@dataclass(frozen=True)
class LabelSetIssue:
    """One assessed label set; ``index`` is its row in the arrays given to
    :func:`rank_label_set_issues`. ``suggested`` is the set the out-of-fold probabilities predict
    at the head's thresholds; ``proba`` is each label's out-of-fold presence probability (in
    ``label_names`` order); ``flagged`` is confident learning's verdict."""

    index: int
    given: frozenset[str]
    suggested: frozenset[str]
    confidence: float
    proba: tuple[float, ...]
    flagged: bool


def out_of_fold_set_proba(
    X: np.ndarray, Y: np.ndarray, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) out-of-fold presence probabilities for X (n, d) and Y (n, k) bool, and the head's
    thresholds (k,). Needs at least 4 labeled sets (2 folds of 2)."""
    if len(Y) < 4:
        raise ValueError(f"out-of-fold probabilities need at least 4 labeled sets, got {len(Y)}")
    head = MultiLabelHead(random_state=seed).fit(X, Y)
    fold = iterative_folds(Y, min(MAX_FOLDS, len(Y) // 2), np.random.default_rng(seed))
    with threadpool_limits(limits=1, user_api="blas"):
        return out_of_fold_proba(X, Y, head.C_, fold), head.thresholds_


def rank_label_set_issues(
    X: np.ndarray, Y: np.ndarray, label_names: Sequence[str], *, seed: int = 0
) -> list[LabelSetIssue]:
    """Every labeled set of X (n, d) and Y (n, k) bool (columns ``label_names``), most suspect
    first; ``flagged`` marks confident learning's label issues. Returns ``[]`` with fewer than 4
    labeled sets or when no label has both a positive and a negative set."""
    require_extra("quality", "finding suspect labels")
    from cleanlab.multilabel_classification import get_label_quality_scores
    from cleanlab.multilabel_classification.filter import find_label_issues

    Y = np.asarray(Y, dtype=bool)
    if len(Y) < 4 or not (Y.any(axis=0) & (~Y).any(axis=0)).any():
        return []
    proba, thresholds = out_of_fold_set_proba(X, Y, seed=seed)
    labels = [np.flatnonzero(row).tolist() for row in Y]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cleanlab on a label with few positives
        flagged = find_label_issues(labels, proba, n_jobs=1)
        quality = get_label_quality_scores(labels, proba)
    names = list(label_names)
    predicted = proba >= thresholds
    issues = []
    for i in np.argsort(quality, kind="stable").tolist():
        issues.append(
            LabelSetIssue(
                index=i,
                given=frozenset(names[j] for j in labels[i]),
                suggested=frozenset(names[j] for j in np.flatnonzero(predicted[i])),
                confidence=float(1.0 - quality[i]),
                proba=tuple(round(float(p), 4) for p in proba[i]),
                flagged=bool(flagged[i]),
            )
        )
    return issues
