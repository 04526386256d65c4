"""AutoClassifier on real sentence embeddings (yelp: 2 balanced classes; TREC: 6 imbalanced
coarse classes, or 50 fine ones where most classes have one label or none in a small sample)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import balanced_accuracy_score, f1_score

from textal.model.automl import (
    CANDIDATES,
    AutoClassifier,
    _name,
    bootstrap_sample,
    singleton_folds,
)

YELP = "uci_sentiment_labelled/yelp.csv"
TREC = "trec/train.csv"
TREC_FINE = "trec/train_fine.csv"  # the same rows as TREC, with the 50 fine labels


def assert_weighting_pick(model: AutoClassifier) -> None:
    """The pick is the best balanced candidate (earlier on equal CV scores) unless the best
    unweighted one beats it by more than its standard error: unweighted heads must earn it."""
    scores = {name: (mean, std) for name, mean, std in model.leaderboard_}
    by_weight = {
        w: max(
            (c for c in CANDIDATES if c[1] == w),
            key=lambda c: (scores[_name(c)][0], -CANDIDATES.index(c)),
        )
        for w in ("balanced", None)
    }
    mean, std = scores[_name(by_weight["balanced"])]
    beats = scores[_name(by_weight[None])][0] > mean + std / math.sqrt(model.n_cv_folds_)
    assert model.best_name_ == _name(by_weight[None if beats else "balanced"])
    assert model.cv_score_ == scores[model.best_name_][0]


def split(n_total: int, n_labelled: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(seed).permutation(n_total)
    return perm[:n_labelled], perm[n_labelled:]


def per_class(y: np.ndarray, classes: list[str], k: int, seed: int) -> np.ndarray:
    """k random row indices of each named class."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.choice(np.flatnonzero(y == c), k, replace=False) for c in classes])


def test_beats_majority_baseline_on_heldout_yelp(embedded_dataset):
    _, X, y = embedded_dataset(YELP)
    lab, rest = split(len(y), 100, seed=0)
    model = AutoClassifier().fit(X[lab], y[lab])
    majority = max(np.mean(y[rest] == c) for c in np.unique(y))
    accuracy = np.mean(model.predict(X[rest]) == y[rest])
    assert accuracy > majority + 0.25, (accuracy, majority)
    assert balanced_accuracy_score(y[rest], model.predict(X[rest])) > 0.75


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cv_score_tracks_heldout_macro_f1(embedded_dataset, seed):
    _, X, y = embedded_dataset(YELP)
    lab, rest = split(len(y), 200, seed)
    model = AutoClassifier().fit(X[lab], y[lab])
    heldout = f1_score(y[rest], model.predict(X[rest]), average="macro")
    assert abs(model.cv_score_ - heldout) < 0.08, (model.cv_score_, heldout)


@pytest.mark.slow  # embeds TREC's 5,452 training questions on a fresh checkout
def test_fitted_attributes_are_consistent(embedded_dataset):
    _, X, y = embedded_dataset(TREC)
    lab, rest = split(len(y), 300, seed=0)
    model = AutoClassifier().fit(X[lab], y[lab])
    assert list(model.classes_) == sorted(set(y[lab]))
    assert model.n_cv_folds_ == 5  # 300 labels: every fold is scored (cap: MAX_SCORED items)
    means = [mean for _, mean, _ in model.leaderboard_]
    assert len(means) == len(CANDIDATES)
    assert means[1:] == sorted(means[1:], reverse=True)  # the pick, then the rest by mean
    assert model.best_name_ == model.leaderboard_[0][0]
    assert model.cv_score_ == means[0]
    assert_weighting_pick(model)
    assert model.best_ is model.committee_[0]
    proba = model.predict_proba(X[rest])
    assert proba.shape == (len(rest), len(model.classes_))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    assert set(model.predict(X[rest])) <= set(model.classes_)


def test_committee_members_differ(embedded_dataset):
    _, X, y = embedded_dataset(YELP)
    lab, rest = split(len(y), 100, seed=0)
    model = AutoClassifier(committee_size=3).fit(X[lab], y[lab])
    cp = model.committee_proba(X[rest])
    assert cp.shape == (3, len(rest), 2)
    np.testing.assert_allclose(cp[0], model.predict_proba(X[rest]))
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(cp[i] - cp[j]).max() > 0.01, (i, j)


@pytest.mark.slow  # embeds TREC's 5,452 training questions on a fresh checkout
def test_classes_absent_from_training_are_not_predicted(embedded_dataset):
    _, X, y = embedded_dataset(TREC)
    seen = ["HUM", "LOC", "NUM"]
    lab = per_class(y, seen, 20, seed=0)
    model = AutoClassifier().fit(X[lab], y[lab])
    assert list(model.classes_) == seen
    assert model.predict_proba(X[:50]).shape == (50, 3)
    assert model.committee_proba(X[:50]).shape == (3, 50, 3)
    assert set(model.predict(X)) <= set(seen)


@pytest.mark.slow  # embeds TREC's 5,452 training questions on a fresh checkout
def test_two_labels_per_class_uses_two_fold_cv(embedded_dataset):
    _, X, y = embedded_dataset(TREC)
    lab = per_class(y, sorted(set(y)), 2, seed=0)
    model = AutoClassifier().fit(X[lab], y[lab])
    assert model.n_cv_folds_ == 2
    assert 0.0 <= model.cv_score_ <= 1.0
    assert model.predict_proba(X[:10]).shape == (10, 6)


