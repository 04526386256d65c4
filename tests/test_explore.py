"""Exploration: uniform candidates, their place among ranked ones, the share a head earns."""

from __future__ import annotations

import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.workspaces import gold_labels
from textal.model.automl import AutoClassifier
from textal.round.plan import plan_round
from textal.strategy.explore import PRIOR_SHARE, exploration_share, interleave
from textal.workspace import Workspace

IDS = [f"item-{k}" for k in range(200)]
CHUNKS = [IDS[k : k + 64] for k in range(0, len(IDS), 64)]  # as a store streams them


@pytest.mark.parametrize("share", [0.0, 0.2, 0.5, 0.8, 1.0])
def test_interleave_keeps_the_share_in_every_prefix(share):
    order = interleave(30, 100, share)
    assert sorted(order) == list(range(130))
    explored = np.cumsum(np.asarray(order) < 30)
    for k in range(1, 31):  # while both kinds last, a prefix of k holds share * k explored rows
        assert abs(explored[k - 1] - share * k) <= 1, (k, explored[k - 1])
    # each kind keeps its own order
    assert [i for i in order if i < 30] == list(range(30))
    assert [i for i in order if i >= 30] == list(range(30, 130))


def _fitted(y: np.ndarray, seed: int = 0) -> AutoClassifier:
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(len(set(y.tolist())), 16)) * 4
    index = {c: k for k, c in enumerate(sorted(set(y.tolist())))}
    X = centers[[index[c] for c in y]] + rng.normal(size=(len(y), 16))
    return AutoClassifier(random_state=seed).fit(X, y)


def test_a_head_that_separates_the_classes_explores_little():
    y = np.repeat(["a", "b", "c", "d"], 30)
    assert exploration_share(_fitted(y)) < 0.1


def test_a_head_no_better_than_chance_explores_almost_everything():
    rng = np.random.default_rng(0)
    y = np.repeat(["a", "b", "c", "d"], 30)
    model = AutoClassifier(random_state=0).fit(rng.normal(size=(120, 16)), y)  # labels unrelated
    assert exploration_share(model) > 0.8


def test_without_cross_validation_the_share_is_the_prior():
    model = _fitted(np.array(["a", "b", "c"]))  # one label per class: no CV
    assert np.isnan(model.cv_score_) and exploration_share(model) == PRIOR_SHARE


def test_shares_fall_as_the_head_gets_better():
    y = np.repeat(["a", "b", "c", "d"], 30)
    rng = np.random.default_rng(0)
    noise = rng.normal(size=(120, 16))
    centers = rng.normal(size=(4, 16))
    rows = np.repeat(np.arange(4), 30)
    shares = [
        exploration_share(AutoClassifier(random_state=0).fit(noise + scale * centers[rows], y))
        for scale in (0.0, 0.3, 0.6, 1.0, 3.0)
    ]
    assert shares[0] == 1.0 and shares[-1] == 0.0
    assert all(a >= b for a, b in itertools.pairwise(shares)), shares


@pytest.fixture
def amazon(amazon_template, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    return root


def test_adaptive_asks_at_random_while_the_head_knows_nothing(amazon):
    with Workspace.open(amazon) as ws:
        ids = [chunk_id for chunk in ws.store.iterate(4096) for chunk_id in chunk.ids][:80]
        gold = dict(gold_labels(ws, ids))
        good = plan_round(ws.store, gold, strategy="adaptive", batch_size=20)
        dense = plan_round(ws.store, gold, strategy="margin-density", batch_size=20)
        # A head that knows sentiment asks what margin-density asks.
        assert [p.item_id for p in good.picks] == [p.item_id for p in dense.picks]
        assert all(p.score is not None for p in good.picks)
        # Labels unrelated to the texts: the head is at chance, so the batch is drawn at random.
        unrelated = np.random.default_rng(0).permutation([gold[i] for i in ids])
        shuffled = dict(zip(ids, unrelated.tolist(), strict=True))
        blind = plan_round(ws.store, shuffled, strategy="adaptive", batch_size=20)
        picked = [p.item_id for p in blind.picks]
        assert len(set(picked)) == 20 and not set(picked) & set(ids)
        assert sum(p.score is None for p in blind.picks) >= 16
