"""The multi-label head: one balanced logistic regression per label on the embeddings.

``MultiLabelHead`` fits, for each of the k labels, a binary class-balanced logistic regression
(one-vs-rest), with one C for all labels chosen from :data:`textal.model.automl.CANDIDATE_CS` by
cross-validation on the labeled sets, and a decision threshold per label chosen on the
out-of-fold probabilities of that C (the threshold maximising the label's out-of-fold F1).

CV folds: iterative stratification (Sechidis, Tsoumakas & Vlahavas, ECML 2011;
:func:`iterative_folds`), which deals the rows of the rarest label first so that every fold holds
about its share of each label's positives; scikit-multilearn's implementation is not a
dependency, the algorithm is a few lines. Model selection scores the pooled out-of-fold macro-F1
over the labels that have positives in the scored folds, each label at its own best threshold (so
every C is compared as it would be used).

Budget, in work and never in seconds (as in :mod:`textal.model.automl`): folds are used in order
until about :data:`~textal.model.automl.MAX_SCORED` rows are held out (at least two), and every
candidate is scored on those same folds: folds x candidates x labels fits, fixed by the labels.

A label whose labeled rows are all positive or all negative has nothing to learn: its
probability is that constant (1 or 0). The committee (query by bagging) is the head plus members
refitted at the chosen C on bootstrap resamples, topped up with one positive and one negative row
of each label the draw left constant, so every member learns every label the head learns.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from scipy.special import expit
from sklearn.base import BaseEstimator
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_array, check_is_fitted
from threadpoolctl import threadpool_limits

from textal.model.automl import _TOL, CANDIDATE_CS, MAX_SCORED

#: Threshold of a label without out-of-fold evidence.
DEFAULT_THRESHOLD = 0.5


def iterative_folds(Y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Fold number (0..k-1) of each row of ``Y (n, m) bool``, by iterative stratification.

    Repeatedly take the label with the fewest positives still undealt and deal those rows, each
    to the fold that most lacks that label (ties: the fold that most lacks rows, then at random);
    rows with no positive go last, to the folds that most lack rows. (n,) int.
    """
    n = len(Y)
    fold = np.full(n, -1)
    want_rows = np.full(k, n / k)
    want = np.tile(Y.sum(axis=0) / k, (k, 1))  # (k, m)
    left = np.ones(n, dtype=bool)
    while left.any():
        remaining = Y[left].sum(axis=0)
        if not remaining.any():
            rows = rng.permutation(np.flatnonzero(left))
            for r in rows:
                best = np.flatnonzero(want_rows == want_rows.max())
                f = int(rng.choice(best))
                fold[r], want_rows[f] = f, want_rows[f] - 1
            break
        label = int(np.argmin(np.where(remaining > 0, remaining, np.iinfo(np.int64).max)))
        for r in rng.permutation(np.flatnonzero(left & Y[:, label])):
            lacking = np.flatnonzero(want[:, label] == want[:, label].max())
            lacking = lacking[want_rows[lacking] == want_rows[lacking].max()]
            f = int(rng.choice(lacking))
            fold[r] = f
            want_rows[f] -= 1
            want[f] -= Y[r]
            left[r] = False
    return fold


