"""Cold start on real embeddings: distinct, representative and diverse picks."""

from __future__ import annotations

import numpy as np
import pytest

from textal.strategy.coldstart import cold_start

pytestmark = pytest.mark.slow  # k-means on 5,452 TREC questions, ten times

TREC = "trec/train.csv"


def nearest_pick_distance(X: np.ndarray, picks: np.ndarray) -> np.ndarray:
    """Cosine distance from every row of X to its nearest pick: (n,)."""
    return 1.0 - (X @ X[picks].T).max(axis=1)


def random_picks(n: int, k: int, draws: int) -> list[np.ndarray]:
    return [np.random.default_rng(s).choice(n, k, replace=False) for s in range(draws)]


@pytest.fixture(scope="module")
def trec(embedded_dataset, dataset_labels):
    _, X, y = embedded_dataset(TREC)
    fine = dataset_labels("trec/train_fine.csv")
    assert len(fine) == len(y)
    return X, y, fine


@pytest.fixture(scope="module")
def trec_picks(trec):
    X, _, _ = trec
    return {k: [cold_start(X, k, np.random.default_rng(s)) for s in range(5)] for k in (20, 50)}


@pytest.mark.parametrize("k", [20, 50])
def test_returns_k_distinct_indices(trec, trec_picks, k):
    X, _, _ = trec
    for picks in trec_picks[k]:
        assert picks.shape == (k,)
        assert len(set(picks.tolist())) == k
        assert picks.min() >= 0 and picks.max() < len(X)


def mean_classes(labels: np.ndarray, picks: list[np.ndarray]) -> float:
    return float(np.mean([len(set(labels[p])) for p in picks]))


@pytest.mark.parametrize("k", [20, 50])
def test_covers_more_fine_trec_classes_than_random(trec, trec_picks, k):
    X, _, fine = trec
    ours = mean_classes(fine, trec_picks[k])
    theirs = mean_classes(fine, random_picks(len(X), k, draws=200))
    assert ours > theirs + 0.5, (ours, theirs)


def test_covers_at_least_as_many_coarse_trec_classes_as_random(trec, trec_picks):
    X, coarse, _ = trec
    ours = mean_classes(coarse, trec_picks[50])
    theirs = mean_classes(coarse, random_picks(len(X), 50, draws=200))
    assert ours >= theirs, (ours, theirs)


@pytest.mark.parametrize("k", [20, 50])
def test_lower_kcenter_cost_and_mean_distance_than_random(trec, trec_picks, k):
    X, _, _ = trec
    baseline = random_picks(len(X), k, draws=50)
    random_max = np.mean([nearest_pick_distance(X, p).max() for p in baseline])
    random_mean = np.mean([nearest_pick_distance(X, p).mean() for p in baseline])
    for picks in trec_picks[k]:
        d = nearest_pick_distance(X, picks)
        assert d.max() < random_max, (d.max(), random_max)
        assert d.mean() < random_mean - 0.02, (d.mean(), random_mean)


def test_same_seed_same_picks(trec):
    X, _, _ = trec
    a = cold_start(X[:1000], 10, np.random.default_rng(1))
    b = cold_start(X[:1000], 10, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


def test_fewer_items_than_k_returns_them_all():
    X = np.eye(4, 8, dtype=np.float32)
    assert sorted(cold_start(X, 10, np.random.default_rng(0)).tolist()) == [0, 1, 2, 3]
    assert cold_start(X, 0, np.random.default_rng(0)).shape == (0,)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_duplicate_rows_still_give_distinct_picks():
    rng = np.random.default_rng(0)
    X = np.repeat(np.eye(3, 16, dtype=np.float32), 20, axis=0)  # 3 distinct points, 60 rows
    picks = cold_start(X, 10, rng)
    assert len(set(picks.tolist())) == 10
    assert {int(i) // 20 for i in picks} == {0, 1, 2}
