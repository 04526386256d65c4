"""Stopping signal: do successive models still change their minds about a fixed set of items?

Following Bloodgood & Vijay-Shanker (2009), "stabilizing predictions": when Cohen's kappa between
the predictions of consecutive rounds' models on a fixed stop set stays at or above 0.99 for three
rounds in a row, further labels are unlikely to change the model much.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

STABLE_KAPPA = 0.99
STABLE_ROUNDS = 3


def agreement(previous: Mapping[str, str], current: Mapping[str, str]) -> float | None:
    """Cohen's kappa of two rounds' stop-set predictions over the items both predicted.

    ``None`` when fewer than 10 items are shared. Identical single-class predictions count as 1.0.
    """
    shared = sorted(previous.keys() & current.keys())
    if len(shared) < 10:
        return None
    a = [previous[i] for i in shared]
    b = [current[i] for i in shared]
    if a == b:
        return 1.0
    from sklearn.metrics import cohen_kappa_score  # here: `textal status` needs only is_stable

    return float(cohen_kappa_score(a, b))


def is_stable(kappas: Sequence[float | None]) -> bool:
    """True when the last :data:`STABLE_ROUNDS` agreements all reach :data:`STABLE_KAPPA`."""
    recent = list(kappas)[-STABLE_ROUNDS:]
    return len(recent) == STABLE_ROUNDS and all(k is not None and k >= STABLE_KAPPA for k in recent)
