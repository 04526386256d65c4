"""Numbers for learning curves: test scores of one model, area under a curve, paired comparisons.

A learning curve is a list of points ``(labels, score)`` with labels increasing. Every function
here is pure: arrays in, floats out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats
from sklearn.metrics import accuracy_score, f1_score, recall_score


@dataclass(frozen=True)
class Scores:
    """Test-set scores of one model. ``recall`` maps every test class to its recall."""

    accuracy: float
    macro_f1: float
    recall: dict[str, float]


def score_predictions(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str]) -> Scores:
    """Accuracy, macro-F1 and per-class recall over ``classes`` (the classes of the test set).

    ``y_true`` and ``y_pred`` have shape (n,). A class the model never predicts (e.g. one absent
    from its training labels) counts with F1 0 and recall 0, so macro-F1 punishes missing classes.
    """
    labels = list(classes)
    recalls = recall_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return Scores(
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro_f1=float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        recall={c: float(r) for c, r in zip(labels, recalls, strict=True)},
    )


def area_under_curve(labels: Sequence[int], scores: Sequence[float]) -> float:
    """Normalised area under a learning curve: the trapezoid area divided by the label range.

    The result is the curve's mean height over its label range, in the units of ``scores`` (so
    0..1 for accuracy); a single point gives its own score.
    """
    x = np.asarray(labels, dtype=np.float64)
    y = np.asarray(scores, dtype=np.float64)
    if len(x) == 1:
        return float(y[0])
    return float(np.sum((y[1:] + y[:-1]) / 2 * np.diff(x)) / (x[-1] - x[0]))


def labels_to_reach(labels: Sequence[int], scores: Sequence[float], target: float) -> int | None:
    """The first label count whose score reaches ``target``; ``None`` if the curve never does."""
    for n, score in zip(labels, scores, strict=True):
        if score >= target:
            return int(n)
    return None


@dataclass(frozen=True)
class Paired:
    """A paired difference ``a - b`` over seeds: mean, standard deviation, and the verdict.

    ``verdict`` is ``"win"``/``"loss"`` when the two-sided 95% t-interval of the mean difference
    excludes 0, else ``"tie"`` (within noise). With a single seed there is no interval: a tie.
    """

    mean: float
    std: float
    verdict: str


def paired_difference(a: Sequence[float], b: Sequence[float]) -> Paired:
    """Compare two strategies seed by seed (same seed = same initial labels, so the pairs match)."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mean = float(d.mean())
    std = float(d.std(ddof=1)) if len(d) > 1 else 0.0
    if len(d) < 2:
        return Paired(mean, std, "tie")
    half_width = stats.t.ppf(0.975, len(d) - 1) * std / np.sqrt(len(d))
    if mean - half_width > 0:
        verdict = "win"
    elif mean + half_width < 0:
        verdict = "loss"
    else:
        verdict = "tie"
    return Paired(mean, std, verdict)
