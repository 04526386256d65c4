"""Benchmark ``textal serve``: N simulated annotators label over loopback while a round runs.

Builds a workspace from a labeled CSV (default: amazon.csv from ../shared/data), records a first
batch, creates N accounts, starts ``textal serve`` in its own process, has an admin start a round in
the background, and lets N threads label as fast as the server answers for --seconds. Reports
labels/s, p50/p95/max latency of the label requests, rounds recorded meanwhile, and checks that
every acknowledged label is in the ledger exactly once.

    python scripts/bench_serve.py --seconds 60 --annotators 20 --store memory
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from textal.ledger import Ledger  # noqa: E402
from textal.ledger.annotators import add_annotator  # noqa: E402
from textal.workspace import Workspace  # noqa: E402
from textal.workspace.workspace import LEDGER_NAME  # noqa: E402

DEFAULT_DATA = REPO.parent / "shared" / "data" / "uci_sentiment_labelled" / "amazon.csv"
MAX_ANNOTATORS = 50
MAX_SECONDS = 600


def _login(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    client.post("/login", json={"token": token}).raise_for_status()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert csrf, "no CSRF token on the label page"
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--store", choices=["memory", "lite"], default="memory")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=200)
    args = parser.parse_args()
    if not 1 <= args.annotators <= MAX_ANNOTATORS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--annotators 1..{MAX_ANNOTATORS}, --seconds up to {MAX_SECONDS}")

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp) / "ws"
        uri = "memory" if args.store == "memory" else None
        with Workspace.open(root, store_uri=uri, labels=["negative", "positive"]) as ws:
            ws.ingest(args.data, label_column="label")
            ws.round(batch_size=args.batch_size)
            names = [f"a{i:02d}" for i in range(args.annotators)]
            tokens = {name: add_annotator(ws.ledger, name) for name in names}
            admin = add_annotator(ws.ledger, "boss", admin=True)
            items = ws.store.count()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "textal", "serve", "--workspace", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            url = proc.stdout.readline().split()[2]
            boss = _login(url, admin)
            boss.post("/api/admin/settings", json={"overlap": 1, "batch_size": args.batch_size})
            clients = {name: _login(url, tokens[name]) for name in names}
            boss.post("/api/admin/round", json={}).raise_for_status()  # runs during the bench
            latencies: list[float] = []
            acknowledged: list[tuple[str, str, str]] = []
            waits = Counter()
            stop = time.monotonic() + args.seconds

            def annotate(name: str) -> None:
                client, rng = clients[name], random.Random(name)
                state = client.post("/api/next", json={}).json()
                while time.monotonic() < stop:
                    if state["item"] is None:
                        waits[name] += 1
                        time.sleep(0.5)
                        state = client.post("/api/next", json={}).json()
                        continue
                    item, label = state["item"]["id"], rng.choice(["negative", "positive"])
                    start = time.perf_counter()
                    response = client.post("/api/label", json={"id": item, "label": label})
                    latencies.append(time.perf_counter() - start)
                    response.raise_for_status()
                    acknowledged.append((item, label, name))
                    state = response.json()

            threads = [threading.Thread(target=annotate, args=(n,)) for n in names]
            began = time.monotonic()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.monotonic() - began
            rounds = boss.get("/api/dashboard").json()["rounds"]
        finally:
            proc.terminate()
            proc.wait(60)
        with Ledger(root / LEDGER_NAME) as ledger:
            events = Counter((e.item_id, e.label, e.annotator) for e in ledger.history())
        missing = [a for a in acknowledged if events[a] != 1]
        ms = sorted(x * 1000 for x in latencies)
        print(f"store {args.store}, {items} items, {args.annotators} annotators, {elapsed:.1f} s")
        print(
            f"labels acknowledged {len(acknowledged)}: {len(acknowledged) / elapsed:.1f} labels/s"
        )
        if ms:
            p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
            print(f"latency ms: p50 {statistics.median(ms):.1f}  p95 {p95:.1f}  max {ms[-1]:.1f}")
        print(f"rounds recorded in all: {len(rounds)}; waits for a batch: {sum(waits.values())}")
        print(
            f"in the ledger exactly once: {len(acknowledged) - len(missing)}/{len(acknowledged)}"
            + ("" if not missing else f"  MISSING {missing[:5]}")
        )
        return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
