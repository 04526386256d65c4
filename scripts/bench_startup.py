"""Time of the commands a user waits on at start-up: ``--help``, ``status``, a no-op re-ingest,
and an unknown model with no hub. Each runs as a fresh ``python -m textal`` process; the table
shows the median wall time and the median CPU time (user + system, children included, which is
what a busy machine cannot inflate). Usage::

    python scripts/bench_startup.py --data ../shared/data/uci_sentiment_labelled/amazon.csv
    python scripts/bench_startup.py --data FILE --repeats 7 --stores memory

The workspaces (one per store, the data ingested once before timing) live in a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """``python -m textal ARGV``: (wall seconds, CPU seconds, exit code)."""
    before = os.times()
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "textal", *argv], env=env, capture_output=True, check=False
    )
    wall = time.perf_counter() - start
    after = os.times()
    cpu = (after.children_user - before.children_user) + (
        after.children_system - before.children_system
    )
    return wall, cpu, proc.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="CSV with a text column, e.g. 1,000 rows")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--stores", default="memory,lite")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with tempfile.TemporaryDirectory() as tmp:
        cases: list[tuple[str, list[str], dict[str, str]]] = [("--help", ["--help"], env)]
        for store in args.stores.split(","):
            ws = str(Path(tmp) / store)
            extra = ["--store", "memory"] if store == "memory" else []
            subprocess.run(
                [sys.executable, "-m", "textal", "ingest", "--workspace", ws, *extra,
                 "--data", args.data],
                env=env, check=True, capture_output=True,
            )  # fmt: skip
            cases.append((f"status ({store})", ["status", "--workspace", ws], env))
            ingest = ["ingest", "--workspace", ws, "--data", args.data]
            cases.append((f"no-op re-ingest ({store})", ingest, env))
        offline = ["ingest", "--workspace", str(Path(tmp) / "new"), "--data", args.data,
                   "--model", "no/such-model"]  # fmt: skip
        cases.append(("unknown model, no hub", offline, env))
        print("| command | wall s (median) | CPU s (median) | exit |")
        print("|---|---|---|---|")
        for name, argv, case_env in cases:
            runs = [run(argv, case_env) for _ in range(args.repeats)]
            wall = statistics.median(r[0] for r in runs)
            cpu = statistics.median(r[1] for r in runs)
            print(f"| {name} | {wall:.2f} | {cpu:.2f} | {runs[0][2]} |")


if __name__ == "__main__":
    main()
