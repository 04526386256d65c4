"""The memory store's approximate search (textal.store.ann): above its threshold it finds what
exact search finds, with exact similarities, and its saved index follows the store's rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from textal.store.memory import MemoryStore

DIM = 32


def clustered(n: int, seed: int = 0, start: int = 0) -> tuple[list[str], np.ndarray]:
    """``n`` unit vectors around 50 unit centres (the same centres for every seed)."""
    centres = np.random.default_rng(99).standard_normal((50, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    vectors = centres[rng.integers(0, 50, n)] + 0.5 * rng.standard_normal((n, DIM)) / np.sqrt(DIM)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return [f"v-{start + k}" for k in range(n)], vectors.astype(np.float32)


def fill(store: MemoryStore, ids: list[str], vectors: np.ndarray) -> MemoryStore:
    store.add(ids, vectors, ids, [{}] * len(ids))
    return store


def recall(found: list[list[tuple[str, float]]], truth: list[list[tuple[str, float]]]) -> float:
    hits = [
        len({i for i, _ in f} & {i for i, _ in t}) / len(t)
        for f, t in zip(found, truth, strict=True)
    ]
    return float(np.mean(hits))


def test_approximate_search_finds_the_exact_neighbours_with_exact_similarities():
    ids, vectors = clustered(4_000)
    exact = fill(MemoryStore(DIM), ids, vectors)
    approx = fill(MemoryStore(DIM, approximate_above=1_000), ids, vectors)
    queries = vectors[:200]
    found = approx.search(queries, 10)
    assert approx._ann is not None  # the index answered
    assert recall(found, exact.search(queries, 10)) >= 0.9
    for q, hits in zip(queries, found, strict=True):
        assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
        got = approx.get_vectors([i for i, _ in hits]) @ q
        np.testing.assert_allclose([s for _, s in hits], got, atol=1e-5)
    # rows added after the index was built are found too
    new_ids, new_vectors = clustered(300, seed=1, start=4_000)
    fill(approx, new_ids, new_vectors)
    assert [hits[0][0] for hits in approx.search(new_vectors, 1)] == new_ids
    # below the threshold the store stays exact
    small = fill(MemoryStore(DIM, approximate_above=10_000), ids, vectors)
    assert small.search(queries, 10) == exact.search(queries, 10) and small._ann is None


def test_saved_index_is_reused_caught_up_and_rebuilt_when_it_no_longer_fits(tmp_path: Path):
    ids, vectors = clustered(3_000)
    path = tmp_path / "store"
    store = fill(MemoryStore(DIM, path, approximate_above=1_000), ids, vectors)
    before = store.search(vectors[:50], 5)
    store.close()
    saved = path / "ivf.faiss"
    assert saved.exists()
    stamp = saved.stat().st_mtime_ns

    store = MemoryStore(DIM, path, approximate_above=1_000)
    assert store.search(vectors[:50], 5) == before
    store.close()
    assert saved.stat().st_mtime_ns == stamp  # loaded as it was, not rebuilt or rewritten

    store = MemoryStore(DIM, path, approximate_above=1_000)
    new_ids, new_vectors = clustered(200, seed=2, start=3_000)
    fill(store, new_ids, new_vectors)  # added before the index is loaded: caught up on use
    assert [hits[0][0] for hits in store.search(new_vectors, 1)] == new_ids
    store.close()

    # a torn tail cut from the store leaves the saved index longer than the store: rebuilt
    items = path / "items.jsonl"
    lines = items.read_bytes().splitlines(keepends=True)
    items.write_bytes(b"".join(lines[:-100]) + lines[-100][:5])
    store = MemoryStore(DIM, path, approximate_above=1_000)
    assert store.count() == 3_100
    kept = set(ids + new_ids[:100])
    for hits in store.search(new_vectors, 20):
        assert {i for i, _ in hits} <= kept
    store.close()

    saved.write_bytes(b"not a faiss index")  # unreadable: rebuilt from the vectors
    store = MemoryStore(DIM, path, approximate_above=1_000)
    assert [hits[0][0] for hits in store.search(new_vectors[:100], 1)] == new_ids[:100]
    store.close()
