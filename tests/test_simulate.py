"""The oracle loop of ``textal simulate`` on real reviews and questions, and the command itself.

Data comes from ``../shared/data`` beside the checkout; every test that needs it is skipped with
the reason where it is absent (failed under ``CI``).
"""

from __future__ import annotations

import argparse
import csv
import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import AMAZON, require_data
from textal.data.readers import read_records
from textal.errors import TextalError
from textal.simulate import cli
from textal.simulate.dataset import SimulationData, stratified_split
from textal.simulate.metrics import area_under_curve, labels_to_reach, paired_difference
from textal.simulate.oracle import Protocol, initial_labels, run_all, simulate_run
from textal.store import open_store
from textal.strategy.scores import DEFAULT_STRATEGY, STRATEGIES


def make_data(X: np.ndarray, y: np.ndarray, test_X: np.ndarray, test_y: np.ndarray, where: Path):
    """A SimulationData over an in-memory pool store holding X (n, d) with gold labels y (n,)."""
    ids = [f"row-{k}" for k in range(len(X))]
    store = open_store("memory", X.shape[1])
    store.add(ids, X, ids, [{"gold": str(g)} for g in y])
    oracle = dict(zip(ids, map(str, y), strict=True))
    classes = sorted(set(oracle.values()) | set(test_y.tolist()))
    return SimulationData(where, "test", store, oracle, test_X, test_y.astype(str), classes)


def without_times(run):
    """A curve's points minus the wall-clock fields, which differ between identical runs."""
    return [{k: v for k, v in asdict(p).items() if k not in ("fit_s", "select_s")} for p in run]


@pytest.fixture
def amazon(embedded_dataset, tmp_path) -> SimulationData:
    """The first 300 Amazon reviews: 240 in the pool, the other 60 as the test set."""
    _, X, y = embedded_dataset("uci_sentiment_labelled/amazon.csv")
    return make_data(X[:240], y[:240], X[240:300], y[240:300], tmp_path)


def test_curves_have_one_point_per_round_and_labels_grow_by_the_batch(amazon):
    protocol = Protocol(init=10, batch_size=10, rounds=4)
    run = simulate_run(amazon, "margin", 0, protocol)
    assert [p.labels for p in run] == [10, 20, 30, 40, 50]
    assert [p.round for p in run] == [0, 1, 2, 3, 4]
    assert all(sum(p.labeled.values()) == p.labels for p in run)
    assert run[-1].accuracy > 0.75  # real predictions on the right test items, chance is 0.5
    assert all(0 <= p.accuracy <= 1 and set(p.recall) == {"negative", "positive"} for p in run)
    assert all(p.select_s is not None for p in run[:-1]) and run[-1].select_s is None


def test_same_seed_same_curve_and_strategies_share_the_initial_labels(amazon):
    protocol = Protocol(init=10, batch_size=10, rounds=3)
    first = initial_labels(amazon, protocol, seed=1)
    assert initial_labels(amazon, protocol, seed=1) == first
    assert initial_labels(amazon, protocol, seed=2) != first
    margin = simulate_run(amazon, "margin", 1, protocol)
    assert without_times(simulate_run(amazon, "margin", 1, protocol)) == without_times(margin)
    random = simulate_run(amazon, "random", 1, protocol)
    # Same initial labels and model seed: the first points agree, later ones need not.
    assert without_times(random)[0] | {"strategy": "margin"} == without_times(margin)[0]
    assert without_times(random) != without_times(margin)


@pytest.mark.slow
def test_parallel_runs_equal_runs_in_this_process(amazon):
    protocol = Protocol(init=10, batch_size=10, rounds=2)
    strategies = ["committee", "random"]
    forked, ref_forked = run_all(amazon, strategies, [0, 1], protocol, workers=2)
    serial, ref_serial = run_all(amazon, strategies, [0, 1], protocol, workers=1)
    assert [without_times(r) for r in forked] == [without_times(r) for r in serial]
    assert [(r[0].strategy, r[0].seed) for r in serial] == [
        ("committee", 0), ("random", 0), ("committee", 1), ("random", 1),
    ]  # fmt: skip
    assert ref_forked.labels == ref_serial.labels == 240
    assert ref_forked.accuracy == ref_serial.accuracy > 0.8


@pytest.mark.slow  # embeds TREC's training questions; every strategy, three rounds
def test_rare_class_absent_from_the_initial_labels_does_not_crash(embedded_dataset, tmp_path):
    """TREC's ABBR class (86 of 5,452 questions): a pool where it is rare and first unseen."""
    _, X, y = embedded_dataset("trec/train.csv")
    _, test_X, test_y = embedded_dataset("trec/test.csv")
    rows = np.concatenate([np.flatnonzero(y != "ABBR")[:300], np.flatnonzero(y == "ABBR")[:4]])
    data = make_data(X[rows], y[rows], test_X, test_y, tmp_path)
    protocol = Protocol(init=12, batch_size=10, rounds=3)
    assert "ABBR" not in initial_labels(data, protocol, seed=0).values()
    for strategy in STRATEGIES:
        run = simulate_run(data, strategy, 0, protocol)
        assert [p.labels for p in run] == [12, 22, 32, 42]
        assert "ABBR" not in run[0].labeled
        assert run[0].recall["ABBR"] == 0.0  # a class never labeled is never predicted
        assert len(run[0].recall) == 6 and 0 < run[0].macro_f1 < run[0].accuracy


