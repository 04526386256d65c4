"""Exploration: a share of each batch's candidates drawn uniformly from the pool.

Plain functions: :func:`interleave` merges uniformly drawn candidates (the store's ``sample``)
with the strategy's ranked ones so that every prefix holds about ``share`` of them (the diverse
walk then fills the batch from the front), and :func:`exploration_share` sizes the share.

Why: a head barely better than chance has uncertainty that points at label noise, not at what it
has yet to learn; on star-rated reviews (8 ratings, chance-corrected CV macro-F1 about 0.1)
every uncertainty strategy fell below random, while on sets where the head is fairly good
(skill 0.3 and up) margin-density wins or ties. So the batch is random at skill 0.1 or below,
margin-density from 0.3 (docs/results.md, "The default strategy since issue 13").
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from textal.model.automl import AutoClassifier

PRIOR_SHARE = 0.5  # without CV (every class a singleton): no evidence either way
SLIGHT = 0.2  # kappa below this is "slight agreement" (Landis & Koch 1977)
RAMP = 0.1


def interleave(n_explore: int, n_exploit: int, share: float) -> list[int]:
    """Positions into ``explore + exploit`` (explore rows first) ordered so that the first k
    hold about ``share * k`` explore rows; the leftovers of either kind follow in order."""
    order: list[int] = []
    taken_explore = taken_exploit = 0
    while taken_explore < n_explore or taken_exploit < n_exploit:
        due = share * (len(order) + 1) - taken_explore
        if taken_explore < n_explore and (due >= 0.5 or taken_exploit >= n_exploit):
            order.append(taken_explore)
            taken_explore += 1
        else:
            order.append(n_explore + taken_exploit)
            taken_exploit += 1
    return order


def exploration_share(model: AutoClassifier) -> float:
    """Share of the batch drawn at random: 1 while the head is barely better than chance, 0 once
    it is fairly good, linear in between.

    The head's skill is its cross-validated macro-F1 corrected for chance like Cohen's kappa,
    ``(F1 - 1/c) / (1 - 1/c)`` over its ``c`` classes. The share falls from 1 at skill
    ``SLIGHT - RAMP`` to 0 at ``SLIGHT + RAMP``; :data:`PRIOR_SHARE` without CV.
    """
    if math.isnan(model.cv_score_):
        return PRIOR_SHARE
    chance = 1.0 / len(model.classes_)
    return share_for_skill((model.cv_score_ - chance) / (1.0 - chance))


def share_for_skill(skill: float) -> float:
    """The random share at a chance-corrected CV ``skill``: 1 up to ``SLIGHT - RAMP``, 0 from
    ``SLIGHT + RAMP``, linear in between."""
    return float(np.clip((SLIGHT + RAMP - skill) / (2 * RAMP), 0.0, 1.0))
