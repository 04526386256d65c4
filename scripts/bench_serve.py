"""Benchmark ``textal serve``: N simulated annotators label over loopback while a round runs.

Builds a workspace from labeled CSVs (default: the three UCI sentiment sets from ../shared/data,
3,000 reviews), records a first batch, creates N accounts, starts ``textal serve`` in its own
process, has an admin start a round in the background, and lets N threads label as fast as the
server answers for --seconds. Reports
labels/s, p50/p95/max latency of the label requests, rounds recorded meanwhile, and checks that
every acknowledged label is in the ledger exactly once.

    python scripts/bench_serve.py --seconds 60 --annotators 20 --store memory

With ``--ingest N``, a second phase sends N new reviews (``--ingest-data``, default AG News from
../shared/data) through ``POST /api/v1/items`` with a service token while the annotators go on
labeling, until the ingest job ends. It reports the label latency of both phases side by side,
the ingest's time against ``textal ingest`` of the same file and against bare encoding of the
same texts (measured after the server stopped, in this one run), and checks that every ingested
row is stored exactly once. A third phase then ingests the next N texts through the API with
nobody labeling, the fair comparison with ``textal ingest`` (which has the machine to itself).
Each ingest is reported in wall seconds and in CPU seconds (the server process's user + system
time over the phase; the CLI's from its rusage), which another process's load does not inflate:

    python scripts/bench_serve.py --seconds 30 --annotators 10 --ingest 5000
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

UCI = REPO.parent / "shared" / "data" / "uci_sentiment_labelled"
DEFAULT_DATA = [UCI / "amazon.csv", UCI / "yelp.csv", UCI / "imdb.csv"]
INGEST_DATA = REPO.parent / "shared" / "data" / "ag_news" / "train_subset.csv"
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
    parser.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    parser.add_argument("--store", choices=["memory", "lite"], default="memory")
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--ingest", type=int, default=0, metavar="N", help="then ingest N via API")
    parser.add_argument("--ingest-data", type=Path, default=INGEST_DATA)
    args = parser.parse_args()
    if not 1 <= args.annotators <= MAX_ANNOTATORS or not 0 < args.seconds <= MAX_SECONDS:
        parser.error(f"--annotators 1..{MAX_ANNOTATORS}, --seconds up to {MAX_SECONDS}")

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        root = Path(tmp) / "ws"
        uri = "memory" if args.store == "memory" else None
        with Workspace.open(root, store_uri=uri, labels=["negative", "positive"]) as ws:
            for data in args.data:
                ws.ingest(data, label_column="label")
            ws.round(batch_size=args.batch_size)
            names = [f"a{i:02d}" for i in range(args.annotators)]
            tokens = {name: add_annotator(ws.ledger, name) for name in names}
            admin = add_annotator(ws.ledger, "boss", admin=True)
            feeder = add_annotator(ws.ledger, "feed", role="service")
            items = ws.store.count()
        new_file = Path(tmp) / "new.csv"
        alone_file = Path(tmp) / "alone.csv"
        new_texts, alone_texts = (
            _new_reviews(args.ingest_data, args.ingest, (new_file, alone_file))
            if args.ingest
            else ([], [])
        )
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
            waits: Counter[str] = Counter()
            until = [lambda: time.monotonic() < stop]
            stop = time.monotonic() + args.seconds

            def annotate(name: str) -> None:
                client, rng = clients[name], random.Random(name)
                state = client.post("/api/next", json={}).json()
                while until[0]():
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

            def label_while(condition) -> tuple[list[float], float]:
                until[0] = condition
                first = len(latencies)
                threads = [threading.Thread(target=annotate, args=(n,)) for n in names]
                began = time.monotonic()
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                return latencies[first:], time.monotonic() - began

            # With an ingest to come, leave two thirds of the pool for labeling during it.
            cap = items // 3 if args.ingest else items
            idle, elapsed = label_while(lambda: time.monotonic() < stop and len(acknowledged) < cap)
            during: list[float] = []
            api = alone = (0.0, 0.0)
            if args.ingest:
                feed = httpx.Client(
                    base_url=url, headers={"Authorization": f"Bearer {feeder}"}, timeout=300
                )

                def ingest(data: Path, ended: threading.Event) -> tuple[float, float]:
                    began, cpu = time.monotonic(), _cpu_seconds(proc.pid)
                    job = feed.post(
                        "/api/v1/items",
                        content=data.read_bytes(),
                        headers={"Content-Type": "text/csv"},
                    ).json()
                    while job["state"] == "running":
                        time.sleep(0.3)
                        job = feed.get(f"/api/v1/jobs/{job['id']}").json()
                    ended.set()
                    assert job["state"] == "done", job
                    return time.monotonic() - began, _cpu_seconds(proc.pid) - cpu

                ended = threading.Event()
                timed: list[tuple[float, float]] = []
                feeding = threading.Thread(target=lambda: timed.append(ingest(new_file, ended)))
                feeding.start()
                during, _ = label_while(lambda: not ended.is_set())
                feeding.join()
                api = timed[0]
                alone = ingest(alone_file, threading.Event())
            rounds = boss.get("/api/dashboard").json()["rounds"]
        finally:
            proc.terminate()
            proc.wait(60)
        with Ledger(root / LEDGER_NAME) as ledger:
            events = Counter((e.item_id, e.label, e.annotator) for e in ledger.history())
        missing = [a for a in acknowledged if events[a] != 1]
        print(f"store {args.store}, {items} items, {args.annotators} annotators, {elapsed:.1f} s")
        print(f"labels acknowledged {len(idle)} idle: {len(idle) / elapsed:.1f} labels/s")
        _show_latency("idle", idle)
        if args.ingest:
            _show_latency(f"during the ingest of {args.ingest}", during)
            stored, expected = _stored_once(root, new_texts + alone_texts)
            cli = _cli_ingest_seconds(new_file, Path(tmp) / "cli-ws")
            bare_s = _bare_encoding_seconds(new_texts)
            print(f"ingest of {args.ingest} (wall s / CPU s), bare encoding {bare_s:.1f} s wall:")
            for phase, (wall, cpu) in [
                ("through the API while they label", api),
                ("through the API, nobody labeling", alone),
                ("`textal ingest`", cli),
            ]:
                print(
                    f"  {phase:34} {wall:6.1f} / {cpu:6.1f}   x CLI: wall {wall / cli[0]:.2f}, "
                    f"CPU {cpu / cli[1]:.2f}"
                )
            print(f"ingested reviews stored exactly once: {stored}/{expected}")
            if stored != expected:
                return 1
        print(f"rounds recorded in all: {len(rounds)}; waits for a batch: {sum(waits.values())}")
        print(
            f"in the ledger exactly once: {len(acknowledged) - len(missing)}/{len(acknowledged)}"
            + ("" if not missing else f"  MISSING {missing[:5]}")
        )
        return 1 if missing else 0


def _show_latency(phase: str, seconds: list[float]) -> None:
    ms = sorted(x * 1000 for x in seconds)
    if not ms:
        print(f"latency ms {phase}: no labels")
        return
    p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
    print(
        f"latency ms {phase} ({len(ms)} labels): p50 {statistics.median(ms):.1f}  "
        f"p95 {p95:.1f}  max {ms[-1]:.1f}"
    )


def _new_reviews(source: Path, n: int, targets: tuple[Path, Path]) -> tuple[list[str], list[str]]:
    """The first ``n`` distinct texts of ``source`` and the ``n`` after them, each written to its
    target as ``text``."""
    import csv

    with open(source, encoding="utf-8") as f:
        texts = list(dict.fromkeys(row["text"] for row in csv.DictReader(f)))
    parts = texts[:n], texts[n : 2 * n]
    for target, part in zip(targets, parts, strict=True):
        with open(target, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["text"])
            writer.writerows([t] for t in part)
    return parts


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (Linux /proc)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stored_once(root: Path, texts: list[str]) -> tuple[int, int]:
    """How many of the texts' content ids the store holds, and how many distinct ids there are
    (two texts that differ only in what the id normalises away are one review)."""
    from textal.data.ids import content_id

    with Workspace.open(root, create=False) as ws:
        ids = list(dict.fromkeys(content_id(t) for t in texts))
        return len(ws.store.existing_ids(ids)), len(ids)


def _cli_ingest_seconds(data: Path, root: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of `textal ingest` of ``data``."""
    import resource

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = [sys.executable, "-m", "textal", "ingest", "--workspace", str(root), "--store"]
    began, before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([*argv, "memory", "--data", str(data)], check=True, env=env, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return time.monotonic() - began, cpu


def _bare_encoding_seconds(texts: list[str]) -> float:
    from textal.embed import Encoder

    encoder = Encoder()
    began = time.monotonic()
    for start in range(0, len(texts), 1024):
        encoder.encode(texts[start : start + 1024])
    return time.monotonic() - began


if __name__ == "__main__":
    sys.exit(main())
