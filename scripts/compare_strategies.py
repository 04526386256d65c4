"""Paired comparison of strategies across ``textal simulate`` results, seed by seed.

Reads one or more ``curves.json`` files (runs of several simulations of the same dataset are
merged by strategy and seed, so a new strategy can be compared with runs made earlier), and the
``peer.json`` of ``scripts/bench_peer.py`` as strategy ``peer`` if given, and prints,
for each ``A:B`` pair, the AULC macro-F1 and final macro-F1 of both and the difference A - B
paired by seed (mean ± std over seeds, win/loss when the 95% t-interval excludes 0, as in
docs/results.md). Only seeds present for both strategies are paired. Usage::

    python scripts/compare_strategies.py RESULTS/curves.json [MORE/curves.json ...] \\
        [CACHE/peer.json] --pairs adaptive:random,adaptive:margin-density,adaptive:peer [--seeds 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.simulate.metrics import area_under_curve, paired_difference
from textal.simulate.report import show_paired


def load(paths: list[Path]) -> dict[str, dict[int, tuple[float, float]]]:
    """``{strategy: {seed: (AULC macro-F1, final macro-F1)}}``, later files replacing earlier
    runs; a ``peer.json`` adds strategy ``peer``."""
    runs: dict[str, dict[int, tuple[float, float]]] = {}
    for path in paths:
        document = json.loads(path.read_text(encoding="utf-8"))
        if "peer" in document:
            peer = document["peer"]
            runs["peer"] = dict(enumerate(zip(peer["aulc"], peer["final"], strict=True)))
            continue
        by_run: dict[tuple[str, int], list[dict]] = {}
        for point in document["points"]:
            by_run.setdefault((point["strategy"], point["seed"]), []).append(point)
        for (strategy, seed), points in by_run.items():
            points.sort(key=lambda p: p["round"])
            area = area_under_curve([p["labels"] for p in points], [p["macro_f1"] for p in points])
            runs.setdefault(strategy, {})[seed] = (area, points[-1]["macro_f1"])
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("curves", type=Path, nargs="+", help="curves.json files")
    parser.add_argument("--pairs", required=True, help="comma-separated A:B strategy pairs")
    parser.add_argument("--seeds", type=int, help="only seeds 0..N-1 (default: all shared)")
    args = parser.parse_args()
    runs = load(args.curves)
    print("| A | B | seeds | AULC A | AULC B | Δ AULC (A − B) | final A | final B | Δ final |")
    print("|---|---|---|---|---|---|---|---|---|")
    for pair in args.pairs.split(","):
        a, b = pair.split(":")
        if a not in runs or b not in runs:
            print(f"| {a} | {b} | missing: {', '.join(s for s in (a, b) if s not in runs)} |")
            continue
        seeds = sorted(set(runs[a]) & set(runs[b]))
        if args.seeds is not None:
            seeds = [s for s in seeds if s < args.seeds]
        area_a, final_a = zip(*(runs[a][k] for k in seeds), strict=True)
        area_b, final_b = zip(*(runs[b][k] for k in seeds), strict=True)
        print(
            f"| {a} | {b} | {len(seeds)} | {np.mean(area_a):.3f} | {np.mean(area_b):.3f} "
            f"| {show_paired(paired_difference(area_a, area_b))} "
            f"| {np.mean(final_a):.3f} | {np.mean(final_b):.3f} "
            f"| {show_paired(paired_difference(final_a, final_b))} |"
        )


if __name__ == "__main__":
    main()
