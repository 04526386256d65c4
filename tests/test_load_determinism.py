"""A seeded simulation gives the same curves on a quiet machine and on one whose cores are busy.

Nothing a round decides may depend on how fast it runs (the head's CV plan is counted in folds
and held-out items, never in seconds: ``textal.model.automl``). The busy machine is real: one
busy-loop process per core, started by the test, bounded in time and always stopped.
"""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from tests.test_simulate import make_data, without_times
from textal.simulate.oracle import Protocol, full_data_reference, simulate_run
from textal.strategy.scores import DEFAULT_STRATEGY

BUSY_FOR_S = 300.0  # the busy loops stop by themselves after this, whatever happens to the test


def _spin(stop, until: float) -> None:
    x = 0
    while not stop.is_set() and time.monotonic() < until:
        for _ in range(100_000):
            x += 1


def _curves(data, protocol):
    runs = [
        without_times(simulate_run(data, strategy, seed, protocol))
        for strategy in (DEFAULT_STRATEGY, "random")
        for seed in (0, 1)
    ]
    reference = full_data_reference(data)
    return runs, (reference.model, reference.macro_f1, reference.recall)


@pytest.mark.slow  # two simulations of 4 runs each, one of them on a saturated machine
def test_same_seeded_curves_with_the_cores_saturated(embedded_dataset, tmp_path):
    _, X, y = embedded_dataset("uci_sentiment_labelled/amazon.csv")
    data = make_data(X[:800], y[:800], X[800:], y[800:], tmp_path)
    protocol = Protocol(init=10, batch_size=20, rounds=8, candidates="all")
    quiet = _curves(data, protocol)

    context = multiprocessing.get_context("fork")  # the loops touch nothing of this process
    stop = context.Event()
    until = time.monotonic() + BUSY_FOR_S
    spinners = [
        context.Process(target=_spin, args=(stop, until), daemon=True)
        for _ in range(os.cpu_count() or 1)
    ]
    try:
        for p in spinners:
            p.start()
        busy = _curves(data, protocol)
        assert all(p.is_alive() for p in spinners)  # the cores were still saturated at the end
    finally:
        stop.set()
        for p in spinners:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
    assert busy == quiet
    assert len(quiet[0][0]) == protocol.rounds + 1
    assert {p["model"] for run in quiet[0] for p in run} - {None}  # real fitted heads
