"""Noisy oracles: ``textal simulate --label-noise`` and the flips of the suspects benchmark."""

from __future__ import annotations

import argparse
from collections import Counter

import numpy as np
import pytest

from tests.test_simulate import make_data, simulate_args
from textal.errors import TextalError
from textal.quality.noise import confusable_classes, flip_exact, noisy_oracle
from textal.simulate import cli
from textal.simulate.oracle import Protocol, initial_labels, oracle_answers, simulate_run

CLASSES = ["DESC", "ENTY", "HUM", "LOC", "NUM"]


def test_noisy_oracle_flips_about_the_share_asked_reproducibly():
    rng = np.random.default_rng(0)
    gold = {f"q{k}": CLASSES[c] for k, c in enumerate(rng.integers(len(CLASSES), size=4000))}
    answers = noisy_oracle(gold, 0.1, seed=3)
    wrong = [i for i in gold if answers[i] != gold[i]]
    assert 0.085 < len(wrong) / len(gold) < 0.115  # 0.1 +- 3 binomial sd
    assert set(answers.values()) == set(CLASSES)
    assert noisy_oracle(gold, 0.1, seed=3) == answers
    assert noisy_oracle(gold, 0.1, seed=4) != answers
    assert noisy_oracle(gold, 0.0, seed=3) == gold
    # Uniform: every other class is about equally likely as the wrong answer.
    shares = Counter((gold[i], answers[i]) for i in wrong)
    assert len(shares) == len(CLASSES) * (len(CLASSES) - 1)
    # Class-conditional: every wrong answer is the class's one confusable class.
    targets = {c: CLASSES[(k + 1) % len(CLASSES)] for k, c in enumerate(CLASSES)}
    by_class = noisy_oracle(gold, 0.2, seed=3, kind="class", targets=targets)
    flipped = [i for i in gold if by_class[i] != gold[i]]
    assert 0.18 < len(flipped) / len(gold) < 0.22
    assert all(by_class[i] == targets[gold[i]] for i in flipped)
    with pytest.raises(ValueError, match="label noise"):
        noisy_oracle(gold, 1.0, seed=0)


def test_flip_exact_and_confusable_classes_on_real_questions(embedded_dataset):
    _, X, y = embedded_dataset("trec/test.csv")
    targets = confusable_classes(X, y)
    assert set(targets) == set(y.tolist()) and all(targets[c] != c for c in targets)
    noisy, flipped = flip_exact(y, 50, np.random.default_rng(0), kind="class", targets=targets)
    assert len(flipped) == 50 and (noisy != y).sum() == 50
    assert all(noisy[k] == targets[y[k]] for k in flipped)
    same, again = flip_exact(y, 50, np.random.default_rng(0), kind="class", targets=targets)
    assert (same == noisy).all() and (again == flipped).all()


@pytest.fixture
def amazon(embedded_dataset, tmp_path):
    _, X, y = embedded_dataset("uci_sentiment_labelled/amazon.csv")
    return make_data(X[:240], y[:240], X[240:300], y[240:300], tmp_path)


def test_simulated_runs_learn_from_the_noisy_answers(amazon):
    protocol = Protocol(init=40, batch_size=10, rounds=1, label_noise=0.3)
    answers = oracle_answers(amazon, protocol, seed=0)
    wrong = {i for i in amazon.oracle if answers[i] != amazon.oracle[i]}
    assert 0.2 < len(wrong) / len(amazon.oracle) < 0.4
    initial = initial_labels(amazon, protocol, seed=0)
    assert set(initial) & wrong  # some first answers are wrong
    run = simulate_run(amazon, "margin", 0, protocol)
    assert run[0].labeled == dict(sorted(Counter(answers[i] for i in initial).items()))
    assert run[0].labeled != dict(sorted(Counter(initial.values()).items()))
    assert [p.accuracy for p in simulate_run(amazon, "margin", 0, protocol)] == [
        p.accuracy for p in run
    ]  # seeded
    clean = simulate_run(amazon, "margin", 0, Protocol(init=40, batch_size=10, rounds=1))
    assert clean[0].labeled == dict(sorted(Counter(initial.values()).items()))


def test_simulate_command_refuses_noise_out_of_range(tmp_path):
    args = simulate_args(tmp_path, "memory")
    for bad in (-0.1, 1.0, float("nan")):
        with pytest.raises(TextalError, match="--label-noise"):
            cli.run(argparse.Namespace(**{**vars(args), "label_noise": bad}))
