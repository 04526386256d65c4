"""Exact top-k cosine search over unit rows held in an array, with bounded memory: the memory
store's search and the diverse walk over a round's candidate set (``textal.round.candidates``)."""

from __future__ import annotations

import numpy as np

# Items are scored a block at a time, the block sized so that the score matrix holds about
# _SCORE_BLOCK float32 values: this bounds its memory.
_SCORE_BLOCK = 1 << 22
_GROUP = 32  # items per group in the top-k selection (_block_top_k)


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``vectors`` (n, d) and scores of the ``k`` best per query (q, d), best first:
    arrays of shape (q, k), computed block by block so the score matrix stays bounded."""
    nq, n = len(queries), len(vectors)
    best_rows = np.empty((nq, 0), dtype=np.int64)
    best_scores = np.empty((nq, 0), dtype=np.float32)
    block = max(k, _SCORE_BLOCK // max(nq, 1))
    for start in range(0, n, block):
        stop = min(n, start + block)
        rows, scores = _block_top_k(vectors[start:stop] @ queries.T, k)
        best_rows, best_scores = _keep_top_k(
            np.concatenate([best_rows, rows + start], axis=1),
            np.concatenate([best_scores, scores], axis=1),
            k,
        )
    order = np.argsort(-best_scores, axis=1, kind="stable")
    return (
        np.take_along_axis(best_rows, order, axis=1),
        np.take_along_axis(best_scores, order, axis=1),
    )


def _block_top_k(item_scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """For each query (column) of an items-by-queries block, its ``k`` best items, unordered.

    Returns ``(queries, k)`` item offsets and scores. A tall block is cut into groups of
    ``_GROUP`` items first: the ``k`` best scores lie in the ``k`` groups with the best maxima, so
    only those groups need a partial sort, and group maxima over whole rows are cheap to take.
    """
    height, nq = item_scores.shape
    if height >= 4 * k * _GROUP:
        pad = -height % _GROUP
        if pad:  # padding scores -inf, so it never outranks an item
            item_scores = np.pad(item_scores, ((0, pad), (0, 0)), constant_values=-np.inf)
        maxima = item_scores.reshape(-1, _GROUP, nq).max(axis=1).T
        groups = np.argpartition(-maxima, k - 1, axis=1)[:, :k]
        rows = (groups[:, :, None] * _GROUP + np.arange(_GROUP)).reshape(nq, -1)
    else:
        rows = np.broadcast_to(np.arange(height), (nq, height))
    rows, scores = _keep_top_k(rows, item_scores[rows, np.arange(nq)[:, None]], k)
    return np.minimum(rows, height - 1), scores


def _keep_top_k(rows: np.ndarray, scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best entries of each row of ``scores``, with the matching ``rows``."""
    if scores.shape[1] <= k:
        return np.asarray(rows), scores
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return np.take_along_axis(rows, top, axis=1), np.take_along_axis(scores, top, axis=1)
