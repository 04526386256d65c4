"""Multi-label ambiguity scores: higher score = more ambiguous = ask first.

Plain functions over per-label presence probabilities ``proba (n, k)`` (each entry in [0, 1],
rows need not sum to 1) and the head's decision ``thresholds (k,)`` (default 0.5 each); committee
scores take ``committee_proba (m, n, k)``. All return float64 arrays of shape (n,).

A label's binary uncertainty is one minus its margin, the distance of ``p`` from the label's
threshold as a share of the room on that side: ``1 - |p - t| / t`` below ``t`` and
``1 - (p - t) / (1 - t)`` above, so 1 at the threshold and 0 at a certain 0 or 1 (with ``t =
0.5`` it is ``1 - |2p - 1|``, the binary margin). Scores:

* ``mean_margin``: the mean over labels of the binary uncertainty (mean per-label margin);
* ``binary_minimum``: the largest binary uncertainty, i.e. the margin of the most uncertain label
  (modAL's ``min_confidence`` / binary minimum, Brinker 2006);
* ``committee_votes``: the mean over labels of the entropy of the members' binary votes, ties
  broken by the mean margin of their mean probabilities (query by bagging).

:data:`STRATEGIES` declares each strategy of a multi-label round with the same
:class:`~textal.strategy.scores.Builtin` as single-label rounds: its chunk score ``(head, X,
rng)`` and whether the round applies the density weight and ``adaptive``'s exploration
(:func:`exploration_share`); :data:`STRATEGY` is the option, with the default measured on
SemEval-2014 restaurant aspects (docs/results.md, "Multi-label (issue 26)").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from textal.options import StrOptions
from textal.strategy.explore import PRIOR_SHARE, share_for_skill
from textal.strategy.scores import Builtin, random_scores

if TYPE_CHECKING:
    from textal.model.multilabel import MultiLabelHead

_TIE_BREAK = 1e-6  # below the smallest gap between distinct mean vote entropies (m, k <= 20)


def _proba(proba: np.ndarray, ndim: int) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.ndim != ndim:
        raise ValueError(f"expected a {ndim}-d probability array, got shape {p.shape}")
    return p


def _thresholds(thresholds: np.ndarray | None, k: int) -> np.ndarray:
    t = np.full(k, 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)
    if t.shape != (k,):
        raise ValueError(f"expected {k} thresholds, got shape {t.shape}")
    return t


def binary_uncertainty(proba: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Per-label uncertainty, one minus the margin from the threshold: (n, k) -> (n, k), [0, 1]."""
    p = _proba(proba, 2)
    t = _thresholds(thresholds, p.shape[1])
    room = np.where(p < t, t, 1.0 - t)
    with np.errstate(divide="ignore", invalid="ignore"):
        margin = np.where(room > 0, np.abs(p - t) / room, 1.0)
    return 1.0 - np.clip(margin, 0.0, 1.0)


def mean_margin(proba: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """Mean binary uncertainty over the labels: (n, k) -> (n,), in [0, 1]."""
    return binary_uncertainty(proba, thresholds).mean(axis=1)


def binary_minimum(proba: np.ndarray, thresholds: np.ndarray | None = None) -> np.ndarray:
    """The most uncertain label's uncertainty (the smallest margin): (n, k) -> (n,), in [0, 1]."""
    return binary_uncertainty(proba, thresholds).max(axis=1)


def committee_votes(
    committee_proba: np.ndarray, thresholds: np.ndarray | None = None
) -> np.ndarray:
    """Mean over labels of the members' binary vote entropy (bits), plus ``1e-6 x`` the mean
    margin of the members' mean probabilities: (m, n, k) -> (n,).

    Each member votes a label present when its probability reaches the threshold. With 3 members
    a label's vote entropy is 0 (unanimous) or 0.918, so most items tie and the tie-break orders
    them by the consensus' uncertainty.
    """
    p = _proba(committee_proba, 3)
    t = _thresholds(thresholds, p.shape[2])
    q = (p >= t).mean(axis=0)  # (n, k) share of members voting "present"
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(q > 0, q * np.log2(q), 0.0) + np.where(q < 1, (1 - q) * np.log2(1 - q), 0.0))
    return h.mean(axis=1) + _TIE_BREAK * mean_margin(p.mean(axis=0), t)


def exploration_share(head: MultiLabelHead) -> float:
    """``adaptive``'s random share for a multi-label head: the single-label rule
    (:func:`textal.strategy.explore.share_for_skill`) on the head's chance-corrected CV macro-F1.

    Chance is the macro-F1 of answering every label present, ``mean_j 2 pi_j / (1 + pi_j)`` over
    the labels with labeled positives (``pi_j``: their share of the labeled rows), the best score
    a head that ignores the text can reach; :data:`~textal.strategy.explore.PRIOR_SHARE` without
    CV.
    """
    if math.isnan(head.cv_score_):
        return PRIOR_SHARE
    pi = head.prevalence_[head.prevalence_ > 0]
    chance = float(np.mean(2 * pi / (1 + pi)))
    if chance >= 1.0:
        return PRIOR_SHARE
    return share_for_skill((head.cv_score_ - chance) / (1.0 - chance))


def _mean_margin(head: MultiLabelHead, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``mean_margin`` of the head's predict_proba(X) at its thresholds: (n, d) -> (n,)."""
    return mean_margin(head.predict_proba(X), head.thresholds_)


def _binary_minimum(head: MultiLabelHead, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``binary_minimum`` of the head's predict_proba(X) at its thresholds: (n, d) -> (n,)."""
    return binary_minimum(head.predict_proba(X), head.thresholds_)


def _committee(head: MultiLabelHead, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``committee_votes`` of the head's committee_proba(X): (n, d) -> (n,)."""
    return committee_votes(head.committee_proba(X), head.thresholds_)


def _random(head: MultiLabelHead, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Random scores, one per row of X; the head is not used."""
    return random_scores(len(X), rng)


STRATEGIES: dict[str, Builtin[MultiLabelHead]] = {
    # binary-minimum-density once the head is fairly better than chance, random picks while not,
    # and a label no answer holds yet asked for by its name
    "adaptive": Builtin(_binary_minimum, density=True, explore=True, probe=True),
    "mean-margin-density": Builtin(_mean_margin, density=True),
    "mean-margin": Builtin(_mean_margin),
    "binary-minimum-density": Builtin(_binary_minimum, density=True),
    "binary-minimum": Builtin(_binary_minimum),
    "committee": Builtin(_committee),
    "random": Builtin(_random),
}

#: The multi-label strategy names, and what a multi-label round uses unless told otherwise.
STRATEGY = StrOptions(tuple(STRATEGIES), default="adaptive")
