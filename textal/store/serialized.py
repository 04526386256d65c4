"""A store shared by threads: its calls run one at a time (the Milvus Lite client is not known
to be thread safe). Store-neutral, by delegation: every method of the wrapped store is called
under one lock; ``iterate`` holds it per chunk, so a long scan lets other calls in between."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, cast

from textal.store.base import Chunk, VectorStore


class _Serialized:
    def __init__(self, store: VectorStore) -> None:
        self._store = store
        self._lock = threading.Lock()
        self.dim = store.dim
        self.uri = store.uri

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._store, name)
        if not callable(method):
            return method

        def locked(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return locked

    def iterate(self, *args: Any, **kwargs: Any) -> Iterator[Chunk]:
        with self._lock:
            chunks = self._store.iterate(*args, **kwargs)
        return self._chunks(chunks)

    def _chunks(self, chunks: Iterator[Chunk]) -> Iterator[Chunk]:
        while True:
            with self._lock:
                chunk = next(chunks, None)
            if chunk is None:
                return
            yield chunk


def serialized(store: VectorStore) -> VectorStore:
    """``store`` for several threads: each call waits for the one in progress."""
    return cast(VectorStore, _Serialized(store))
