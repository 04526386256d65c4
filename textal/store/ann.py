"""Approximate nearest-neighbour search for the in-memory store: a faiss inverted-file index.

Exact search reads every stored vector for every batch of queries, so at a million items one
batched query costs about a second; a round asks several. Above ``approximate_above`` items the
memory store asks this index instead: an IVF index (``nlist`` about the square root of the pool,
coarse centroids trained by faiss's k-means on a sample) holding 8-bit scalar-quantised codes,
probed in :data:`NPROBE` lists per query. What it finds is re-ranked with the store's own float32
vectors, so the similarities returned are exact; only an item the probed lists miss can be
missing from a result (recall, not precision, is approximate, as with Milvus's HNSW).

The index covers the store's rows ``0 .. ntotal - 1`` in order (faiss's sequential ids are the
store's row numbers); rows added later are appended to it. A persisted store keeps it in
``ivf.faiss`` (faiss's own binary format, written atomically, never unpickled), which covers a
prefix of the rows: opening catches up with the rows added since, and an index longer than the
store (after a torn tail was cut) is rebuilt.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from textal.fsio import atomic_write

#: Lists probed per query. With ``nlist`` near ``sqrt(n)`` this reads about ``16 / sqrt(n)`` of
#: the pool per query: 1.6% at a million items.
NPROBE = 16
TRAIN_PER_LIST = 50  # k-means training points per list (faiss warns below 39)
_RERANK_GROUP = 32  # queries re-ranked at a time: bounds the gathered vectors' memory


def _faiss() -> Any:
    import faiss  # a large import: only when a store is large enough to need it

    return faiss


class IvfIndex:
    """An IVF index over a store's first ``ntotal`` rows; build with :meth:`build`."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._index.nprobe = NPROBE
        self.changed = False  # rows added since it was built or loaded

    @property
    def ntotal(self) -> int:
        return int(self._index.ntotal)

    @classmethod
    def build(cls, vectors: np.ndarray, seed: int = 0) -> IvfIndex:
        """Train on a sample of ``vectors`` (shape ``(n, d)``, unit rows) and add them all."""
        faiss = _faiss()
        n, dim = vectors.shape
        nlist = int(np.clip(round(np.sqrt(n)), 16, 65_536))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
        )
        index.cp.seed = seed
        rows = np.random.default_rng(seed).choice(n, min(n, TRAIN_PER_LIST * nlist), False)
        index.train(np.ascontiguousarray(vectors[np.sort(rows)]))
        built = cls(index)
        built.add(vectors)
        return built

    @classmethod
    def load(cls, path: Path) -> IvfIndex | None:
        """The index saved at ``path``, or ``None`` when there is none."""
        if not path.exists():
            return None
        try:
            return cls(_faiss().read_index(str(path)))
        except RuntimeError:  # unreadable (faiss checks the format): rebuilt instead
            return None

    def save(self, path: Path) -> None:
        data = _faiss().serialize_index(self._index)
        with atomic_write(path, "wb") as f:
            f.write(data.tobytes())
        self.changed = False

    def add(self, vectors: np.ndarray) -> None:
        """Append rows ``ntotal .. ntotal + len(vectors) - 1``."""
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))
            self.changed = True

    def search(
        self, queries: np.ndarray, k: int, vectors: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows and exact cosine similarities of up to ``k`` neighbours per query, best first.

        ``vectors`` are the store's rows (the index's codes only nominate candidates, ``2k`` per
        query); a row of fewer hits is padded with row ``-1`` and score ``-inf``.
        """
        wide = min(2 * k, self.ntotal)
        _, found = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), wide)
        rows = np.full((len(queries), k), -1, dtype=np.int64)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        for start in range(0, len(queries), _RERANK_GROUP):
            group = found[start : start + _RERANK_GROUP]
            exact = np.einsum(
                "qd,qkd->qk", queries[start : start + _RERANK_GROUP], vectors[np.maximum(group, 0)]
            )
            exact[group < 0] = -np.inf
            order = np.argsort(-exact, axis=1, kind="stable")[:, :k]
            width = order.shape[1]
            rows[start : start + len(group), :width] = np.take_along_axis(group, order, axis=1)
            scores[start : start + len(group), :width] = np.take_along_axis(exact, order, axis=1)
        rows[~np.isfinite(scores)] = -1
        return rows, scores
