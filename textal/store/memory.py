"""In-memory store, optionally persisted to a directory without pickle.

Search is exact (one matrix product per block of items) up to :data:`APPROXIMATE_ABOVE` items,
and above that asks a faiss IVF index whose hits are re-ranked exactly (:mod:`textal.store.ann`).

A persisted store is three files in its directory, and a fourth once it is large:

* ``store.json``: format marker and vector dimension;
* ``vectors.f32``: raw little-endian float32 rows, appended;
* ``items.jsonl``: one ``{"id", "text", "metadata"}`` object per line, appended in the same order;
* ``ivf.faiss``: the approximate index, saved on close; derived from ``vectors.f32``, so a
  missing or outdated one is rebuilt or caught up.

A crash can leave a torn record at the end of either file. Opening keeps the records complete in
both files and truncates the rest, so the store always reopens to a prefix of what was added. A
``LOCK`` file (``flock``) keeps a second process from appending at the same time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np

from textal.errors import TextalError
from textal.fsio import atomic_write
from textal.store import _batch
from textal.store.ann import IvfIndex
from textal.store.base import Chunk, Item
from textal.store.exact import exact_top_k
from textal.store.filters import Filter, predicate

_FORMAT = "textal-memory-store"
_VERSION = 1
# A search scores at most _QUERY_GROUP queries at a time (exact_top_k bounds the block of items).
_QUERY_GROUP = 4096
#: Above this many items search is approximate. Exact search of a round's few hundred queries
#: costs about 0.2 s per 100,000 items on 2 cores; building the index about 20 s per million,
#: once (it is saved with a persisted store).
APPROXIMATE_ABOVE = 100_000
_INDEX_FILE = "ivf.faiss"


class MemoryStore:
    """Items held in numpy arrays and lists; search exact up to ``approximate_above`` items."""

    def __init__(
        self,
        dim: int,
        path: Path | None = None,
        *,
        read_only: bool = False,
        approximate_above: int = APPROXIMATE_ABOVE,
    ) -> None:
        """``read_only`` reads a persisted store on a read-only file system: without its lock,
        without cutting a torn tail (it is ignored instead); ``add`` is refused.
        ``approximate_above``: above this many items, search asks an IVF index (built at the
        first search that needs it)."""
        if dim < 1:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = dim
        self.path = path
        self.uri = "memory" if path is None else f"memory:{path}"
        self._vectors = np.empty((1024, dim), dtype=np.float32)
        self._n = 0
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._metadata: list[str] = []  # compact JSON, decoded on the way out
        self._rows: dict[str, int] = {}
        self._lock: int | None = None
        self._adding = threading.Lock()  # one add at a time: ingest adds from a writer thread
        self._vector_file: BinaryIO | None = None
        self._item_file: BinaryIO | None = None
        self._read_only = read_only
        self._approximate_above = approximate_above
        self._ann: IvfIndex | None = None
        self._matched: tuple[Filter, int, np.ndarray] | None = None
        if path is not None:
            if read_only:
                self._check_header(Path(path) / "store.json")
                self._load(Path(path) / "vectors.f32", Path(path) / "items.jsonl")
            else:
                self._open(Path(path))

    # -- the protocol -------------------------------------------------------------------------

    def add(
        self,
        ids: Sequence[str],
        vectors: np.ndarray,
        texts: Sequence[str],
        metadata: Sequence[dict],
    ) -> int:
        if self._read_only:
            raise TextalError(f"memory store {self.path} is read-only: nothing can be added")
        batch = _batch.prepare(ids, vectors, texts, metadata, self.dim)
        with self._adding:
            keep = [i for i, item_id in enumerate(batch.ids) if item_id not in self._rows]
            new = batch.subset(keep)
            if len(new):
                self._write(new)
                self._append(new.ids, new.vectors, new.texts, new.metadata)
        return len(new)

    def existing_ids(self, ids: Sequence[str]) -> set[str]:
        return {item_id for item_id in ids if item_id in self._rows}

    def get(self, ids: Sequence[str]) -> list[Item]:
        return [
            Item(self._ids[r], self._texts[r], json.loads(self._metadata[r]))
            for r in self._lookup(ids)
        ]

    def get_vectors(self, ids: Sequence[str]) -> np.ndarray:
        return self._vectors[self._lookup(ids)]

    def search(
        self, vectors: np.ndarray, top_k: int, *, filter: Filter | None = None
    ) -> list[list[tuple[str, float]]]:
        """Exact over the matching rows when filtered, whatever the store's size."""
        queries = _batch.queries(vectors, self.dim, top_k)
        among = None if filter is None else self._matching(filter)
        k = min(top_k, self._n if among is None else len(among))
        results: list[list[tuple[str, float]]] = []
        for start in range(0, len(queries), _QUERY_GROUP):
            group = queries[start : start + _QUERY_GROUP]
            if among is not None:
                rows, scores = exact_top_k(self._vectors[among], group, k)
                rows = among[rows]
            elif self._n > self._approximate_above:
                rows, scores = self._index().search(group, k, self._vectors)
            else:
                rows, scores = exact_top_k(self._vectors[: self._n], group, k)
            results.extend(
                [(self._ids[r], s) for r, s in zip(row, score, strict=True) if r >= 0]
                for row, score in zip(rows.tolist(), scores.tolist(), strict=True)
            )
        return results

    def iterate(
        self, chunk_size: int = 4096, *, with_metadata: bool = False, filter: Filter | None = None
    ) -> Iterator[Chunk]:
        """Chunks whose ``vectors`` are read-only views of the store, not copies (copies of the
        matching rows when filtered)."""
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be positive, got {chunk_size}")
        vectors, n = self._vectors, self._n  # a later add may reallocate; keep this snapshot
        if filter is not None:
            among = self._matching(filter)
            for start in range(0, len(among), chunk_size):
                rows = among[start : start + chunk_size]
                yield Chunk(
                    ids=[self._ids[r] for r in rows],
                    vectors=vectors[rows],
                    metadata=[json.loads(self._metadata[r]) for r in rows] if with_metadata else [],
                )
            return
        for start in range(0, n, chunk_size):
            stop = min(n, start + chunk_size)
            view = vectors[start:stop]
            view.flags.writeable = False
            yield Chunk(
                ids=self._ids[start:stop],
                vectors=view,
                metadata=[json.loads(m) for m in self._metadata[start:stop]]
                if with_metadata
                else [],
            )

    def sample(self, size: int, seed: int, *, filter: Filter | None = None) -> Chunk:
        among = np.arange(self._n) if filter is None else self._matching(filter)
        n = len(among)
        rows = among[
            np.sort(np.random.default_rng(seed).choice(n, min(max(size, 0), n), replace=False))
        ]
        return Chunk(ids=[self._ids[r] for r in rows], vectors=self._vectors[rows], metadata=[])

    def count(self, *, filter: Filter | None = None) -> int:
        return self._n if filter is None else len(self._matching(filter))

    def close(self) -> None:
        if self._ann is not None and self._ann.changed and self._lock is not None:
            with contextlib.suppress(OSError):  # a cache: rebuilt or caught up when missing
                self._ann.save(Path(self.path or ".") / _INDEX_FILE)
        self._ann = None
        for f in (self._vector_file, self._item_file):
            if f is not None:
                f.flush()
                os.fsync(f.fileno())
                f.close()
        self._vector_file = self._item_file = None
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the flock
            self._lock = None

    def __enter__(self) -> MemoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------------------

    def _matching(self, filter: Filter) -> np.ndarray:
        """Rows whose metadata ``filter`` matches, ascending; the last answer is kept until the
        filter or the number of items changes (a round asks the same filter several times)."""
        n = self._n
        if self._matched is not None and self._matched[:2] == (filter, n):
            return self._matched[2]
        holds = predicate(filter)
        rows = np.fromiter(
            (r for r in range(n) if holds(json.loads(self._metadata[r]))), dtype=np.int64
        )
        self._matched = (filter, n, rows)
        return rows

    def _index(self) -> IvfIndex:
        """The approximate index over every row: loaded, caught up or built on first use."""
        if self._ann is None and self.path is not None:
            saved = IvfIndex.load(Path(self.path) / _INDEX_FILE)
            if saved is not None and saved.ntotal <= self._n:  # longer: rows were cut since
                saved.add(self._vectors[saved.ntotal : self._n])
                self._ann = saved
        if self._ann is None:
            self._ann = IvfIndex.build(self._vectors[: self._n])
        return self._ann

    def _write(self, new: _batch.Batch) -> None:
        """Append ``new`` to the files of a persisted store; on failure, cut both files back."""
        if self._vector_file is None or self._item_file is None:
            return
        files = (self._vector_file, self._item_file)
        lines = "".join(
            f'{{"id":{_json(i)},"text":{_json(t)},"metadata":{m}}}\n'
            for i, t, m in zip(new.ids, new.texts, new.metadata, strict=True)
        )
        ends = [f.tell() for f in files]
        try:
            files[0].write(new.vectors.astype("<f4", copy=False).tobytes())
            files[1].write(lines.encode("utf-8"))
            for f in files:
                f.flush()
        except OSError as e:
            for f, end in zip(files, ends, strict=True):
                with contextlib.suppress(OSError):
                    f.truncate(end)
            raise TextalError(f"cannot write to memory store {self.path}: {e}") from e

    def _lookup(self, ids: Sequence[str]) -> list[int]:
        rows = []
        for item_id in ids:
            row = self._rows.get(item_id)
            if row is None:
                raise KeyError(item_id)
            rows.append(row)
        return rows

    def _append(
        self, ids: list[str], vectors: np.ndarray, texts: list[str], metadata: list[str]
    ) -> None:
        need = self._n + len(ids)
        if need > len(self._vectors):
            grown = np.empty((max(need, 2 * len(self._vectors)), self.dim), dtype=np.float32)
            grown[: self._n] = self._vectors[: self._n]
            self._vectors = grown
        self._vectors[self._n : need] = vectors
        if self._ann is not None:
            self._ann.add(vectors)
        for offset, item_id in enumerate(ids):
            self._rows[item_id] = self._n + offset
        self._ids.extend(ids)
        self._texts.extend(texts)
        self._metadata.extend(metadata)
        self._n = need

    def _open(self, path: Path) -> None:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._lock = os.open(path / "LOCK", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            self._lock = None
            raise TextalError(
                f"memory store {path} is locked: another textal process has it open"
            ) from None
        try:
            self._check_header(path / "store.json")
            self._load(path / "vectors.f32", path / "items.jsonl")
        except BaseException:
            self.close()
            raise
        # Closed in close(); created private: they hold customer text.
        self._vector_file = open(path / "vectors.f32", "ab", opener=_private)  # noqa: SIM115
        self._item_file = open(path / "items.jsonl", "ab", opener=_private)  # noqa: SIM115

    def _check_header(self, header: Path) -> None:
        if not header.exists():
            if self._read_only:
                return  # an empty store
            info = {"format": _FORMAT, "version": _VERSION, "dim": self.dim}
            with atomic_write(header) as f:  # a crash leaves no half-written header
                f.write(json.dumps(info))
            return
        try:
            info = json.loads(header.read_text())
            dim = int(info["dim"])
            if info["format"] != _FORMAT or info["version"] != _VERSION:
                raise ValueError(f"format {info['format']!r} version {info['version']!r}")
        except (ValueError, KeyError, TypeError) as e:
            raise TextalError(f"{header} is not a textal memory store: {e}") from e
        if dim != self.dim:
            raise TextalError(
                f"memory store {header.parent} holds {dim}-dimensional vectors, not {self.dim}"
            )

    def _load(self, vector_path: Path, item_path: Path) -> None:
        """Read the complete records of both files; cut a torn tail off either."""
        row_bytes = 4 * self.dim
        stored_rows = vector_path.stat().st_size // row_bytes if vector_path.exists() else 0
        ids: list[str] = []
        texts: list[str] = []
        metadata: list[str] = []
        good_bytes = 0
        if item_path.exists():
            with open(item_path, "rb") as f:
                for line in f:  # binary iteration splits on b"\n" only
                    if len(ids) == stored_rows or not line.endswith(b"\n"):
                        break
                    try:
                        record = json.loads(line)
                        item_id, text, meta = record["id"], record["text"], record["metadata"]
                    except (ValueError, KeyError, TypeError):
                        break
                    ids.append(item_id)
                    texts.append(text)
                    metadata.append(json.dumps(meta, ensure_ascii=False, separators=(",", ":")))
                    good_bytes += len(line)
        n = len(ids)
        if self._read_only and n == 0:
            return
        for file, size in ((item_path, good_bytes), (vector_path, n * row_bytes)):
            if self._read_only:
                break
            with open(file, "ab") as f:
                if f.tell() > size:
                    f.truncate(size)
        vectors = np.fromfile(vector_path, dtype="<f4", count=n * self.dim).reshape(n, self.dim)
        self._append(ids, vectors.astype(np.float32, copy=False), texts, metadata)


def _private(path: str, flags: int) -> int:
    """``open``'s opener for files only their owner may read."""
    return os.open(path, flags, 0o600)


def _json(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)
