"""Milvus servers that die, restart, refuse credentials or are not there at all.

Each crash test runs its own server, kills it with SIGKILL in the middle of a large ``add``,
restarts it on the same data directory and checks that re-running the ``add`` leaves every
item stored exactly once.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.servers import (
    LiteServer,
    Milvus235Server,
    Server,
    free_port,
    server_client,
    start_or_skip,
    unavailable,
)
from textal.errors import TextalError
from textal.store import MilvusCredentials, open_store
from textal.store.milvus import MilvusStore

pytestmark = pytest.mark.slow  # servers are started, killed and restarted

DIM = 16
N = 12_000
BATCH = 1000  # rows per write call: many calls, so that the crash lands in the middle


def items(n: int = N):
    rng = np.random.default_rng(0)
    ids = [f"review-{i:05d}" for i in range(n)]
    texts = [f"review {i}: " + "words " * 40 for i in range(n)]
    metadata = [{"row": i} for i in range(n)]
    return ids, rng.standard_normal((n, DIM)).astype(np.float32), texts, metadata


def own_server(kind: str, tmp_path: Path) -> Server:
    if kind == "milvus235" and (reason := Milvus235Server.missing()):
        unavailable(f"Milvus 2.3.5 is not installed: {reason}")
    return start_or_skip((LiteServer if kind == "lite-tcp" else Milvus235Server)(tmp_path / "data"))


def kill_once_rows_arrive(
    server: Server, collection: str
) -> tuple[threading.Thread, threading.Event]:
    """A thread SIGKILLing ``server`` once the collection holds rows, and an event it sets."""
    killed = threading.Event()

    def watch() -> None:
        client = server_client(server.uri, server.token, timeout=5)
        try:
            while True:
                if client.has_collection(collection):
                    rows = client.query(
                        collection, filter="", output_fields=["count(*)"], timeout=5
                    )
                    if rows[0]["count(*)"] > 0:
                        break
                time.sleep(0.02)
        finally:
            client.close()
        server.kill()
        killed.set()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread, killed


def assert_stored_exactly_once(store: MilvusStore, ids: list[str]) -> None:
    assert store.count() == len(ids)
    seen = [item_id for chunk in store.iterate(chunk_size=4096) for item_id in chunk.ids]
    assert len(seen) == len(set(seen)) == len(ids)
    assert set(seen) == set(ids)


@pytest.mark.parametrize("kind", ["lite-tcp", pytest.param("milvus235", marks=pytest.mark.slow)])
def test_add_interrupted_by_a_crash_completes_exactly_once_when_re_run(tmp_path, kind):
    server = own_server(kind, tmp_path)
    ids, vectors, texts, metadata = items()
    try:
        MilvusStore(server.uri, DIM, "crash", token=server.token).close()  # loading takes seconds
        store = MilvusStore(
            server.uri, DIM, "crash", token=server.token, timeout=1.0, write_batch=BATCH
        )
        killer, _ = kill_once_rows_arrive(server, "crash")
        started = time.monotonic()
        with pytest.raises(TextalError, match=f"cannot reach Milvus at {server.uri}"):
            store.add(ids, vectors, texts, metadata)
        assert time.monotonic() - started < 30  # retries are bounded
        killer.join()
        store.close()

        server.start()  # same data directory, same port
        store = MilvusStore(server.uri, DIM, "crash", token=server.token, write_batch=BATCH)
        before = store.count()
        assert 0 < before < N  # the crash came in the middle
        assert store.add(ids, vectors, texts, metadata) == N - before
        assert_stored_exactly_once(store, ids)
        store.close()
    finally:
        server.stop()


def test_add_rides_out_a_quick_restart(tmp_path):
    """A server back within the call timeout: the same ``add`` finishes, nothing doubled."""
    server = own_server("lite-tcp", tmp_path)
    ids, vectors, texts, metadata = items()
    try:
        store = MilvusStore(server.uri, DIM, "blip", timeout=20.0, write_batch=BATCH)
        killer, killed = kill_once_rows_arrive(server, "blip")

        def restart() -> None:
            killer.join()
            server.start()

        restarter = threading.Thread(target=restart, daemon=True)
        restarter.start()
        assert store.add(ids, vectors, texts, metadata) == N
        assert killed.is_set()  # the server did die under the add
        restarter.join()
        assert_stored_exactly_once(store, ids)
        assert store.add(ids, vectors, texts, metadata) == 0
        store.close()
    finally:
        server.stop()


def test_an_unreachable_server_is_named_quickly_without_credentials():
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(TextalError, match=f"cannot reach Milvus at {uri}") as error:
        open_store(uri, DIM, credentials=MilvusCredentials(token="root:s3cret-token"))
    assert time.monotonic() - started < 5
    assert "s3cret" not in str(error.value)

    with_credentials = uri.replace("http://", "http://root:s3cret-password@")
    with pytest.raises(TextalError, match=f"cannot reach Milvus at {uri}:") as error:
        MilvusStore(with_credentials, DIM, "x", timeout=2)
    assert "s3cret" not in str(error.value)


def test_refused_credentials_are_reported_without_the_password(milvus235_server):
    uri = milvus235_server.uri
    with pytest.raises(TextalError, match=f"cannot reach Milvus at {uri}") as error:
        MilvusStore(uri, DIM, "x", user="root", password="s3cret-wrong", timeout=5)
    assert "UNAUTHENTICATED" in str(error.value)
    assert "s3cret" not in str(error.value)
    with pytest.raises(TextalError, match="UNAUTHENTICATED"):
        MilvusStore(uri, DIM, "x", timeout=5)  # no credentials at all


def test_ingest_command_interrupted_by_a_server_crash_resumes_without_duplicates(tmp_path, capsys):
    """The real pipeline: `textal ingest` of 3,765 real reviews (4 encode calls of 1,024) against
    a Milvus Lite server that is SIGKILLed once the first rows land; the re-run completes."""
    from tests.realdata import DATA_DIR, require_data
    from textal.cli import main

    reviews = DATA_DIR / "cr_customer_reviews" / "all.csv"
    require_data(reviews)
    server = own_server("lite-tcp", tmp_path)
    argv = ["ingest", "--workspace", str(tmp_path / "ws"), "--milvus-uri", server.uri]
    argv += ["--collection", "reviews", "--data", str(reviews)]
    try:
        # The collection exists before the watcher looks at it: the milvus-lite server caches
        # collections without a lock, so a query racing the collection's creation can leave
        # the server with a copy that lacks the index (milvus-lite 3.2.2, `get_collection`).
        MilvusStore(server.uri, 384, "reviews", token=server.token).close()
        killer, killed = kill_once_rows_arrive(server, "reviews")
        assert main(argv) == 2
        assert killed.is_set()
        err = capsys.readouterr().err
        assert err.startswith("error: cannot reach Milvus at") and err.count("\n") == 1
        killer.join()

        server.start()  # same data directory, same port
        assert main(argv) == 0
        out = capsys.readouterr().out
        added, already = (
            int(out.split(" added")[0].split()[-1]),
            int(out.split(",")[1].split()[0]),
        )
        assert already > 0 and added > 0  # it resumed: the first batch was not stored again
        store = MilvusStore(server.uri, 384, "reviews", token=server.token)
        ids = [item_id for chunk in store.iterate() for item_id in chunk.ids]
        assert len(ids) == len(set(ids)) == added + already == 3765
        store.close()
    finally:
        server.stop()
