"""Checks shared by every store, so that all of them accept and refuse exactly the same input."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from textal.errors import TextalError
from textal.store.base import MAX_ID_BYTES, MAX_TEXT_BYTES

# Milvus caps both the number of queries per search call and top-k at 16384; every store refuses a
# larger top-k so that code written against the memory store also runs against Milvus.
MAX_TOP_K = 16_384
# Stores that cannot draw random rows keep a bucket number per item, a hash of its id: every
# bucket holds a uniform random share of the items, so a run of buckets is a uniform sample.
BUCKETS = 1 << 16


@dataclass(frozen=True)
class Batch:
    """Validated items, first occurrence of each id only; metadata encoded as compact JSON."""

    ids: list[str]
    vectors: np.ndarray
    texts: list[str]
    metadata: list[str]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: Sequence[int]) -> Batch:
        return Batch(
            ids=[self.ids[i] for i in keep],
            vectors=self.vectors[list(keep)],
            texts=[self.texts[i] for i in keep],
            metadata=[self.metadata[i] for i in keep],
        )


def show_id(item_id: str) -> str:
    """An id as it appears in messages: quoted, and shortened when long."""
    return repr(item_id if len(item_id) <= 80 else item_id[:77] + "...")


def prepare(
    ids: Sequence[str],
    vectors: np.ndarray,
    texts: Sequence[str],
    metadata: Sequence[dict],
    dim: int,
) -> Batch:
    """Validate items for ``add``; vectors come back L2-normalised float32.

    Raises ``TextalError`` naming the first offending id. Lengths are counted in UTF-8 bytes, as
    Milvus servers do (Milvus Lite counts characters, which would let the stores disagree).
    """
    n = len(ids)
    if not len(texts) == len(metadata) == n:
        raise ValueError(f"got {n} ids, {len(texts)} texts and {len(metadata)} metadata dicts")
    matrix = unit_rows(vectors, dim, what="item vectors", n=n)
    seen: set[str] = set()
    keep: list[int] = []
    encoded: list[str] = []
    for i, (item_id, text, meta) in enumerate(zip(ids, texts, metadata, strict=True)):
        _check_item(item_id, text, meta)
        if item_id in seen:
            continue
        seen.add(item_id)
        keep.append(i)
        encoded.append(_encode_metadata(item_id, meta))
    kept_ids = [ids[i] for i in keep]
    if len(keep) < n:
        matrix = matrix[keep]
    bad = ~np.isfinite(matrix).all(axis=1)
    if bad.any():
        culprit = show_id(kept_ids[int(np.argmax(bad))])
        raise TextalError(f"item {culprit} has a zero or non-finite vector")
    return Batch(ids=kept_ids, vectors=matrix, texts=[texts[i] for i in keep], metadata=encoded)


def unit_rows(vectors: np.ndarray, dim: int, *, what: str, n: int | None = None) -> np.ndarray:
    """``vectors`` as a C-contiguous float32 ``(n, dim)`` array with rows scaled to unit length.

    Zero rows become NaN rows: callers decide whether that is an error.
    """
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim != 2 or matrix.shape[1] != dim or (n is not None and matrix.shape[0] != n):
        want = f"({n if n is not None else 'n'}, {dim})"
        raise TextalError(f"{what} have shape {matrix.shape}, but this store needs {want}")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.ascontiguousarray(matrix / np.linalg.norm(matrix, axis=1, keepdims=True))


def queries(vectors: np.ndarray, dim: int, top_k: int) -> np.ndarray:
    """Validate search input; return unit-length float32 query rows."""
    if not 1 <= top_k <= MAX_TOP_K:
        raise ValueError(f"top_k must be between 1 and {MAX_TOP_K}, got {top_k}")
    matrix = unit_rows(np.atleast_2d(vectors), dim, what="query vectors")
    if not np.isfinite(matrix).all():
        raise TextalError("a query vector is zero or not finite")
    return matrix


def bucket_of(item_id: str) -> int:
    """The item's bucket in ``[0, BUCKETS)``: a hash of its id, so re-ingesting keeps it."""
    digest = hashlib.blake2b(item_id.encode("utf-8"), digest_size=4).digest()
    return int.from_bytes(digest, "little") % BUCKETS


def _check_item(item_id: str, text: str, meta: dict) -> None:
    if not isinstance(item_id, str) or not item_id:
        raise TextalError(f"item ids must be non-empty strings, got {item_id!r}")
    if _utf8_size(item_id, item_id, "id") > MAX_ID_BYTES:
        raise TextalError(f"item id {show_id(item_id)} is longer than {MAX_ID_BYTES} UTF-8 bytes")
    if not isinstance(text, str):
        raise TextalError(f"item {show_id(item_id)} has a text of type {type(text).__name__}")
    size = _utf8_size(text, item_id, "text")
    if size > MAX_TEXT_BYTES:
        raise TextalError(
            f"item {show_id(item_id)} has a text of {size} UTF-8 bytes; "
            f"the store holds at most {MAX_TEXT_BYTES}"
        )
    if not isinstance(meta, dict):
        raise TextalError(f"item {show_id(item_id)} has metadata of type {type(meta).__name__}")


def _encode_metadata(item_id: str, meta: dict) -> str:
    try:
        encoded = json.dumps(meta, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TextalError(f"item {show_id(item_id)} has metadata that is not JSON: {e}") from e
    size = _utf8_size(encoded, item_id, "metadata")
    if size > MAX_TEXT_BYTES:
        raise TextalError(
            f"item {show_id(item_id)} has metadata of {size} UTF-8 bytes as JSON; "
            f"the store holds at most {MAX_TEXT_BYTES}"
        )
    return encoded


def _utf8_size(value: str, item_id: str, what: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError as e:  # lone surrogates, e.g. from a mis-decoded file
        raise TextalError(f"the {what} of item {item_id!r} is not valid Unicode: {e}") from e
