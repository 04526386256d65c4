"""One suite for every store: memory, Milvus Lite (file and TCP server) and Milvus 2.3.5.

The ``make_store`` fixture (tests/servers.py) runs each test once per backend.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from textal.errors import TextalError
from textal.store import open_store
from textal.store.base import MAX_ID_BYTES, MAX_TEXT_BYTES

DIM = 8


def random_items(n: int, dim: int = DIM, seed: int = 0, prefix: str = "item"):
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [f"{prefix}-{i}" for i in range(n)]
    texts = [f"text of {i}" for i in range(n)]
    metadata = [{"gold": ["negative", "positive"][i % 2], "row": i} for i in range(n)]
    return ids, vectors, texts, metadata


def test_add_stores_each_id_once(make_store):
    store = make_store(DIM)
    ids, vectors, texts, metadata = random_items(60)
    assert store.count() == 0
    assert store.search(vectors[:2], top_k=3) == [[], []]
    assert list(store.iterate()) == []
    assert store.add(ids[:50], vectors[:50], texts[:50], metadata[:50]) == 50
    assert store.add(ids, vectors, texts, metadata) == 10  # only the last ten are new
    assert store.add(ids, vectors, texts, metadata) == 0
    # an id repeated within one call counts once, and the first occurrence wins
    twice = ["again", "again"]
    assert store.add(twice, vectors[:2], ["first", "second"], [{}, {}]) == 1
    assert store.count() == 61
    assert store.get(["again"])[0].text == "first"
    assert store.existing_ids(["item-3", "nope", "again", "item-3"]) == {"item-3", "again"}
    assert store.existing_ids([]) == set()


def test_get_and_get_vectors_keep_the_order_asked_and_name_unknown_ids(make_store):
    store = make_store(DIM)
    ids, vectors, texts, metadata = random_items(30)
    store.add(ids, 3.0 * vectors, texts, metadata)  # stores keep unit vectors only
    wanted = ["item-7", "item-2", "item-7", "item-19"]
    items = store.get(wanted)
    assert [item.id for item in items] == wanted
    assert [item.text for item in items] == ["text of 7", "text of 2", "text of 7", "text of 19"]
    assert items[0].metadata == {"gold": "positive", "row": 7}
    got = store.get_vectors(ids[::-1])
    assert got.dtype == np.float32
    assert got.shape == (30, DIM)
    np.testing.assert_allclose(got, vectors[::-1], atol=1e-6)
    assert store.get([]) == []
    assert store.get_vectors([]).shape == (0, DIM)
    with pytest.raises(KeyError, match="missing-one"):
        store.get(["item-1", "missing-one"])
    with pytest.raises(KeyError, match="missing-two"):
        store.get_vectors(["missing-two", "item-1"])


def test_search_finds_each_item_itself_and_ranks_like_exact_cosine(make_store, real_vectors):
    texts, vectors, labels = real_vectors
    store = make_store(vectors.shape[1])
    ids = [f"amazon-{i}" for i in range(len(texts))]
    store.add(ids, vectors, texts, [{"gold": label} for label in labels])

    hits = store.search(vectors, top_k=5)  # every item at once: one call
    assert len(hits) == len(ids)
    for i, row in enumerate(hits):
        assert len(row) == 5
        best = row[0][1]
        assert best == pytest.approx(1.0, abs=1e-4)
        # a repeated sentence has the same vector: any of its copies may come first
        assert ids[i] in {hit_id for hit_id, sim in row if sim > best - 1e-5}

    rng = np.random.default_rng(1)
    queries = 7.0 * (vectors[rng.choice(len(ids), 40)] + vectors[rng.choice(len(ids), 40)])
    exact = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ vectors.T
    for q, row in enumerate(store.search(queries, top_k=10)):  # queries get normalised
        got_ids = [hit_id for hit_id, _ in row]
        got_sims = np.array([sim for _, sim in row])
        np.testing.assert_allclose(got_sims, np.sort(exact[q])[::-1][:10], atol=1e-4)
        np.testing.assert_allclose(got_sims, exact[q][[ids.index(i) for i in got_ids]], atol=1e-4)
        assert len(set(got_ids)) == 10

    (row,) = store.search(vectors[0], top_k=len(ids) + 5)  # a 1-d query; top_k above count
    assert sorted(hit_id for hit_id, _ in row) == sorted(ids)
    with pytest.raises(ValueError, match="top_k"):
        store.search(vectors, top_k=0)
    with pytest.raises(TextalError, match="zero or not finite"):
        store.search(np.zeros((1, vectors.shape[1])), top_k=1)
    with pytest.raises(TextalError, match="shape"):
        store.search(np.ones((1, vectors.shape[1] + 1)), top_k=1)


def test_iterate_yields_every_item_once_in_bounded_chunks(make_store):
    store = make_store(DIM)
    ids, vectors, texts, metadata = random_items(1000)
    store.add(ids, vectors, texts, metadata)
    seen: list[str] = []
    for chunk in store.iterate(chunk_size=128, with_metadata=True):
        assert 0 < len(chunk.ids) <= 128
        assert chunk.vectors.shape == (len(chunk.ids), DIM)
        assert chunk.vectors.dtype == np.float32
        rows = [int(i.split("-")[1]) for i in chunk.ids]
        np.testing.assert_allclose(chunk.vectors, vectors[rows], atol=1e-6)
        assert chunk.metadata == [metadata[r] for r in rows]
        seen.extend(chunk.ids)
    assert len(seen) == len(set(seen)) == 1000
    assert all(chunk.metadata == [] for chunk in store.iterate(chunk_size=500))
    assert set(seen) == set(ids)


def test_items_survive_close_and_reopen(make_store):
    store = make_store(DIM)
    ids, vectors, texts, metadata = random_items(40)
    store.add(ids, vectors, texts, metadata)
    store.close()
    store = make_store(DIM)
    assert store.count() == 40
    assert store.add(ids, vectors, texts, metadata) == 0
    assert store.get(["item-39"])[0].text == "text of 39"
    np.testing.assert_allclose(store.get_vectors(["item-5"])[0], vectors[5], atol=1e-6)
    assert store.search(vectors[5], top_k=1)[0][0][0] == "item-5"


def test_another_dimension_is_refused(make_store):
    store = make_store(DIM)
    store.add(*random_items(3))
    store.close()
    with pytest.raises(TextalError, match=f"holds {DIM}-dimensional vectors, not {DIM + 1}"):
        make_store(DIM + 1)
    with pytest.raises(TextalError, match="shape"):
        make_store(DIM).add(["x"], np.ones((1, DIM + 1)), ["x"], [{}])


def test_a_collection_whose_creation_was_cut_short_gets_its_index(tmp_path: Path):
    """Creation is three calls; a crash after the first leaves textal's fields with no index."""
    from tests.servers import make_lite_collection
    from textal.store.milvus import MilvusStore

    path = str(tmp_path / "cut.db")
    make_lite_collection(path, DIM, bucket=True, indexed=False)

    store = MilvusStore(path, DIM)
    ids, vectors, texts, metadata = random_items(20)
    assert store.add(ids, vectors, texts, metadata) == 20
    assert store.search(vectors[3], top_k=1)[0][0][0] == "item-3"
    assert store.index_type == "FLAT"
    store.close()


