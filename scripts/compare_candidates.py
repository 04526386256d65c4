"""Label efficiency of candidate retrieval against the full scan, paired by seed.

Reads the ``curves.json`` of two ``textal simulate`` runs of one dataset, one with
``--candidates all`` and the default strategy and random among its strategies, one with
``--candidates index --strategies default`` (same seeds and protocol), and prints one markdown
table row: AULC macro-F1 of each, and the paired differences index - all and index - random
(``scripts/run_reference.sh NAME-index`` runs it). Usage::

    python scripts/compare_candidates.py NAME ALL/curves.json INDEX/curves.json
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.compare_strategies import load
from textal.simulate.metrics import paired_difference
from textal.simulate.report import show_paired
from textal.strategy.scores import DEFAULT_STRATEGY as STRATEGY


def aulcs(path: str, strategy: str) -> dict[int, float]:
    """Seed -> AULC macro-F1 of ``strategy`` in the run whose ``curves.json`` is ``path``."""
    return {seed: area for seed, (area, _) in load([Path(path)]).get(strategy, {}).items()}


def main() -> None:
    name, full_path, index_path = sys.argv[1:4]
    full, random, index = (
        aulcs(full_path, STRATEGY),
        aulcs(full_path, "random"),
        aulcs(index_path, STRATEGY),
    )
    seeds = sorted(set(full) & set(random) & set(index))
    a, r, i = ([d[s] for s in seeds] for d in (full, random, index))

    def show(d: list[float]) -> str:
        return f"{sum(d) / len(d):.3f}"

    print(
        f"| {name} | {len(seeds)} | {show(a)} | {show(i)} | {show(r)} | "
        f"{show_paired(paired_difference(i, a))} | {show_paired(paired_difference(i, r))} |"
    )


if __name__ == "__main__":
    main()
