"""The store protocol: immutable items ``(id, vector, text, metadata)``, nearest-neighbour search.

Vectors are L2-normalised float32, so cosine similarity is the inner product. Items never change
once stored; labels live in the ledger, never here. Every implementation passes the same test suite
(``tests/test_store.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from textal.data.limits import MAX_ID_BYTES, MAX_TEXT_BYTES
from textal.store.filters import Filter, both

# Re-exported: every store applies these Milvus VARCHAR limits, in UTF-8 bytes as Milvus servers
# count them (Milvus Lite counts characters, so on its own it would accept more).
__all__ = ["MAX_ID_BYTES", "MAX_TEXT_BYTES", "Chunk", "Filtered", "Item", "VectorStore"]


@dataclass(frozen=True)
class Item:
    """One stored text. ``metadata`` is JSON-serialisable; its ``"gold"`` key holds a gold label."""

    id: str
    text: str
    metadata: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A slice of the store: ``vectors`` has shape ``(len(ids), dim)``, float32."""

    ids: list[str]
    vectors: np.ndarray
    metadata: list[dict]


class VectorStore(Protocol):
    """What every store offers. ``uri`` is for display and never holds credentials.

    ``filter`` (:mod:`textal.store.filters`) restricts ``search``, ``iterate``, ``sample`` and
    ``count`` to the items whose metadata it matches; ``None`` means every item.
    """

    dim: int
    uri: str

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadata: Sequence[dict],
    ) -> int:
        """Store the items whose ids are not stored yet; return how many were added.

        Repeated ids within one call count once (the first wins). Vectors are scaled to unit
        length. An invalid item (empty or too long id, text or metadata JSON over
        ``MAX_TEXT_BYTES``, zero vector) raises ``TextalError`` naming it, and nothing is stored.
        """

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        """The subset of ``ids`` already stored."""

    def get(self, ids: Sequence[str]) -> list[Item]:
        """Items in the order of ``ids``; raises ``KeyError`` naming the first unknown id."""

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        """Vectors of shape ``(len(ids), dim)`` in the order of ``ids``; ``KeyError`` if unknown."""

    def search(
        self, vectors: np.ndarray, top_k: int, *, filter: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """For each query row, up to ``top_k`` ``(id, cosine similarity)`` pairs, best first.

        Send all queries in one call: stores batch them (a Milvus call has a fixed cost).
        """

    def iterate(
        self, chunk_size: int = 4096, *, with_metadata: bool = False, filter: Filter | None = None
    ) -> Iterator[Chunk]:
        """Every item once, in chunks of at most ``chunk_size``; memory bounded by the chunk.

        ``Chunk.metadata`` is filled only ``with_metadata`` (rounds never need it; decoding it
        for a million items costs seconds)."""

    def sample(self, size: int, seed: int, *, filter: Filter | None = None) -> Chunk:
        """About ``min(size, count())`` items drawn uniformly without replacement, without
        reading the whole store where the store allows it; the same for the same seed and
        contents. ``Chunk.metadata`` is empty. Memory is bounded by ``size``."""

    def count(self, *, filter: Filter | None = None) -> int:
        """Number of stored items."""

    def close(self) -> None:
        """Release files, locks and connections."""


def reservoir(chunks: Iterable[Chunk], size: int, rng: np.random.Generator, dim: int) -> Chunk:
    """A uniform sample of ``size`` items of ``chunks`` in one pass (reservoir sampling):
    memory is bounded by ``size``, not by what the chunks hold. ``metadata`` is empty."""
    ids: list[str] = []
    vectors = np.empty((size, dim), dtype=np.float32)
    seen = 0
    for chunk in chunks:
        for k, item_id in enumerate(chunk.ids):
            slot = seen if seen < size else int(rng.integers(0, seen + 1))
            if slot < size:
                if slot == len(ids):
                    ids.append(item_id)
                else:
                    ids[slot] = item_id
                vectors[slot] = chunk.vectors[k]
            seen += 1
    return Chunk(ids=ids, vectors=vectors[: len(ids)], metadata=[])


class Filtered:
    """``store`` as if it held only the items ``filter`` matches: ``search``, ``iterate``,
    ``sample`` and ``count`` pass the filter on; reads by id and ``add`` see every item (a round
    still trains on labels outside the filter)."""

    def __init__(self, store: VectorStore, filter: Filter) -> None:
        self.store = store
        self.filter = filter
        self.dim = store.dim
        self.uri = store.uri

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadata: Sequence[dict],
    ) -> int:
        return self.store.add(ids, vectors, texts, metadata)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return self.store.existing_ids(ids)

    def get(self, ids: Sequence[str]) -> list[Item]:
        return self.store.get(ids)

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        return self.store.get_vectors(ids)

    def search(
        self, vectors: np.ndarray, top_k: int, *, filter: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        return self.store.search(vectors, top_k, filter=both(self.filter, filter))

    def iterate(
        self, chunk_size: int = 4096, *, with_metadata: bool = False, filter: Filter | None = None
    ) -> Iterator[Chunk]:
        return self.store.iterate(
            chunk_size, with_metadata=with_metadata, filter=both(self.filter, filter)
        )

    def sample(self, size: int, seed: int, *, filter: Filter | None = None) -> Chunk:
        return self.store.sample(size, seed, filter=both(self.filter, filter))

    def count(self, *, filter: Filter | None = None) -> int:
        return self.store.count(filter=both(self.filter, filter))

    def close(self) -> None:
        """The view owns nothing: closing the store is its opener's job."""
