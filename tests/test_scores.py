"""Ambiguity scores: known vectors give known orderings; strategies on a real fitted model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from textal.model.automl import AutoClassifier
from textal.strategy.scores import (
    DEFAULT_STRATEGY,
    STRATEGIES,
    STRATEGY,
    committee_disagreement,
    entropy,
    least_confidence,
    margin,
    random_scores,
    vote_entropy,
)

SINGLE = [least_confidence, margin, entropy]
COMMITTEE = [vote_entropy, committee_disagreement]


def rank(scores: np.ndarray) -> list[int]:
    """Positions from highest to lowest score, ties by position."""
    return np.argsort(-np.asarray(scores), kind="stable").tolist()


def dirichlet(n: int, c: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(c), size=n)


def test_margin_ranks_a_tie_above_a_confident_prediction():
    p = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    np.testing.assert_allclose(margin(p), [0.2, 1.0, 0.8])
    assert rank(margin(p)) == [1, 2, 0]


def test_margin_uses_the_two_largest_whatever_their_column():
    p = np.array([[0.1, 0.45, 0.45], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
    np.testing.assert_allclose(margin(p), [1.0, 0.5, 0.9])


def test_least_confidence_values_and_order():
    p = np.array([[0.9, 0.05, 0.05], [0.4, 0.3, 0.3], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(least_confidence(p), [0.1, 0.6, 2 / 3])
    assert rank(least_confidence(p)) == [2, 1, 0]


def test_entropy_of_uniform_is_the_maximum():
    c = 5
    p = np.vstack([np.full(c, 1 / c), dirichlet(1000, c), np.eye(c)])
    h = entropy(p)
    assert h[0] == pytest.approx(math.log(c))
    assert np.all(h[1:] < h[0])
    np.testing.assert_allclose(h[-c:], 0.0, atol=1e-9)
    assert np.argmax(h) == 0


@pytest.mark.parametrize("score", SINGLE)
def test_single_scores_are_permutation_invariant_and_bounded(score):
    p = dirichlet(500, 4)
    s = score(p)
    assert s.shape == (500,) and np.all(np.isfinite(s))
    np.testing.assert_allclose(score(p[:, ::-1]), s)
    assert s.min() >= 0.0
    assert s.max() <= max(1.0, math.log(4))


def test_vote_entropy_is_zero_when_all_members_agree():
    # Members agree on the label but not on its probability.
    cp = np.array([[[0.9, 0.1]], [[0.6, 0.4]], [[0.51, 0.49]]])
    assert vote_entropy(cp)[0] == 0.0
    assert committee_disagreement(cp)[0] > 0.0  # the consensus entropy breaks the tie


def test_vote_entropy_counts_votes():
    a, b, c = [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]
    cp = np.array([[a, a, a], [a, b, b], [a, a, c]])  # (m=3, n=3, c=3)
    expected_split = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    np.testing.assert_allclose(vote_entropy(cp), [0.0, expected_split, math.log(3)])


def test_committee_disagreement_orders_by_votes_then_by_consensus_entropy():
    unanimous_sure = [[0.95, 0.05], [0.9, 0.1], [0.99, 0.01]]
    unanimous_unsure = [[0.55, 0.45], [0.6, 0.4], [0.51, 0.49]]
    split_sure = [[0.99, 0.01], [0.01, 0.99], [0.9, 0.1]]
    split_unsure = [[0.52, 0.48], [0.48, 0.52], [0.51, 0.49]]
    cp = np.array([unanimous_sure, unanimous_unsure, split_sure, split_unsure]).transpose(1, 0, 2)
    s = committee_disagreement(cp)
    assert rank(s) == [3, 2, 1, 0]
    np.testing.assert_allclose(s, vote_entropy(cp), atol=1e-6)


def test_single_class_column_scores_zero():
    p = np.ones((7, 1))
    for score in SINGLE:
        np.testing.assert_array_equal(score(p), np.zeros(7))
    for score in COMMITTEE:
        np.testing.assert_allclose(score(np.ones((3, 7, 1))), np.zeros(7), atol=1e-12)


def test_wrong_dimensions_raise():
    with pytest.raises(ValueError):
        margin(np.ones((2, 3, 4)))
    with pytest.raises(ValueError):
        vote_entropy(np.ones((2, 3)))


def test_random_scores_are_seeded():
    a = random_scores(100, np.random.default_rng(3))
    b = random_scores(100, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100,) and a.min() >= 0.0 and a.max() < 1.0


@pytest.fixture(scope="module")
def yelp_model(embedded_dataset):
    _, X, y = embedded_dataset("uci_sentiment_labelled/yelp.csv")
    perm = np.random.default_rng(0).permutation(len(y))
    lab, rest = perm[:100], perm[100:]
    return AutoClassifier().fit(X[lab], y[lab]), X[rest], y[rest]


def test_strategies_registry(yelp_model):
    model, X, _ = yelp_model
    assert set(STRATEGIES) == {
        "adaptive",
        "margin-density",
        "margin",
        "entropy",
        "least-confidence",
        "committee",
        "random",
    }
    assert STRATEGY.choices == tuple(STRATEGIES) and STRATEGY.default == DEFAULT_STRATEGY
    composed = {name for name, s in STRATEGIES.items() if s.density or s.explore}
    assert composed == {"adaptive", "margin-density"}
    assert [name for name, s in STRATEGIES.items() if s.explore] == ["adaptive"]
    rng = np.random.default_rng(0)
    for name, strategy in STRATEGIES.items():
        s = strategy(model, X, rng)
        assert s.shape == (len(X),) and np.all(np.isfinite(s)), name
    np.testing.assert_allclose(STRATEGIES["margin"](model, X, rng), margin(model.predict_proba(X)))
    np.testing.assert_allclose(
        STRATEGIES["committee"](model, X, rng),
        committee_disagreement(model.committee_proba(X)),
    )
    assert STRATEGIES["random"](None, X, rng).shape == (len(X),)


@pytest.mark.parametrize("name", ["margin", "entropy", "least-confidence", "committee"])
def test_ambiguous_items_are_the_ones_the_model_gets_wrong(yelp_model, name):
    model, X, y = yelp_model
    order = rank(STRATEGIES[name](model, X, np.random.default_rng(0)))
    correct = model.predict(X) == y
    most, least = correct[order[:150]].mean(), correct[order[-150:]].mean()
    assert most < least - 0.2, (most, least)
