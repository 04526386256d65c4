"""Ingest throughput against bare ``SentenceTransformer.encode`` on the same texts.

Each measurement runs in its own subprocess (so peak RSS is its own), side by side in one run:
bare encode, ingest into the in-memory store, ingest into Milvus Lite, repeated ``--repeat`` times
in turn so that the machine's drift falls on every mode alike; ratios are of the medians. Usage::

    python scripts/bench_ingest.py --rows 5000 --repeat 3   # SST-2 train rows from ../shared/data
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "sst2" / "train.csv"


def load_texts(rows: int) -> list[str]:
    texts: list[str] = []
    seen: set[str] = set()
    with open(DATA, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = row["text"].strip()
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                if len(texts) == rows:
                    break
    return texts


def measure(mode: str, rows: int) -> dict:
    from textal.data.ids import content_id
    from textal.data.readers import Record
    from textal.embed import Encoder
    from textal.ingest import ingest_records
    from textal.store import open_store

    texts = load_texts(rows)
    encoder = Encoder()
    encoder.encode(texts[:256])  # warm up: first call pays for lazy initialisation
    with tempfile.TemporaryDirectory() as tmp:
        store = None
        if mode == "memory":
            store = open_store("memory", encoder.dim)
        elif mode == "lite":
            store = open_store(str(Path(tmp) / "bench.db"), encoder.dim)
        records = [Record(k + 1, content_id(t), t, None) for k, t in enumerate(texts)]
        started = time.perf_counter()
        if store is None:
            encoder._model.encode(texts, batch_size=encoder.batch_size, normalize_embeddings=True)
        else:
            ingest_records(records, encoder, store, total=len(records))
        seconds = time.perf_counter() - started
        if store is not None:
            assert store.count() == len(texts), (store.count(), len(texts))
            store.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "rows": len(texts), "seconds": seconds, "peak_rss_mib": peak_mib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three modes")
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # internal: one measurement
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.rows)))
        return
    if not DATA.exists():
        sys.exit(f"no data at {DATA}: put the shared datasets beside the checkout")
    modes = ["bare", "memory", "lite"]
    results = []
    for mode in modes * args.repeat:
        out = subprocess.run(
            [sys.executable, __file__, "--rows", str(args.rows), "--mode", mode],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
    median = {m: statistics.median(r["seconds"] for r in results if r["mode"] == m) for m in modes}
    peak = {m: max(r["peak_rss_mib"] for r in results if r["mode"] == m) for m in modes}
    rows = results[0]["rows"]
    header = ("mode", "rows", "runs (s)", "median", "items/s", "vs bare", "peak RSS")
    print("{:<8} {:>6} {:>24} {:>7} {:>8} {:>8} {:>9}".format(*header))
    for m in modes:
        runs = " ".join(f"{r['seconds']:.2f}" for r in results if r["mode"] == m)
        print(
            f"{m:<8} {rows:>6} {runs:>24} {median[m]:>7.2f} {rows / median[m]:>8.0f}"
            f" {median[m] / median['bare']:>8.3f} {peak[m]:>6.0f} MiB"
        )


if __name__ == "__main__":
    main()
