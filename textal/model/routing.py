"""Which predictions to trust: the confidence threshold that promises a precision, and its coverage.

A review is routed ``auto`` when the head's confidence (its largest class probability) is at
least the threshold and it is not unlike every labeled review; ``review`` otherwise. The
threshold is on the head's confidence, not the calibrated one: isotonic calibration maps whole
ranges of confidences to one value, which would leave only a few coarse thresholds (with 300
labels on CR, none whose bound reached 90%), while the ranking is the same.

The precision above a threshold is estimated on the out-of-fold predictions of the labels (each
label predicted by a head fitted without it): among those at or above the threshold, the share
predicted right, taken at its one-sided lower confidence bound (Wilson score, z =
:data:`PRECISION_Z`) so that a threshold resting on a handful of labels promises little.
:meth:`RoutingCurve.threshold_for` picks the lowest threshold whose bound reaches the precision
asked. Measured without the bound, the auto share of held-out test reviews fell short of the
promise by up to 2 to 3 points at 300 labels (sampling noise of the labels, and a head refitted
on all labels is a little more confident than the out-of-fold ones it is judged by).

The coverage is the share of *reference* reviews that pass: a sample of the stored reviews,
the distribution new ones come from. (The labels an active-learning run chose are its hardest
reviews, so their share above a threshold understates the coverage; their precision errs on the
safe side for the same reason.)

"Unlike anything labeled": a review whose nearest labeled review is farther (in cosine) than
the nearest labeled review of all but :data:`NOVELTY_QUANTILE` of the reference reviews; the
model has seen nothing like it, so its confidence is not evidence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOVELTY_QUANTILE = 0.01
PRECISION_Z = 1.2816  # one-sided 90% lower bound
UNREACHABLE = 2.0  # the threshold when no confidence keeps the promise: no probability reaches it
CURVE_POINTS = 1000  # thresholds kept in a curve (a model directory stores it)


@dataclass(frozen=True)
class RoutingCurve:
    """Per threshold (descending): the out-of-fold precision of the labels at or above it
    (``precision``) and its lower bound (``bound``), and the ``coverage`` of the reference
    reviews. ``labels`` and ``reference`` count the points it was estimated on."""

    thresholds: tuple[float, ...]
    precision: tuple[float, ...]
    bound: tuple[float, ...]
    coverage: tuple[float, ...]
    labels: int
    reference: int

    def threshold_for(self, min_precision: float) -> Route:
        """The lowest threshold whose precision bound is at least ``min_precision``; with none,
        :data:`UNREACHABLE` (every review goes to people) and coverage 0."""
        ok = [k for k, p in enumerate(self.bound) if p >= min_precision]
        if not ok:
            return Route(min_precision, UNREACHABLE, 0.0, float("nan"))
        k = ok[-1]  # thresholds descend: the last one that keeps the promise is the lowest
        return Route(min_precision, self.thresholds[k], self.coverage[k], self.precision[k])


@dataclass(frozen=True)
class Route:
    """The routing chosen for ``min_precision``: its ``threshold`` on the head's confidence, the
    estimated ``coverage`` (share routed auto) and the out-of-fold ``precision`` above it."""

    min_precision: float
    threshold: float
    coverage: float
    precision: float

    def describe(self) -> str:
        """E.g. ``"auto-routes an estimated 71% at 95% precision"``."""
        return (
            f"auto-routes an estimated {100 * self.coverage:.0f}% at "
            f"{100 * self.min_precision:g}% precision"
        )


def wilson_lower(correct: np.ndarray, n: np.ndarray, z: float = PRECISION_Z) -> np.ndarray:
    """One-sided Wilson score lower bound of ``correct / n`` (arrays, n >= 1)."""
    p = correct / n
    centre = p + z * z / (2 * n)
    spread = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def routing_curve(
    confidence: np.ndarray,
    correct: np.ndarray,
    reference: np.ndarray,
    novel: np.ndarray,
    labeled_share: float = 0.0,
) -> RoutingCurve:
    """The curve from the labels' out-of-fold ``confidence`` and whether each was ``correct``,
    and the unlabeled ``reference`` reviews' confidences (``novel``: unlike anything labeled,
    never passing). Thresholds are the labels' distinct confidences, at most
    :data:`CURVE_POINTS` of them spread over their ranks (each kept point is exact).

    The coverage is over the whole store, of which the labels are ``labeled_share``: they pass
    by their out-of-fold confidence (on a small pool an active-learning run labels the hard
    half, so the unlabeled rest alone would overstate the coverage: 0.98 estimated against 0.51
    on the test set of UCI Amazon at 500 of 800 pool reviews labeled)."""
    order = np.argsort(-np.asarray(confidence, dtype=np.float64), kind="stable")
    conf = np.asarray(confidence, dtype=np.float64)[order]
    hits = np.cumsum(np.asarray(correct, dtype=np.float64)[order])
    if len(conf) == 0 or len(reference) == 0:
        return RoutingCurve((), (), (), (), len(conf), len(reference))
    last = np.flatnonzero(np.append(conf[1:] != conf[:-1], True))  # a threshold lets ties in
    if len(last) > CURVE_POINTS:
        last = last[np.unique(np.linspace(0, len(last) - 1, CURVE_POINTS).round().astype(int))]
    n = (last + 1).astype(np.float64)
    passing = np.sort(np.asarray(reference, dtype=np.float64)[~np.asarray(novel, dtype=bool)])
    above = len(passing) - np.searchsorted(passing, conf[last], side="left")
    coverage = (1 - labeled_share) * above / len(reference) + labeled_share * n / len(conf)
    return RoutingCurve(
        thresholds=tuple(conf[last].tolist()),
        precision=tuple((hits[last] / n).tolist()),
        bound=tuple(wilson_lower(hits[last], n).tolist()),
        coverage=tuple(coverage.tolist()),
        labels=len(conf),
        reference=len(reference),
    )


def novelty_cutoff(nearest: np.ndarray) -> float:
    """The cosine below which a review is unlike anything labeled, from the reference reviews'
    cosines to their nearest labeled review; -1 (nothing is) without references."""
    if len(nearest) == 0:
        return -1.0
    return float(np.quantile(nearest, NOVELTY_QUANTILE))
