"""Do rare classes get asked? Unlabeled pool classes at the final budget, before and after a change.

Reads two ``textal simulate`` results (``curves.json``) of the same set, protocol and seeds, and
the pool file they were made from, and prints per strategy: the seeds that end with a pool class
never labeled, the mean number of such classes, the labels of the pool's rarest class at the
final budget, and the AULC and final macro-F1 of both runs with the difference after - before,
paired by seed (as in docs/results.md). Usage::

    python scripts/bench_coverage.py BEFORE/curves.json AFTER/curves.json \\
        --pool ../shared/data/trec/train.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.simulate.metrics import area_under_curve, paired_difference
from textal.simulate.report import show_paired

#: AULC macro-F1, final macro-F1, labels per class at each point (``(labels, {class: count})``)
Run = tuple[float, float, list[tuple[int, dict[str, int]]]]


def load(path: Path) -> dict[str, dict[int, Run]]:
    """``{strategy: {seed: run}}`` of a ``curves.json``."""
    by_run: dict[tuple[str, int], list[dict]] = {}
    for point in json.loads(path.read_text(encoding="utf-8"))["points"]:
        by_run.setdefault((point["strategy"], point["seed"]), []).append(point)
    runs: dict[str, dict[int, Run]] = {}
    for (strategy, seed), points in by_run.items():
        points.sort(key=lambda p: p["round"])
        area = area_under_curve([p["labels"] for p in points], [p["macro_f1"] for p in points])
        counts = [(p["labels"], p["labeled"]) for p in points]
        runs.setdefault(strategy, {})[seed] = (area, points[-1]["macro_f1"], counts)
    return runs


def first_full(counts: list[tuple[int, dict[str, int]]], pool: Counter[str]) -> int | None:
    """Labels at the first point where every pool class has a label (None: never)."""
    return next((n for n, c in counts if all(c.get(k, 0) for k in pool)), None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--pool", type=Path, required=True, help="the pool file (column label)")
    args = parser.parse_args()
    with args.pool.open(encoding="utf-8", newline="") as f:
        pool = Counter(row["label"] for row in csv.DictReader(f))
    rarest = min(pool, key=lambda c: (pool[c], c))
    before, after = load(args.before), load(args.after)
    print(f"pool: {len(pool)} classes, rarest {rarest} ({pool[rarest]} items)")
    print(
        "| strategy | run | seeds with a class unlabeled | unlabeled classes (mean) "
        f"| {rarest} labels (mean) | labels until every class has one (mean of those that do) "
        "| AULC | final | Δ AULC | Δ final |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for strategy in sorted(set(before) & set(after)):
        seeds = sorted(set(before[strategy]) & set(after[strategy]))
        for name, runs in (("before", before[strategy]), ("after", after[strategy])):
            final = [runs[s][2][-1][1] for s in seeds]
            missing = [sum(f.get(c, 0) == 0 for c in pool) for f in final]
            full = [n for n in (first_full(runs[s][2], pool) for s in seeds) if n is not None]
            cells = [
                f"{sum(m > 0 for m in missing)} of {len(seeds)}",
                f"{np.mean(missing):.1f}",
                f"{np.mean([f.get(rarest, 0) for f in final]):.1f}",
                f"{np.mean(full):.0f}" if full else "never",
                f"{np.mean([runs[s][0] for s in seeds]):.3f}",
                f"{np.mean([runs[s][1] for s in seeds]):.3f}",
            ]
            if name == "after":
                for k in (0, 1):
                    d = paired_difference(
                        [after[strategy][s][k] for s in seeds],
                        [before[strategy][s][k] for s in seeds],
                    )
                    cells.append(show_paired(d))
            else:
                cells += ["", ""]
            print(f"| {strategy} | {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
