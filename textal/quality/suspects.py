"""Suspect labels: which given labels the evidence says are wrong, as plain functions over arrays.

Two independent estimates of each labeled item's class probabilities are averaged:

* the model's **out-of-fold** probabilities: the workspace's head (``AutoClassifier``'s chosen
  logistic regression, refitted per fold) cross-validated on the labeled set, so no item is judged
  by a model that saw its own label;
* its **labeled neighbours'** vote: the ``k`` most similar other labeled items, weighted by cosine
  similarity and smoothed toward the class frequencies.

The average weighs the model 0.8 and the neighbours 0.2: on injected noise (see
``scripts/bench_suspects.py``) that ranked a few more flipped labels first than the model alone at
uniform noise; more weight on the neighbours lost flipped labels, most under class-conditional
noise. Confident learning (cleanlab's ``find_label_issues``, ``prune_by_noise_rate``) decides on
the averaged probabilities which labels are issues, and how many. The ranking is by the averaged
probability of the given label (lowest first) and ``confidence = 1 - that probability``.
``rank_label_issues`` returns every assessed item so that benchmarks can score a full ranking;
callers showing suspects keep the flagged ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from threadpoolctl import threadpool_limits

from textal.extras import require_extra
from textal.model.automl import AutoClassifier

#: Labeled neighbours voting on each item.
NEIGHBOURS = 10
#: Weight of the model's out-of-fold probabilities; the neighbours' vote gets the rest.
MODEL_WEIGHT = 0.8
#: Most folds of the out-of-fold predictions (fewer when a class has fewer labels).
MAX_FOLDS = 5
_SMOOTHING = 1.0  # pseudo-votes spread over the classes in proportion to their frequency
_CHUNK = 1024  # rows of the similarity matrix computed at a time


@dataclass(frozen=True)
class LabelIssue:
    """One assessed label; ``index`` is its row in the arrays given to :func:`rank_label_issues`.

    ``p_model`` and ``p_neighbours`` are the two estimates of the given label's probability,
    ``confidence`` is one minus their average. ``suggested`` is the likeliest other class.
    ``flagged`` is confident learning's verdict. ``neighbours`` are the disagreeing labeled
    neighbours as ``(index, cosine similarity)``, most similar first.
    """

    index: int
    given: str
    suggested: str
    confidence: float
    p_model: float
    p_neighbours: float
    flagged: bool
    neighbours: tuple[tuple[int, float], ...]


def out_of_fold_proba(X: np.ndarray, y: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """(n, c) out-of-fold probabilities of y's classes (sorted), from the head the workspace fits.

    ``AutoClassifier`` picks the head on all labels; that head is then refitted on each of
    ``min(5, smallest class count)`` stratified folds (at least 2) and predicts the held-out fold.
    Needs every class to have at least 2 labels.
    """
    _, y_enc = np.unique(y, return_inverse=True)
    folds = int(np.clip(np.bincount(y_enc).min(), 2, MAX_FOLDS))
    auto = AutoClassifier(random_state=seed).fit(X, y)
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "least populated class has only n members"
        return cross_val_predict(clone(auto.best_), X, y_enc, cv=splitter, method="predict_proba")


def nearest_labeled(X: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most similar other rows: (indices (n, k), cosine similarities (n, k)),
    most similar first. X is L2-normalised; the item itself is never its own neighbour."""
    n = len(X)
    k = min(k, n - 1)
    indices = np.empty((n, k), dtype=np.int64)
    sims = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        block = X[start : start + _CHUNK] @ X.T
        rows = np.arange(len(block))
        block[rows, start + rows] = -np.inf
        top = np.argpartition(-block, k - 1, axis=1)[:, :k]
        top_sims = np.take_along_axis(block, top, axis=1)
        order = np.argsort(-top_sims, axis=1, kind="stable")
        indices[start : start + len(block)] = np.take_along_axis(top, order, axis=1)
        sims[start : start + len(block)] = np.take_along_axis(top_sims, order, axis=1)
    return indices, sims


def neighbour_proba(
    y_enc: np.ndarray, n_classes: int, indices: np.ndarray, sims: np.ndarray
) -> np.ndarray:
    """(n, c) similarity-weighted class votes of each row's neighbours, smoothed toward the class
    frequencies by one pseudo-vote (so a row with no similar neighbour gets the prior)."""
    prior = np.bincount(y_enc, minlength=n_classes) / len(y_enc)
    weights = np.clip(sims, 0, None)
    votes = np.zeros((len(y_enc), n_classes))
    for j in range(indices.shape[1]):
        np.add.at(votes, (np.arange(len(y_enc)), y_enc[indices[:, j]]), weights[:, j])
    votes += _SMOOTHING * prior
    return votes / votes.sum(axis=1, keepdims=True)


def rank_label_issues(
    X: np.ndarray,
    y: np.ndarray,
    *,
    model_weight: float = MODEL_WEIGHT,
    k: int = NEIGHBOURS,
    seed: int = 0,
) -> list[LabelIssue]:
    """Every assessable label of X (n, d, L2-normalised) and y (n,), most suspect first (by
    ascending averaged probability of the given label); ``flagged`` marks confident learning's
    label issues.

    Items of a class with fewer than 2 labels are not assessed (nothing to cross-validate them
    against) and neither are their classes offered as suggestions. Returns ``[]`` when fewer than
    two classes have 2 labels.
    """
    require_extra("quality", "finding suspect labels")
    from cleanlab.filter import find_label_issues

    y = np.asarray(y).astype(str)
    names, counts = np.unique(y, return_counts=True)
    kept_classes = names[counts >= 2]
    if len(kept_classes) < 2:
        return []
    rows = np.flatnonzero(np.isin(y, kept_classes))
    Xk, yk = X[rows], y[rows]
    classes, y_enc = np.unique(yk, return_inverse=True)
    p_model = out_of_fold_proba(Xk, yk, seed=seed)
    indices, sims = nearest_labeled(Xk, k)
    p_neigh = neighbour_proba(y_enc, len(classes), indices, sims)
    combined = model_weight * p_model + (1 - model_weight) * p_neigh
    flagged = find_label_issues(  # a boolean mask
        y_enc,
        combined,
        filter_by="prune_by_noise_rate",
        n_jobs=1,
    )
    given_p = combined[np.arange(len(yk)), y_enc]
    order = np.argsort(given_p, kind="stable")
    others = combined.copy()
    others[np.arange(len(yk)), y_enc] = -1.0
    issues = []
    for i in order.tolist():
        disagree = tuple(
            (int(rows[j]), float(s))
            for j, s in zip(indices[i], sims[i], strict=True)
            if y_enc[j] != y_enc[i]
        )
        issues.append(
            LabelIssue(
                index=int(rows[i]),
                given=str(yk[i]),
                suggested=str(classes[int(np.argmax(others[i]))]),
                confidence=float(1.0 - given_p[i]),
                p_model=float(p_model[i, y_enc[i]]),
                p_neighbours=float(p_neigh[i, y_enc[i]]),
                flagged=bool(flagged[i]),
                neighbours=disagree,
            )
        )
    return issues
