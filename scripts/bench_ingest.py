"""Ingest throughput against bare ``SentenceTransformer.encode``, and embedding backends compared.

Each measurement runs in its own subprocess (so peak RSS is its own), side by side in one run,
repeated ``--repeat`` times in turn so that the machine's drift falls on every mode alike; ratios
are of the medians. Without ``--backends``: bare encode, ingest into the in-memory store, ingest
into Milvus Lite, and with ``--server`` ingest into a Milvus 2.3.5 standalone started as the tests
start it (``tests/servers.py``; a new collection each run). With ``--backends``:
``Encoder.encode`` in ingest-sized calls with each backend (exported beforehand, not timed),
and each backend's agreement with PyTorch fp32 vectors. Usage::

    python scripts/bench_ingest.py --rows 5000 --repeat 3   # SST-2 train rows from ../shared/data
    python scripts/bench_ingest.py --rows 5000 --repeat 3 --server   # and a Milvus server
    python scripts/bench_ingest.py --backends torch,onnx,onnx-int8,openvino --data imdb --rows 2000
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DATA = {"sst2": SHARED / "sst2" / "train.csv", "imdb": SHARED / "imdb" / "test.csv"}


def load_texts(rows: int, data: str = "sst2") -> list[str]:
    texts: list[str] = []
    seen: set[str] = set()
    with open(DATA[data], encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            text = row["text"].strip()
            if text and text not in seen:
                seen.add(text)
                texts.append(text)
                if len(texts) == rows:
                    break
    return texts


def measure(mode: str, rows: int, uri: str = "") -> dict:
    from textal.data.ids import content_id
    from textal.data.readers import Record
    from textal.embed import Encoder
    from textal.ingest import ingest_records
    from textal.store import credentials_from_env, open_store

    texts = load_texts(rows)
    encoder = Encoder()
    encoder.encode(texts[:256])  # warm up: first call pays for lazy initialisation
    with tempfile.TemporaryDirectory() as tmp:
        store = None
        if mode == "memory":
            store = open_store("memory", encoder.dim)
        elif mode == "lite":
            store = open_store(str(Path(tmp) / "bench.db"), encoder.dim)
        elif mode == "server":
            collection = f"bench_{os.getpid()}_{time.time_ns()}"
            credentials = credentials_from_env(os.environ)
            store = open_store(uri, encoder.dim, collection=collection, credentials=credentials)
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


def measure_backend(backend: str, rows: int, data: str, vectors_out: str) -> dict:
    """Encode like ingest does (calls of ``ENCODE_CHUNK`` texts); save the vectors for agreement."""
    import numpy as np

    from textal.embed import Encoder
    from textal.ingest import ENCODE_CHUNK

    texts = load_texts(rows, data)
    encoder = Encoder(backend=backend)
    encoder.encode(texts[:256])  # warm up
    started = time.perf_counter()
    vectors = [
        encoder.encode(texts[k : k + ENCODE_CHUNK]) for k in range(0, len(texts), ENCODE_CHUNK)
    ]
    seconds = time.perf_counter() - started
    if vectors_out:
        np.save(vectors_out, np.concatenate(vectors), allow_pickle=False)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": backend, "rows": len(texts), "seconds": seconds, "peak_rss_mib": peak_mib}


@contextlib.contextmanager
def milvus_server() -> Iterator[str]:
    """A Milvus 2.3.5 standalone for the run, started as the tests start it; yields its URI
    (its token goes to the children in ``TEXTAL_MILVUS_TOKEN``)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.servers import Milvus235Server

    reason = Milvus235Server.missing()
    if reason:
        sys.exit(f"Milvus 2.3.5 is not installed: {reason}")
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        server = Milvus235Server(Path(tmp) / "data")
        server.start()
        os.environ["TEXTAL_MILVUS_TOKEN"] = server.token
        try:
            yield server.uri
        finally:
            server.stop()


def _child(*args: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, *args], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def compare_backends(backends: list[str], rows: int, data: str, repeat: int) -> None:
    import numpy as np

    if backends[0] != "torch":
        backends = ["torch", *[b for b in backends if b != "torch"]]
    for backend in backends:  # export once, untimed: only the first load of a backend pays it
        _child("--backend", backend, "--rows", "8", "--data", data)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for k in range(repeat):
            for backend in backends:
                out = str(Path(tmp) / f"{backend}.npy") if k == 0 else ""
                args = ["--backend", backend, "--rows", str(rows), "--data", data]
                results.append(_child(*args, "--vectors", out))
        vectors = {b: np.load(Path(tmp) / f"{b}.npy") for b in backends}
    seconds = {b: [r["seconds"] for r in results if r["mode"] == b] for b in backends}
    median = {b: statistics.median(seconds[b]) for b in backends}
    peak = {b: max(r["peak_rss_mib"] for r in results if r["mode"] == b) for b in backends}
    n = results[0]["rows"]
    print(f"{data}, {n} texts, {repeat} runs per backend, medians")
    print("| backend | runs (s) | texts/s | vs torch | peak RSS | cosine to torch: mean | min |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for b in backends:
        runs = " ".join(f"{r['seconds']:.1f}" for r in results if r["mode"] == b)
        cos = (vectors[b] * vectors["torch"]).sum(axis=1)
        print(
            f"| {b} | {runs} | {n / median[b]:.0f} | {median['torch'] / median[b]:.2f}x "
            f"| {peak[b]:,.0f} MiB | {cos.mean():.4f} | {cos.min():.4f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of the three modes")
    parser.add_argument(
        "--backends", help="compare these embedding backends, e.g. torch,onnx,onnx-int8,openvino"
    )
    parser.add_argument("--data", choices=list(DATA), default="sst2", help="(default: sst2)")
    parser.add_argument(
        "--server", action="store_true", help="also ingest into a Milvus 2.3.5 standalone"
    )
    parser.add_argument("--mode", help=argparse.SUPPRESS)  # internal: one measurement
    parser.add_argument("--uri", default="", help=argparse.SUPPRESS)  # internal: the server
    parser.add_argument("--backend", help=argparse.SUPPRESS)  # internal: one backend measurement
    parser.add_argument("--vectors", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.rows, args.uri)))
        return
    if args.backend:
        print(json.dumps(measure_backend(args.backend, args.rows, args.data, args.vectors)))
        return
    if not DATA[args.data].exists():
        sys.exit(f"no data at {DATA[args.data]}: put the shared datasets beside the checkout")
    if args.backends:
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        compare_backends(backends, args.rows, args.data, args.repeat)
        return
    modes = ["bare", "memory", "lite", *(["server"] if args.server else [])]
    results = []
    with contextlib.ExitStack() as stack:
        uri = stack.enter_context(milvus_server()) if args.server else ""
        for mode in modes * args.repeat:
            results.append(_child("--rows", str(args.rows), "--mode", mode, "--uri", uri))
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