def best_thresholds(proba: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per label, the threshold maximising F1 of ``proba >= t`` against ``Y`` (both (n, m)) and
    that F1: two (m,) arrays.

    Thresholds are midpoints between consecutive distinct probabilities (or 0.5 beyond the
    extremes); on equal F1 the one nearest :data:`DEFAULT_THRESHOLD` wins. A label without
    positives gets :data:`DEFAULT_THRESHOLD` and F1 NaN.
    """
    m = Y.shape[1]
    thresholds = np.full(m, DEFAULT_THRESHOLD)
    f1 = np.full(m, np.nan)
    for j in range(m):
        positives = int(Y[:, j].sum())
        if positives == 0:
            continue
        order = np.argsort(-proba[:, j], kind="stable")
        p, y = proba[order, j], Y[order, j]
        tp = np.cumsum(y)
        # cut after position i: predict the first i + 1 rows positive; only where p drops
        cut = np.flatnonzero(np.append(p[:-1] > p[1:], True))
        scores = 2 * tp[cut] / (cut + 1 + positives)
        below = np.append(p[1:], min(p[-1], DEFAULT_THRESHOLD) * 2 - p[-1])[cut]
        candidates = (p[cut] + below) / 2  # the last cut (every row positive): min(p_n, 0.5)
        best = np.flatnonzero(scores >= scores.max() - 1e-12)
        pick = best[np.argmin(np.abs(candidates[best] - DEFAULT_THRESHOLD))]
        thresholds[j], f1[j] = candidates[pick], scores[pick]
    return thresholds, f1


def _macro_f1(proba: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean over labels with positives of each label's best-threshold F1, and the thresholds."""
    thresholds, f1 = best_thresholds(proba, Y)
    scored = f1[~np.isnan(f1)]
    return (float(scored.mean()) if len(scored) else math.nan), thresholds


class _Linear:
    """k fitted binary models as one linear map: ``proba = expit(X @ coef.T + intercept)``; a
    constant label has a zero row and intercept +-inf (probability exactly 1 or 0)."""

    def __init__(self, X: np.ndarray, Y: np.ndarray, C: float) -> None:
        k = Y.shape[1]
        self.coef = np.zeros((k, X.shape[1]))
        self.intercept = np.zeros(k)
        for j in range(k):
            y = Y[:, j]
            if y.all() or not y.any():
                self.intercept[j] = math.inf if y.all() else -math.inf
                continue
            model = LogisticRegression(C=C, class_weight="balanced", tol=_TOL, max_iter=1000)
            model.fit(X, y)
            self.coef[j], self.intercept[j] = model.coef_[0], model.intercept_[0]

    def proba(self, X: np.ndarray) -> np.ndarray:
        return expit(X @ self.coef.T + self.intercept)


def _name(C: float) -> str:
    return f"one-vs-rest logreg(C={C:g}, balanced), per-label thresholds"


class MultiLabelHead(BaseEstimator):
    """One-vs-rest logistic regression with C by iteratively stratified CV and a threshold per
    label; a bagging committee around it.

    Parameters
    ----------
    label_names : sequence of str or None, default None
        Names of Y's columns, kept as ``classes_``; None: the column indices.
    cv_folds : int, default 5
        Folds of cross-validation (:func:`iterative_folds`); at most half the labeled rows.
    committee_size : int, default 3
        Members of ``committee_``: the head, then bootstrap refits at the chosen C.
    random_state : int, default 0
        Seed of the folds and the bootstrap samples.

    Attributes
    ----------
    classes_ : ndarray (k,)
        ``label_names`` (or 0..k-1); the columns of every probability array.
    C_ : float
        The chosen C (:data:`~textal.model.automl.CANDIDATE_CS`' first without CV).
    thresholds_ : ndarray (k,)
        Decision threshold per label (0.5 without out-of-fold evidence for that label).
    cv_score_ : float
        Out-of-fold macro-F1 of the chosen C, over labels with held-out positives, each at its
        threshold; NaN without CV.
    cv_micro_f1_ : float
        Out-of-fold micro-F1 at ``thresholds_``; NaN without CV.
    oof_proba_ : ndarray (n, k)
        Out-of-fold probabilities of the chosen C; NaN rows were not held out (CV budget) or
        there was no CV.
    leaderboard_ : list of (name, mean, std)
        Per candidate, best first: out-of-fold macro-F1 and its std over folds; empty without CV.
    n_cv_folds_ : int
        Folds scored per candidate; 0 without CV.
    prevalence_ : ndarray (k,)
        Each label's share of the labeled rows.
    best_name_ : str
        Readable description of the head.
    n_features_in_ : int
        Embedding dimension d.
    """

    def __init__(
        self,
        label_names: Sequence[str] | None = None,
        cv_folds: int = 5,
        committee_size: int = 3,
        random_state: int = 0,
    ) -> None:
        self.label_names = label_names
        self.cv_folds = cv_folds
        self.committee_size = committee_size
        self.random_state = random_state

    def fit(self, X: np.ndarray, Y: np.ndarray) -> MultiLabelHead:
        """Fit on X (n, d) float and Y (n, k) bool. Raises ValueError on mismatched shapes."""
        if self.cv_folds < 2:
            raise ValueError(f"cv_folds must be at least 2, got {self.cv_folds}")
        if self.committee_size < 1:
            raise ValueError(f"committee_size must be at least 1, got {self.committee_size}")
        X = check_array(X, dtype=(np.float32, np.float64))
        Y = np.asarray(Y, dtype=bool)
        if Y.ndim != 2 or len(Y) != len(X):
            raise ValueError(f"Y must have shape ({len(X)}, k), got {Y.shape}")
        names = self.label_names
        if names is not None and len(names) != Y.shape[1]:
            raise ValueError(f"{len(names)} label names for {Y.shape[1]} columns of Y")
        self.classes_ = np.asarray(names) if names is not None else np.arange(Y.shape[1])
        self.n_features_in_ = X.shape[1]
        self.prevalence_ = Y.mean(axis=0) if len(Y) else np.zeros(Y.shape[1])
        rng = np.random.default_rng(self.random_state)
        n, k = Y.shape
        n_folds = min(self.cv_folds, n // 2)
        varied = (Y.sum(axis=0) >= 2) & ((~Y).sum(axis=0) >= 2)
        self.n_cv_folds_ = 0
        self.leaderboard_: list[tuple[str, float, float]] = []
        self.oof_proba_ = np.full((n, k), np.nan)
        self.thresholds_ = np.full(k, DEFAULT_THRESHOLD)
        self.cv_score_ = self.cv_micro_f1_ = math.nan
        self.C_ = CANDIDATE_CS[0]
        with threadpool_limits(limits=1, user_api="blas"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # expit(+-inf) on constant labels
            if n_folds >= 2 and varied.any():
                self._cross_validate(X, Y, iterative_folds(Y, n_folds, rng))
            self.committee_ = [_Linear(X, Y, self.C_)]
            for _ in range(self.committee_size - 1):
                rows = _bootstrap(Y, rng)
                self.committee_.append(_Linear(X[rows], Y[rows], self.C_))
        self.best_name_ = _name(self.C_)
        return self

    def _cross_validate(self, X: np.ndarray, Y: np.ndarray, fold: np.ndarray) -> None:
        sizes = np.bincount(fold)
        n_folds = max(2, int(np.searchsorted(np.cumsum(sizes), MAX_SCORED)) + 1)
        n_folds = min(n_folds, len(sizes))
        held = [np.flatnonzero(fold == f) for f in range(n_folds)]
        rows = np.concatenate(held)
        results = []
        for C in CANDIDATE_CS:
            oof = out_of_fold_proba(X, Y, C, fold, n_folds)
            score, thresholds = _macro_f1(oof[rows], Y[rows])
            per_fold = [_macro_f1(oof[r], Y[r])[0] for r in held]
            results.append((C, score, float(np.nanstd(per_fold)), oof, thresholds))
        results.sort(key=lambda r: -r[1] if not math.isnan(r[1]) else math.inf)
        C, score, _, oof, thresholds = results[0]
        self.C_, self.cv_score_, self.thresholds_ = C, score, thresholds
        self.oof_proba_ = oof
        predicted = oof[rows] >= thresholds
        truth = Y[rows]
        tp = int((predicted & truth).sum())
        self.cv_micro_f1_ = 2 * tp / max(int(predicted.sum() + truth.sum()), 1)
        self.n_cv_folds_ = n_folds
        self.leaderboard_ = [(_name(c), s, sd) for c, s, sd, _, _ in results]

    def _check_X(self, X: np.ndarray) -> np.ndarray:
        check_is_fitted(self, "committee_")
        X = check_array(X, dtype=(np.float32, np.float64))
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, the model was fitted on {self.n_features_in_}"
            )
        return X

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Each label's presence probability: (n, d) -> (n, k), columns in ``classes_`` order."""
        return self.committee_[0].proba(self._check_X(X))

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label sets as a matrix: (n, d) -> (n, k) bool, ``proba >= thresholds_``."""
        return self.predict_proba(X) >= self.thresholds_

    def committee_proba(self, X: np.ndarray) -> np.ndarray:
        """Each member's probabilities: (n, d) -> (m, n, k); member 0 is the head."""
        X = self._check_X(X)
        return np.stack([member.proba(X) for member in self.committee_])


def out_of_fold_proba(
    X: np.ndarray, Y: np.ndarray, C: float, fold: np.ndarray, n_folds: int | None = None
) -> np.ndarray:
    """(n, k) probabilities of each row from the one-vs-rest fit at ``C`` on the other folds
    (``fold`` (n,) as :func:`iterative_folds` returns); with ``n_folds`` only folds 0 to
    ``n_folds - 1`` are held out and the other rows are NaN. Blas runs as the caller set it."""
    oof = np.full(Y.shape, np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # expit(+-inf) on constant labels
        for f in range(int(fold.max()) + 1 if n_folds is None else n_folds):
            held = fold == f
            oof[held] = _Linear(X[~held], Y[~held], C).proba(X[held])
    return oof


def _bootstrap(Y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a bootstrap resample, plus a positive and a negative row of each label that
    varies in ``Y`` but came out constant in the draw."""
    drawn = rng.integers(len(Y), size=len(Y))
    extra: list[int] = []
    for j in range(Y.shape[1]):
        column = Y[drawn, j]
        for value in (True, False):
            if (Y[:, j] == value).any() and not (column == value).any():
                extra.append(int(rng.choice(np.flatnonzero(Y[:, j] == value))))
    return np.concatenate([drawn, np.asarray(extra, dtype=drawn.dtype)])


def fit_on_label_sets(
    X: np.ndarray,
    Y: np.ndarray,
    *,
    label_names: Sequence[str] | None = None,
    seed: int = 0,
) -> MultiLabelHead | None:
    """The head a multi-label round trains on X (n, d) and Y (n, k) bool, CV seeded by ``seed``;
    ``None`` (cold start) when no label has both a positive and a negative labeled row."""
    Y = np.asarray(Y, dtype=bool)
    if len(Y) == 0 or not (Y.any(axis=0) & (~Y).any(axis=0)).any():
        return None
    return MultiLabelHead(label_names=label_names, random_state=seed).fit(X, Y)