def test_one_label_per_class_falls_back_to_default_without_cv(embedded_dataset):
    _, X, y = embedded_dataset(YELP)
    lab = per_class(y, ["negative", "positive"], 1, seed=0)
    model = AutoClassifier(committee_size=3).fit(X[lab], y[lab])
    assert model.n_cv_folds_ == 0
    assert math.isnan(model.cv_score_)
    assert model.leaderboard_ == []
    assert model.best_name_ == "logreg(C=1, balanced)"
    assert model.committee_proba(X[:200]).shape == (3, 200, 2)
    # Even one example per class beats chance on yelp.
    assert balanced_accuracy_score(y, model.predict(X)) > 0.55


@pytest.mark.slow  # about 10 s: three candidates on 5,000 labels
def test_many_labels_compare_the_whole_grid_on_the_folds_reaching_max_scored(embedded_dataset):
    _, X, y = embedded_dataset(TREC)
    lab, _ = split(len(y), 5000, seed=0)
    model = AutoClassifier(committee_size=5).fit(X[lab], y[lab])
    assert sorted(name for name, _, _ in model.leaderboard_) == sorted(map(_name, CANDIDATES))
    assert 2 <= model.n_cv_folds_ < 5  # folds of ~1,000 items: 2 or 3 reach MAX_SCORED
    assert len(model.committee_) == 5
    assert len({m.C for m in model.committee_}) == 1  # bagging: same head, other samples


@pytest.mark.slow  # embeds TREC's 5,452 training questions on a fresh checkout
def test_singleton_classes_still_get_cross_validated(embedded_dataset, dataset_labels):
    _, X, _ = embedded_dataset(TREC)
    y = dataset_labels(TREC_FINE)
    lab, rest = split(len(y), 120, seed=0)
    _, counts = np.unique(y[lab], return_counts=True)
    assert (counts == 1).sum() >= 5  # the situation under test: several singleton classes
    model = AutoClassifier().fit(X[lab], y[lab])
    assert model.n_cv_folds_ == 5
    assert len(model.leaderboard_) == len(CANDIDATES)
    assert model.best_name_ == model.leaderboard_[0][0]
    assert_weighting_pick(model)
    assert 0.0 < model.cv_score_ <= 1.0
    # The picked head is no worse than chance by far on the held-out rows of the seen classes.
    seen = np.isin(y[rest], model.classes_)
    assert balanced_accuracy_score(y[rest][seen], model.predict(X[rest][seen])) > 0.3


def test_singleton_folds_keep_every_class_in_every_training_part(dataset_labels):
    y_names = dataset_labels(TREC_FINE)[:150]
    _, y = np.unique(y_names, return_inverse=True)
    counts = np.bincount(y)
    fold = singleton_folds(y, 5, np.random.default_rng(0))
    assert np.all(fold[np.isin(y, np.flatnonzero(counts == 1))] == -1)
    assert np.all(fold[np.isin(y, np.flatnonzero(counts >= 2))] >= 0)
    for f in range(5):
        assert set(y[fold != f]) == set(y), f


def test_bootstrap_samples_hold_every_class_and_differ(dataset_labels):
    _, y = np.unique(dataset_labels(TREC_FINE)[:200], return_inverse=True)
    rng = np.random.default_rng(0)
    samples = [bootstrap_sample(y, rng) for _ in range(3)]
    for rows in samples:
        assert set(y[rows]) == set(y)
        assert len(rows) >= len(y)
    assert not np.array_equal(np.sort(samples[0]), np.sort(samples[1]))


@pytest.mark.slow  # embeds TREC's 5,452 training questions on a fresh checkout
def test_bagging_committee_members_disagree_on_labels(embedded_dataset):
    _, X, y = embedded_dataset(TREC)
    lab, rest = split(len(y), 150, seed=1)
    model = AutoClassifier(committee_size=5).fit(X[lab], y[lab])
    votes = model.committee_proba(X[rest]).argmax(axis=2)  # (members, items)
    split_votes = np.mean((votes != votes[0]).any(axis=0))
    assert split_votes > 0.01, split_votes  # members trained on other samples vote otherwise


def test_fewer_than_two_classes_raises():
    X = np.random.default_rng(0).normal(size=(10, 8)).astype(np.float32)
    with pytest.raises(ValueError, match="at least 2 classes"):
        AutoClassifier().fit(X, np.array(["a"] * 10))


def test_estimator_contract():
    model = AutoClassifier(cv_folds=3, committee_size=2, random_state=7)
    assert clone(model).get_params() == {
        "cv_folds": 3,
        "committee_size": 2,
        "random_state": 7,
    }
    with pytest.raises(NotFittedError):
        model.predict_proba(np.zeros((1, 8), dtype=np.float32))
    with pytest.raises(ValueError, match="cv_folds"):
        AutoClassifier(cv_folds=1).fit(np.zeros((4, 8)), ["a", "a", "b", "b"])


def test_rejects_wrong_dimension(embedded_dataset):
    _, X, y = embedded_dataset(YELP)
    model = AutoClassifier().fit(X[:40], y[:40])
    with pytest.raises(ValueError, match="features"):
        model.predict_proba(X[:5, :100])
