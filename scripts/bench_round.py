"""Wall time and peak RSS of one active-learning round for pools of 10k, 100k and 1M vectors.

Synthetic clustered unit vectors (dim 384) with 200 labels from a hidden linear rule; one round is
``plan_round`` (fit + stream-score + diverse select), exactly what ``textal round`` runs. Each cell
runs in its own subprocess, so its peak RSS is its own; filling the store is not timed. Usage::

    python scripts/bench_round.py                           # memory and lite, 10k/100k/1M
    python scripts/bench_round.py --sizes 10000 --stores memory
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DIM = 384
N_LABELED = 200
FILL_CHUNK = 50_000


def synthetic(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """Vectors near ``centers`` (so neighbourhoods exist), unit rows, float32."""
    picks = rng.integers(0, len(centers), size=n)
    vectors = centers[picks] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def measure(store_kind: str, size: int, strategy: str) -> dict:
    from textal.round.plan import plan_round
    from textal.store import open_store

    rng = np.random.default_rng(0)
    centers = rng.standard_normal((256, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    rule = rng.standard_normal(DIM).astype(np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        uri = "memory" if store_kind == "memory" else str(Path(tmp) / "bench.db")
        store = open_store(uri, DIM)
        fill_started = time.perf_counter()
        labels: dict[str, str] = {}
        for start in range(0, size, FILL_CHUNK):
            n = min(FILL_CHUNK, size - start)
            vectors = synthetic(n, rng, centers)
            ids = [f"item-{start + k}" for k in range(n)]
            store.add(ids, vectors, ids, [{}] * n)
            if not labels:
                for k in range(N_LABELED):
                    labels[ids[k]] = "pos" if float(vectors[k] @ rule) > 0 else "neg"
        fill_seconds = time.perf_counter() - fill_started
        rss_filled = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        plan = plan_round(store, labels, strategy=strategy, batch_size=20)
        seconds = time.perf_counter() - started
        assert len(plan.picks) == 20
        store.close()
    return {
        "store": store_kind,
        "size": size,
        "fill_s": round(fill_seconds, 1),
        "round_s": round(seconds, 2),
        "parts": dataclasses.asdict(plan.report.timings),
        "rss_after_fill_mib": round(rss_filled),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--stores", default="memory,lite")
    parser.add_argument("--strategy", default="margin-density")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: "store:size"
    args = parser.parse_args()
    if args.one:
        kind, size = args.one.split(":")
        print(json.dumps(measure(kind, int(size), args.strategy)))
        return
    print(
        f"{'store':<7} {'pool':>9} {'round s':>8} {'fit':>6} {'score':>7} {'select':>7}"
        f" {'peak RSS':>9} {'RSS filled':>11} {'fill s':>7}",
        flush=True,
    )
    for kind in args.stores.split(","):
        for size in args.sizes.split(","):
            done = subprocess.run(
                [sys.executable, __file__, "--one", f"{kind}:{size}", "--strategy", args.strategy],
                capture_output=True,
                text=True,
            )
            if done.returncode != 0:
                print(f"{kind:<7} {size:>9} failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            r = json.loads(done.stdout.strip().splitlines()[-1])
            p = r["parts"]
            print(
                f"{r['store']:<7} {r['size']:>9} {r['round_s']:>8.2f} {p['fit']:>6.2f}"
                f" {p['score']:>7.2f} {p['select']:>7.2f} {r['peak_rss_mib']:>5} MiB"
                f" {r['rss_after_fill_mib']:>7} MiB {r['fill_s']:>7.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
