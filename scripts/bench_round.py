"""Wall time and peak RSS of one active-learning round on memory, Milvus Lite and Milvus 2.3.5.

Synthetic clustered unit vectors (dim 384) with 200 labels from a hidden linear rule. For each
store and pool size: fill the store (timed), then, each in its own subprocess so that its peak RSS
is its own, one full ``iterate`` and one ``plan_round`` (``margin-density``, batch 20) with
``candidates="all"`` (stream and score every item) and with ``candidates="index"`` (score a
candidate set retrieved from the index). The Milvus 2.3.5 standalone is started exactly as the
tests start it (``tests/servers.py``, installed by ``scripts/install_servers.sh``). Rounds run on
an indexed store, as in production: after filling, the server is flushed and its index build
waited for, and the memory store builds its approximate index (above 100,000 items); both are
reported as "index wait". Each round also lists its calls to the store and their seconds. Usage::

    python scripts/bench_round.py                                # 100k and 1M, every store
    python scripts/bench_round.py --sizes 100000 --stores memory,lite,server
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DIM = 384
N_LABELED = 200
FILL_CHUNK = 50_000
PHASES = ("iterate", "all", "index")


def synthetic(n: int, rng: np.random.Generator, centers: np.ndarray) -> np.ndarray:
    """Vectors near ``centers`` (so neighbourhoods exist), unit rows, float32."""
    picks = rng.integers(0, len(centers), size=n)
    vectors = centers[picks] + 0.6 * rng.standard_normal((n, DIM)).astype(np.float32) / np.sqrt(DIM)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def peak_rss_mib() -> int:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def fill(uri: str, collection: str, size: int, labels_path: Path) -> dict:
    """Fill the store with ``size`` vectors; write the 200 labels to ``labels_path``."""
    from textal.store import credentials_from_env, open_store

    rng = np.random.default_rng(0)
    centers = rng.standard_normal((256, DIM)).astype(np.float32)
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)
    rule = rng.standard_normal(DIM).astype(np.float32)
    store = open_store(
        uri, DIM, collection=collection, credentials=credentials_from_env(os.environ)
    )
    started = time.perf_counter()
    labels: dict[str, str] = {}
    for start in range(0, size, FILL_CHUNK):
        n = min(FILL_CHUNK, size - start)
        vectors = synthetic(n, rng, centers)
        ids = [f"item-{start + k}" for k in range(n)]
        store.add(ids, vectors, ids, [{}] * n)
        if not labels:
            for k in range(N_LABELED):
                labels[ids[k]] = "pos" if float(vectors[k] @ rule) > 0 else "neg"
    seconds = time.perf_counter() - started
    assert store.count() == size
    waited = 0.0
    if uri.startswith("memory"):  # build the memory store's index (when large), saved on close
        began = time.perf_counter()
        store.search(vectors[:1], 1)
        store.close()
        waited = time.perf_counter() - began
    else:
        store.close()
    labels_path.write_text(json.dumps(labels))
    if uri.startswith("http"):
        waited = wait_for_index(uri, collection)
    return {
        "fill_s": round(seconds, 1),
        "per_s": round(size / seconds),
        "index_s": round(waited, 1),
        "rss_mib": peak_rss_mib(),
    }


def wait_for_index(uri: str, collection: str) -> float:
    """Seconds until a server has sealed and indexed every row (flush, then poll
    ``describe_index``): rounds are measured on an indexed collection, as in production."""
    from textal.store.milvus import server_client

    client = server_client(uri, os.environ.get("TEXTAL_MILVUS_TOKEN", ""))
    started = time.perf_counter()
    client.flush(collection)
    while True:  # Milvus 2.3.5 leaves pending_index_rows stale: compare indexed with total
        info = client.describe_index(collection, client.list_indexes(collection)[0])
        if int(info.get("indexed_rows", 0)) >= int(info.get("total_rows", 0)):
            break
        time.sleep(2)
    client.close()
    return time.perf_counter() - started


class TimedStore:
    """The store, with the time of each call to it kept (``calls``: method, seconds)."""

    def __init__(self, inner):
        self._inner = inner
        self.calls: list[tuple[str, float]] = []

    def __getattr__(self, name: str):
        attr = getattr(self._inner, name)
        if not callable(attr) or name == "iterate":
            return attr

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self.calls.append((name, time.perf_counter() - started))

        return timed


def phase(uri: str, collection: str, labels_path: Path, what: str) -> dict:
    """One timed ``iterate`` or round on the filled store, in a fresh process."""
    from textal.round.plan import plan_round
    from textal.store import credentials_from_env, open_store

    labels = json.loads(labels_path.read_text())
    store = open_store(
        uri, DIM, collection=collection, credentials=credentials_from_env(os.environ)
    )
    began = time.perf_counter()
    store.search(np.ones((1, DIM), dtype=np.float32), 1)  # loads a saved index, as opening does
    first_search = time.perf_counter() - began
    opened_rss = peak_rss_mib()
    started = time.perf_counter()
    if what == "iterate":
        seen = sum(len(chunk.ids) for chunk in store.iterate(8192))
        result: dict = {"total": round(time.perf_counter() - started, 2), "items": seen}
    else:
        timed = TimedStore(store)
        plan = plan_round(timed, labels, batch_size=20, candidates=what)
        assert len(plan.picks) == 20 and plan.report.candidates == what
        found = plan.report.candidate_set
        t = plan.report.timings
        result = {
            "fit": t.fit,
            "candidates": found.seconds if found else 0.0,
            "score": t.score,
            "select": t.select,
            "total": t.total,
            "scored": plan.report.scored,
            "store_calls": [(name, round(sec, 3)) for name, sec in timed.calls],
        }
    store.close()
    return dict(
        result,
        first_search_s=round(first_search, 2),
        rss_opened_mib=opened_rss,
        rss_mib=peak_rss_mib(),
    )


def _child(args: list[str], env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, env=env
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_cell(kind: str, size: int, uri: str, token: str, workdir: Path, phases: list[str]) -> dict:
    env = dict(os.environ, TEXTAL_MILVUS_TOKEN=token) if token else dict(os.environ)
    collection = f"bench_{size}"
    labels = workdir / f"labels-{kind}-{size}.json"
    cell = {
        "store": kind,
        "size": size,
        "fill": _child(["--fill", uri, collection, str(size), str(labels)], env),
    }
    if "error" in cell["fill"]:
        return cell
    for what in phases:
        cell[what] = _child(["--phase", uri, collection, str(labels), what], env)
    return cell


def _fmt(cell: dict) -> str:
    def part(r: dict, key: str) -> str:
        return f"{r[key]:.2f}" if key in r else "-"

    f = cell["fill"]
    if "error" in f:
        return f"{cell['store']:<7} {cell['size']:>8} fill failed: {f['error']}"
    rows = []
    for what in ("all", "index"):
        r = cell.get(what, {"error": "not run"})
        if "error" in r:
            rows.append(f"{what}: failed: {r['error']}")
            continue
        rows.append(
            f"{what:<5} total {r['total']:>6.2f} (fit {part(r, 'fit')}, candidates "
            f"{part(r, 'candidates')}, score {part(r, 'score')}, select {part(r, 'select')}) "
            f"scored {r['scored']:>8} peak RSS {r['rss_mib']:>5} MiB "
            f"(first search after opening, not in the total: {r.get('first_search_s', 0):.2f} s)"
        )
        calls = r.get("store_calls", [])
        rows.append(
            f"      {len(calls)} store calls, {sum(sec for _, sec in calls):.2f} s: "
            + ", ".join(f"{name} {sec:.2f}" for name, sec in calls)
        )
    it = cell.get("iterate", {})
    head = (
        f"{cell['store']:<7} {cell['size']:>8} fill {f['fill_s']:>7.1f} s ({f['per_s']}/s), "
        f"index wait {f.get('index_s', 0):.1f} s, "
        f"iterate {it.get('total', float('nan')):>6.2f} s (RSS {it.get('rss_mib', '-')} MiB)"
    )
    return "\n".join([head, *("    " + r for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--stores", default="memory,lite,server")
    parser.add_argument("--phases", default=",".join(PHASES), help="(default: %(default)s)")
    parser.add_argument("--json", metavar="FILE", help="also write every measurement here")
    parser.add_argument("--fill", nargs=4, help=argparse.SUPPRESS)  # internal
    parser.add_argument("--phase", nargs=4, help=argparse.SUPPRESS)  # internal
    args = parser.parse_args()
    if args.fill:
        uri, collection, size, labels = args.fill
        print(json.dumps(fill(uri, collection, int(size), Path(labels))))
        return
    if args.phase:
        uri, collection, labels, what = args.phase
        print(json.dumps(phase(uri, collection, Path(labels), what)))
        return

    from tests.servers import Milvus235Server, ServerUnavailable

    cells = []
    with tempfile.TemporaryDirectory(prefix="bench-round-") as tmp:
        workdir = Path(tmp)
        server = None
        if "server" in args.stores.split(","):
            reason = Milvus235Server.missing()
            if reason:
                sys.exit(f"Milvus 2.3.5 is not installed: {reason}")
            server = Milvus235Server(workdir / "milvus235" / "data")
            try:
                server.start()
            except ServerUnavailable as e:
                sys.exit(f"Milvus 2.3.5 did not start: {e}")
        try:
            for size in (int(s) for s in args.sizes.split(",")):
                for kind in args.stores.split(","):
                    token = ""
                    if kind == "memory":
                        uri = f"memory:{workdir / f'memory-{size}'}"
                    elif kind == "lite":
                        uri = str(workdir / f"lite-{size}.db")
                    else:
                        uri, token = server.uri, server.token
                    cell = run_cell(kind, size, uri, token, workdir, args.phases.split(","))
                    cells.append(cell)
                    print(_fmt(cell), flush=True)
                    if args.json:
                        Path(args.json).write_text(json.dumps(cells, indent=1))
        finally:
            if server is not None:
                server.stop()


if __name__ == "__main__":
    main()