AWKWARD = [
    "quotes \"double\" and 'single'",
    "back\\slash at the end\\",
    "new\nlines\r\nand\ttabs",
    "unicode: é, ß, 日本語, emoji 😀, rtl עברית, nbsp\u00a0, line sep\u2028",
    "control \x01, nul \x00 and del \x7f",
    "  leading and trailing spaces  ",
    'json-ish {"a": [1, 2]} and \'in\' ["x", "y"]',
]


def test_awkward_ids_texts_and_metadata_round_trip_verbatim(make_store):
    store = make_store(DIM)
    ids = [f"id {text}" for text in AWKWARD]
    vectors = random_items(len(ids))[1]
    metadata = [{"gold": text, "nested": {"list": [1, 2.5, None, True]}} for text in AWKWARD]
    assert store.add(ids, vectors, AWKWARD, metadata) == len(ids)
    assert store.existing_ids(ids) == set(ids)
    assert store.add(ids, vectors, AWKWARD, metadata) == 0
    items = store.get(ids)
    assert [item.id for item in items] == ids
    assert [item.text for item in items] == AWKWARD
    assert [item.metadata for item in items] == metadata
    assert {hit for row in store.search(vectors, top_k=1) for hit, _ in row} == set(ids)


def test_size_limits_are_the_same_everywhere(make_store):
    store = make_store(DIM)
    vectors = random_items(3)[1]
    longest = "é" * (MAX_TEXT_BYTES // 2) + "a" * (MAX_TEXT_BYTES % 2)  # exactly the limit
    longest_id = "日" * (MAX_ID_BYTES // 3) + "i" * (MAX_ID_BYTES % 3)
    assert store.add(["long", longest_id], vectors[:2], [longest, "x"], [{}, {}]) == 2
    assert store.get(["long"])[0].text == longest
    too_long = longest + "a"
    with pytest.raises(TextalError, match=r"'too-long'.*65536 UTF-8 bytes"):
        store.add(["fine", "too-long"], vectors[:2], ["fine", too_long], [{}, {}])
    with pytest.raises(TextalError, match="longer than 512 UTF-8 bytes"):
        store.add([longest_id + "i"], vectors[:1], ["x"], [{}])
    with pytest.raises(TextalError, match=r"'big-meta'.*metadata"):
        store.add(["big-meta"], vectors[:1], ["x"], [{"note": too_long}])
    with pytest.raises(TextalError, match=r"'zero'.*zero or non-finite vector"):
        store.add(["zero"], np.zeros((1, DIM)), ["x"], [{}])
    with pytest.raises(TextalError, match="non-empty"):
        store.add([""], vectors[:1], ["x"], [{}])
    with pytest.raises(TextalError, match=r"'bad-text'.*not valid Unicode"):
        store.add(["bad-text"], vectors[:1], ["half a surrogate \ud800"], [{}])
    assert store.count() == 2  # a refused batch stores nothing, "fine" included


def test_open_store_resolves_paths_and_refuses_what_it_cannot_open(tmp_path: Path):
    store = open_store("stores/milvus.db", DIM, workspace=tmp_path)
    assert store.uri == str(tmp_path / "stores" / "milvus.db")
    store.close()
    store = open_store("memory:stores/memory", DIM, workspace=tmp_path)
    assert store.uri == f"memory:{tmp_path / 'stores' / 'memory'}"
    store.close()
    with pytest.raises(TextalError, match=r"tcp://\.\.\. is not supported"):
        open_store("tcp://localhost:19530", DIM)
    with pytest.raises(TextalError, match=r"must end with \.db"):
        open_store("store.sqlite", DIM, workspace=tmp_path)


def test_plain_memory_store_is_not_persisted(tmp_path: Path):
    store = open_store("memory", DIM, workspace=tmp_path)
    assert store.uri == "memory"
    store.add(*random_items(3))
    store.close()
    assert open_store("memory", DIM).count() == 0
    assert list(tmp_path.iterdir()) == []


def test_memory_search_is_exact_on_a_store_searched_block_by_block():
    store = open_store("memory", DIM)
    ids, vectors, texts, metadata = random_items(10_007)  # two blocks, a ragged last group
    store.add(ids, vectors, texts, metadata)
    queries = np.random.default_rng(2).standard_normal((500, DIM)).astype(np.float32)
    exact = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ vectors.T
    best = -np.sort(-exact, axis=1)[:, :100]
    for top_k in (1, 7, 100):  # the first two select by groups of items, the last directly
        hits = store.search(queries, top_k=top_k)
        rows = np.array([[int(hit_id.split("-")[1]) for hit_id, _ in row] for row in hits])
        sims = np.array([[sim for _, sim in row] for row in hits])
        assert all(len(set(r)) == top_k for r in rows.tolist())
        np.testing.assert_allclose(sims, np.take_along_axis(exact, rows, axis=1), atol=1e-5)
        np.testing.assert_allclose(sims, best[:, :top_k], atol=1e-5)


def test_memory_store_cuts_a_torn_tail(tmp_path: Path):
    directory = tmp_path / "store"
    store = open_store(f"memory:{directory}", DIM)
    ids, vectors, texts, metadata = random_items(10)
    store.add(ids, vectors, texts, metadata)
    store.close()
    with open(directory / "vectors.f32", "ab") as f:
        f.write(b"\x00" * 10)  # half a vector
    with open(directory / "items.jsonl", "ab") as f:
        f.write(b'{"id":"item-10","text":"torn')  # half a line
    store = open_store(f"memory:{directory}", DIM)
    assert store.count() == 10
    assert store.add(*random_items(12)) == 2
    store.close()
    store = open_store(f"memory:{directory}", DIM)
    assert store.count() == 12
    np.testing.assert_allclose(store.get_vectors(["item-11"]), random_items(12)[1][11:], atol=1e-6)
    store.close()


HOLD_OPEN = textwrap.dedent(
    """
    import sys
    from textal.store import open_store
    store = open_store(sys.argv[1], 8)
    print("open", flush=True)
    sys.stdin.read()
    """
)


@pytest.mark.parametrize("kind", ["memory", "lite"])
def test_a_store_held_by_another_process_is_refused(tmp_path: Path, kind: str):
    uri = f"memory:{tmp_path / 'store'}" if kind == "memory" else str(tmp_path / "milvus.db")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_OPEN, uri],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[1],
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(TextalError, match="another textal process has it open") as error:
            open_store(uri, DIM)
        assert str(tmp_path) in str(error.value)
    finally:
        holder.communicate("")
    open_store(uri, DIM).close()  # free again once the other process is gone


def test_a_serialized_store_runs_one_call_at_a_time_and_keeps_every_answer():
    """``serialized`` (what `serve` opens) passes every call through, and no two calls of
    several threads overlap inside the store, an ``iterate`` under way included."""
    import threading
    import time

    from textal.store.memory import MemoryStore
    from textal.store.serialized import serialized

    inside, overlaps = [0], [0]

    class Probe(MemoryStore):
        def count(self, *, filter=None):
            inside[0] += 1
            overlaps[0] += inside[0] > 1
            time.sleep(0.002)
            inside[0] -= 1
            return super().count(filter=filter)

    inner = Probe(4)
    vectors = np.eye(4, dtype=np.float32)[[0, 1, 2, 3] * 5]
    inner.add([f"i{k}" for k in range(20)], vectors, ["t"] * 20, [{}] * 20)
    store = serialized(inner)
    assert (store.dim, store.uri, store.count()) == (4, "memory", 20)
    assert [item.id for item in store.get(["i3", "i0"])] == ["i3", "i0"]
    assert sum(len(c.ids) for c in store.iterate(7)) == 20
    threads = [
        threading.Thread(target=lambda: [store.count() for _ in range(20)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps[0] == 0
    assert not hasattr(store, "no_such_method") and store.close() is None
