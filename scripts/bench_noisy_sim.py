"""Active learning from a noisy oracle: does re-checking the top suspects each round pay?

On each dataset (the embedded subsets of ``scripts/bench_suspects.py``: a stratified 30% is the
test set, the rest the pool) and seed, three runs of 25 initial labels + rounds of 25 labels,
with an oracle that answers a wrong label 10% of the time (uniform, ``textal simulate
--label-noise 0.1``), scored by macro-F1 on the clean test labels:

* ``random`` and ``margin-density`` (the default): 25 new labels a round;
* ``margin-density + fix``: 20 new labels a round, then the top 5 flagged suspects of
  ``textal suspects`` not checked before are re-checked by a careful second person (the gold
  label) - 5 labels of cost, so every run spends the same 25 labels a round.

Reported: the area under the macro-F1 curve over labels spent, the final macro-F1 and the wrong
labels left, mean ± sd over seeds, and the paired difference of the fix against plain
margin-density. Usage::

    python scripts/bench_noisy_sim.py [--seeds 5] [--rounds 12]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_suspects import DATASETS, embedded  # the same embedded subsets

from textal.model.automl import fit_on_labels
from textal.quality.suspects import rank_label_issues
from textal.round.plan import plan_round
from textal.simulate.dataset import SimulationData
from textal.simulate.metrics import area_under_curve, paired_difference
from textal.simulate.oracle import Protocol, evaluate, initial_labels, oracle_answers
from textal.store import open_store

BATCH, FIX, NOISE = 25, 5, 0.10
VARIANTS = {"random": ("random", False), "margin-density": ("margin-density", False),
            "margin-density + fix": ("margin-density", True)}  # fmt: skip


def split(name: str) -> SimulationData:
    """The embedded subset as a simulation: 30% of each class (seeded) as the test set."""
    X, y = embedded(name, *DATASETS[name])
    rng = np.random.default_rng(0)
    test = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        test[rng.choice(rows, round(0.3 * len(rows)), replace=False)] = True
    ids = [f"{name}-{k}" for k in np.flatnonzero(~test)]
    store = open_store("memory", X.shape[1])
    store.add(ids, X[~test], ids, [{} for _ in ids])
    oracle = dict(zip(ids, y[~test].tolist(), strict=True))
    return SimulationData(Path("."), "bench", store, oracle, X[test], y[test], sorted(set(y)))


def run(data: SimulationData, strategy: str, fix: bool, seed: int, rounds: int) -> dict:
    protocol = Protocol(init=BATCH, batch_size=BATCH, rounds=rounds, label_noise=NOISE)
    answers = oracle_answers(data, protocol, seed)
    labels = {i: answers[i] for i in initial_labels(data, protocol, seed)}
    spent, checked, costs, f1s = len(labels), set(), [], []
    for r in range(rounds):
        size = BATCH - FIX if fix else BATCH
        plan = plan_round(
            data.store, labels, strategy=strategy, batch_size=size, seed=seed * 1000 + r + 1
        )
        costs.append(spent)
        f1s.append(evaluate(plan.model, labels, data).macro_f1)
        labels.update((p.item_id, answers[p.item_id]) for p in plan.picks)
        spent += len(plan.picks)
        if fix:
            ids = sorted(labels)
            issues = rank_label_issues(
                data.store.get_vectors(ids), np.array([labels[i] for i in ids]), seed=seed
            )
            todo = [ids[i.index] for i in issues if i.flagged and ids[i.index] not in checked]
            for item_id in todo[:FIX]:
                labels[item_id] = data.oracle[item_id]
                checked.add(item_id)
            spent += len(todo[:FIX])
    ids = list(labels)
    y = np.array([labels[i] for i in ids])
    model = fit_on_labels(data.store.get_vectors(ids), y, seed=seed)
    costs.append(spent)
    f1s.append(evaluate(model, labels, data).macro_f1)
    return {
        "auc": area_under_curve(costs, f1s),
        "final": f1s[-1],
        "spent": spent,
        "wrong": sum(labels[i] != data.oracle[i] for i in labels),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--datasets", default="uci-amazon,uci-yelp,cr,trec")
    args = parser.parse_args()
    print("| dataset | run | labels spent | AUC macro-F1 | final macro-F1 | wrong labels left |")
    print("|---|---|---|---|---|---|", flush=True)
    for name in args.datasets.split(","):
        data = split(name)
        results = {}
        with threadpool_limits(limits=1):
            for variant, (strategy, fix) in VARIANTS.items():
                results[variant] = [
                    run(data, strategy, fix, s, args.rounds) for s in range(args.seeds)
                ]
        for variant, runs in results.items():

            def cell(key: str, runs=runs, digits: int = 3) -> str:
                v = np.array([r[key] for r in runs], dtype=float)
                return f"{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}"

            print(f"| {name} | {variant} | {cell('spent', digits=0)} | {cell('auc')} "
                  f"| {cell('final')} | {cell('wrong', digits=1)} |", flush=True)  # fmt: skip
        for key in ("auc", "final"):
            d = paired_difference([r[key] for r in results["margin-density + fix"]],
                                  [r[key] for r in results["margin-density"]])  # fmt: skip
            print(f"| {name} | fix - plain, {key} | | {d.mean:+.3f} ± {d.std:.3f} ({d.verdict}) |")
        data.close()


if __name__ == "__main__":
    main()