def test_a_single_labeled_class_starts_cold_and_recovers(amazon):
    protocol = Protocol(init=1, batch_size=10, rounds=2)
    run = simulate_run(amazon, "margin", 0, protocol)
    assert [p.labels for p in run] == [1, 11, 21]
    assert run[0].model is None  # one class: cold start, the majority guess is scored
    guess_share = max(np.mean(amazon.test_labels == c) for c in amazon.classes)
    assert run[0].accuracy <= guess_share
    assert run[-1].model is not None


def test_initial_cold_start_batch_is_shared_and_distinct(amazon):
    protocol = Protocol(init=10, batch_size=10, rounds=1, initial="cold-start")
    labels = initial_labels(amazon, protocol, seed=3)
    assert len(labels) == 10 and labels == initial_labels(amazon, protocol, seed=3)


def test_curve_metrics():
    assert area_under_curve([10, 20, 30], [0.5, 0.7, 0.7]) == pytest.approx(0.65)
    assert area_under_curve([25], [0.8]) == 0.8
    assert labels_to_reach([10, 20, 30], [0.5, 0.9, 0.8], 0.85) == 20
    assert labels_to_reach([10, 20], [0.5, 0.6], 0.85) is None
    assert paired_difference([0.8, 0.81, 0.82], [0.7, 0.7, 0.71]).verdict == "win"
    assert paired_difference([0.7, 0.7, 0.71], [0.8, 0.81, 0.82]).verdict == "loss"
    assert paired_difference([0.8, 0.7, 0.9], [0.79, 0.72, 0.88]).verdict == "tie"


def test_stratified_split_keeps_class_shares():
    require_data(AMAZON)
    records = list(read_records(AMAZON, label_column="label"))  # 990: repeated reviews skipped
    pool, test = stratified_split(records, 0.2, seed=0)
    for label in ["negative", "positive"]:
        n = sum(r.gold == label for r in records)
        assert sum(r.gold == label for r in test) == round(0.2 * n)
    assert len(pool) + len(test) == len(records)
    assert not {r.id for r in pool} & {r.id for r in test}
    assert [r.id for r in stratified_split(records, 0.2, seed=0)[1]] == [r.id for r in test]
    assert [r.id for r in stratified_split(records, 0.2, seed=1)[1]] != [r.id for r in test]


def simulate_args(
    tmp_path: Path, store: str, fraction: str = "0.2", strategies: str = "margin,random"
):
    """``textal simulate`` arguments: 300 Amazon reviews, 2 seeds, 10 + 2 x 10 labels."""
    data = tmp_path / "amazon300.csv"
    if not data.exists():
        with AMAZON.open(encoding="utf-8") as f:
            data.write_text("".join(f.readlines()[:301]), encoding="utf-8")  # header + 300 rows
    argv = ["simulate", "--workspace", str(tmp_path / "ws"), "--name", "amazon", "--store", store]
    argv += ["--data", str(data), "--test-fraction", fraction, "--strategies", strategies]
    argv += ["--seeds", "2", "--init", "10", "--batch-size", "10", "--rounds", "2"]
    parser = argparse.ArgumentParser()
    cli.add_parser(parser.add_subparsers(dest="command"))
    return parser.parse_args(argv)


@pytest.mark.slow  # embeds a dataset and runs the whole command
@pytest.mark.parametrize("store", ["memory", "milvus"])
def test_simulate_command_writes_summary_points_and_plot(tmp_path, capsys, store):
    require_data(AMAZON)
    cli.run(simulate_args(tmp_path, store))
    out = tmp_path / "ws" / "simulations" / "amazon-all-MiniLM-L6-v2"
    printed = capsys.readouterr().out
    assert "| margin |" in printed and "| random |" in printed
    assert "Full data (240 labels" in printed
    with (out / "curves.csv").open(encoding="utf-8") as f:
        points = list(csv.DictReader(f))
    assert len(points) == 2 * 2 * 3
    assert [int(p["labels"]) for p in points[:3]] == [10, 20, 30]
    assert {"recall:negative", "recall:positive"} <= set(points[0])
    document = json.loads((out / "curves.json").read_text(encoding="utf-8"))
    assert document["reference"]["labels"] == 240 and len(document["points"]) == 12
    assert (out / "curves.png").stat().st_size > 10_000
    assert (out / "summary.md").read_text(encoding="utf-8") in printed

    with pytest.raises(TextalError, match="caches other data"):
        cli.run(simulate_args(tmp_path, store, fraction="0.3"))
    with pytest.raises(TextalError, match="unknown strategy"):
        cli.run(simulate_args(tmp_path, store, strategies="margin,nope"))


def test_default_names_the_default_strategy():
    assert cli._strategies("default,random") == [DEFAULT_STRATEGY, "random"]
    assert cli._strategies(f"{DEFAULT_STRATEGY}, default ,random") == [DEFAULT_STRATEGY, "random"]
    with pytest.raises(TextalError, match="choose from default, "):
        cli._strategies("defaults")
