"""A simulation's data: a labeled pool embedded once into a store, and an embedded test set.

Everything is cached in one directory per (dataset, embedding model, backend),
``WORKSPACE/simulations/<name>-<model>/`` (``<name>-<model>-<backend>/`` for a backend other than
torch):

* ``dataset.json``: what the cache was built from (pool source, test set, model id, dimension);
  opening it with other settings is refused, so a cache never mixes two datasets;
* ``pool-store/`` (``--store memory``, a persisted memory store) or ``pool.db`` (``--store milvus``,
  Milvus Lite): the pool items with their gold label in the metadata (``{"gold": label}``);
* ``test-vectors.npy`` (float32, (m, d)) and ``test-items.json`` (``{"ids": [...]}``, in the
  order of the vectors): the test set, whose labels are read from the data each time.

Re-running embeds only what is missing, so an interrupted embedding resumes.
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from tqdm import tqdm

from textal.data.label_sets import canonical_label_cell, parse_label_set
from textal.data.readers import Record, read_hf_records, read_records
from textal.embed import DEFAULT_BACKEND, Encoder, check_backend, resolve_model
from textal.errors import TextalError
from textal.fsio import atomic_write
from textal.ingest import ingest_records
from textal.simulate.options import STORE
from textal.store import VectorStore, open_store
from textal.strategy.probes import probe_text

SIMULATIONS_DIR = "simulations"
META_FILE = "dataset.json"
MEMORY_STORE_DIR = "pool-store"
LITE_FILE = "pool.db"
LITE_COLLECTION = "pool"
TEST_VECTORS = "test-vectors.npy"
TEST_ITEMS = "test-items.json"
CLASS_VECTORS = "class-names.npy"
_ENCODE_BATCH = 256


@dataclass(frozen=True)
class Source:
    """Labeled rows from a file (``path``: CSV, TSV, JSONL, Parquet) or a Hugging Face ``dataset``
    split. ``label_column`` holds the gold labels the oracle reveals; with ``multi_label`` each
    is a label set, read as its canonical ``labels`` cell (:mod:`textal.data.label_sets`)."""

    path: Path | None = None
    dataset: str | None = None
    split: str = "train"
    text_column: str = "text"
    label_column: str = "label"
    multi_label: bool = False

    def describe(self) -> str:
        where = str(self.path.resolve()) if self.path else f"{self.dataset}[{self.split}]"
        kind = " multi-label" if self.multi_label else ""  # single-label caches keep their spec
        return f"{where} text={self.text_column} label={self.label_column}{kind}"

    def read(self) -> tuple[list[Record], int]:
        """The rows that have a gold label, in source order, and the number without one."""
        text, label = self.text_column, self.label_column
        if self.path is not None:
            records = read_records(
                self.path, text_column=text, label_column=label, multi_label=self.multi_label
            )
        elif self.dataset is not None:
            records = read_hf_records(
                self.dataset, split=self.split, text_column=text, label_column=label
            )
            if self.multi_label:
                records = (
                    replace(r, gold=canonical_label_cell(r.gold) or None) if r.gold else r
                    for r in records
                )
        else:
            raise TextalError("give the labeled data: --data FILE or --dataset NAME")
        labeled, unlabeled = [], 0
        for record in records:
            if record.gold is None:
                unlabeled += 1
            else:
                labeled.append(record)
        if not labeled:
            raise TextalError(f"{self.describe()}: no row has a gold label")
        return labeled, unlabeled


@dataclass(frozen=True)
class TestSpec:
    """The test set: a separate ``source``, or a stratified ``fraction`` of the pool drawn with
    ``split_seed`` (then the pool is what remains)."""

    source: Source | None = None
    fraction: float | None = None
    split_seed: int = 0

    def describe(self) -> str:
        if self.source is not None:
            return self.source.describe()
        return f"stratified fraction {self.fraction} of the pool, seed {self.split_seed}"


@dataclass
class SimulationData:
    """An opened cache. ``oracle`` maps every pool id to its gold label; ``test_vectors`` is
    (m, d) float32 with ``test_labels`` (m,); ``classes`` is the sorted union of all gold labels.
    Multi-label data has ``label_names``, the sorted union of the names in every gold set (then
    also ``classes``); gold labels are then ``labels`` cells. ``class_vectors`` maps each class
    (multi-label: each label) to its embedded name, the probes of a workspace that declared them
    all (:mod:`textal.strategy.probes`)."""

    directory: Path
    model_id: str
    store: VectorStore
    oracle: dict[str, str]
    test_vectors: np.ndarray
    test_labels: np.ndarray
    classes: list[str]
    counts: dict[str, int] = field(default_factory=dict)
    label_names: list[str] | None = None
    class_vectors: dict[str, np.ndarray] = field(default_factory=dict)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> SimulationData:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def slug(text: str) -> str:
    """A file-name-safe version of ``text``: runs of other characters become ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "data"


def default_name(source: Source) -> str:
    """``<folder>-<file stem>`` for a file (``sst2-train``), ``<dataset>-<split>`` for HF."""
    if source.path is not None:
        return slug(f"{source.path.resolve().parent.name}-{source.path.stem}")
    return slug(f"{source.dataset}-{source.split}")


def stratified_split(
    records: Sequence[Record], fraction: float, seed: int
) -> tuple[list[Record], list[Record]]:
    """Split into (pool, test): ``round(fraction * n_c)`` random rows of each class c go to test.

    Deterministic given the rows' ids, labels and ``seed`` (classes and ids are sorted before
    drawing); both parts keep the source order.
    """
    if not 0 < fraction < 1:
        raise TextalError(f"--test-fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    by_class: dict[str, list[str]] = defaultdict(list)
    for record in records:
        by_class[str(record.gold)].append(record.id)
    test_ids: set[str] = set()
    for label in sorted(by_class):
        ids = sorted(by_class[label])
        take = round(fraction * len(ids))
        test_ids.update(ids[k] for k in rng.permutation(len(ids))[:take])
    pool = [r for r in records if r.id not in test_ids]
    test = [r for r in records if r.id in test_ids]
    return pool, test


def open_simulation_data(
    workspace: Path,
    source: Source,
    test: TestSpec,
    *,
    model: str | None = None,
    store_kind: str = STORE.default,
    name: str | None = None,
    backend: str = DEFAULT_BACKEND,
    device: str | None = None,
) -> SimulationData:
    """Open (building or completing if needed) the cache of ``source`` embedded with ``model``.

    Reads both sources whole (the oracle needs every gold label), embeds what the cache lacks, and
    returns the pool store opened for this process. Raises :class:`TextalError` when the cache was
    built from other data, or the data is unusable.
    """
    if store_kind not in STORE.choices:
        raise TextalError(f"unknown store {store_kind!r}; choose from {', '.join(STORE.choices)}")
    model_id, _ = resolve_model(model)
    model_slug = slug(model_id.rstrip("/").rsplit("/", 1)[-1])
    if check_backend(backend) != DEFAULT_BACKEND:
        model_slug += f"-{backend}"
    directory = workspace / SIMULATIONS_DIR / f"{name or default_name(source)}-{model_slug}"
    spec = {"pool": source.describe(), "test": test.describe(), "model": model_id}
    if backend != DEFAULT_BACKEND:  # torch caches keep the spec they were built with
        spec["backend"] = backend

    def encoder() -> Encoder:
        return Encoder(model, backend=backend, device=device)

    meta = _read_meta(directory)
    if meta is not None and meta["spec"] != spec:
        raise TextalError(
            f"{directory} caches other data ({meta['spec']['pool']}; test: "
            f"{meta['spec']['test']}); give another --name or delete that folder"
        )

    pool, unlabeled = source.read()
    if test.source is not None:
        test_records, _ = test.source.read()
    else:
        pool, test_records = stratified_split(pool, test.fraction or 0.0, test.split_seed)
    if not test_records:
        raise TextalError(f"the test set ({test.describe()}) is empty")

    loaded: Encoder | None = None
    if meta is None:
        loaded = encoder()
        dim = loaded.dim
        directory.mkdir(parents=True, exist_ok=True)
        _write_meta(directory, {"spec": spec, "dim": dim})
    else:
        dim = int(meta["dim"])

    store = _open_pool_store(directory, store_kind, dim)
    try:
        known = store.existing_ids([r.id for r in pool])
        missing = [r for r in pool if r.id not in known]
        if missing:
            loaded = loaded or encoder()
            ingest_records(missing, loaded, store, total=len(missing))
        if store.count() != len(pool):
            raise TextalError(
                f"{directory}: the pool store holds {store.count()} items but the data has "
                f"{len(pool)}; the data changed since the cache was built: delete that folder"
            )
        test_vectors, test_labels = _test_set(directory, test_records, loaded or encoder)
    except BaseException:
        store.close()
        raise
    oracle = {r.id: str(r.gold) for r in pool}
    classes = sorted(set(oracle.values()) | set(test_labels.tolist()))
    counts = {"pool": len(pool), "test": len(test_records), "pool_rows_without_label": unlabeled}
    names = None
    if source.multi_label:
        names = sorted({name for cell in classes for name in parse_label_set(cell)})
        classes = names
    class_vectors = _class_vectors(directory, classes, loaded or encoder)
    return SimulationData(
        directory,
        model_id,
        store,
        oracle,
        test_vectors,
        test_labels,
        classes,
        counts,
        names,
        class_vectors,
    )


def _class_vectors(
    directory: Path, classes: list[str], encoder: Encoder | Callable[[], Encoder]
) -> dict[str, np.ndarray]:
    """Each class's embedded name (:func:`textal.strategy.probes.probe_text`), the name probes
    of a simulated workspace that declared every class; cached in :data:`CLASS_VECTORS` with the
    texts they embed, so a cached dataset needs no model."""
    texts = [probe_text(c) for c in classes]
    cached = directory / CLASS_VECTORS
    names = cached.with_suffix(".json")
    if cached.exists() and names.exists() and json.loads(names.read_text()) == texts:
        vectors = np.load(cached)
    else:
        encoder = encoder if isinstance(encoder, Encoder) else encoder()
        vectors = encoder.encode(texts)
        with atomic_write(cached, "wb") as f:
            np.save(f, vectors)
        with atomic_write(names) as f:  # last: it says which texts the vectors embed
            f.write(json.dumps(texts))
    return dict(zip(classes, vectors, strict=True))


def _open_pool_store(directory: Path, store_kind: str, dim: int) -> VectorStore:
    if store_kind == "memory":
        return open_store(f"memory:{directory / MEMORY_STORE_DIR}", dim)
    return open_store(str(directory / LITE_FILE), dim, collection=LITE_COLLECTION)


def _test_set(
    directory: Path, records: list[Record], encoder: Encoder | Callable[[], Encoder]
) -> tuple[np.ndarray, np.ndarray]:
    """Test vectors (m, d) float32 and labels (m,), from the cache when it holds these ids."""
    ids = [r.id for r in records]
    labels = np.array([str(r.gold) for r in records], dtype=str)
    items_path, vectors_path = directory / TEST_ITEMS, directory / TEST_VECTORS
    if items_path.exists() and vectors_path.exists():
        cached = json.loads(items_path.read_text(encoding="utf-8"))
        if cached["ids"] == ids:
            return np.load(vectors_path, allow_pickle=False), labels
    encoder = encoder if isinstance(encoder, Encoder) else encoder()
    vectors = np.empty((len(records), encoder.dim), dtype=np.float32)
    bar = tqdm(
        total=len(records), desc="embedding test set", unit="item", disable=None, file=sys.stderr
    )
    with bar:
        for start in range(0, len(records), _ENCODE_BATCH):
            batch = records[start : start + _ENCODE_BATCH]
            vectors[start : start + len(batch)] = encoder.encode([r.text for r in batch])
            bar.update(len(batch))
    with atomic_write(vectors_path, "wb") as f:
        np.save(f, vectors, allow_pickle=False)
    with atomic_write(items_path) as f:
        f.write(json.dumps({"ids": ids}))
    return vectors, labels


def _read_meta(directory: Path) -> dict | None:
    path = directory / META_FILE
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise TextalError(f"{path}: not a textal simulation cache ({e})") from e


def _write_meta(directory: Path, meta: dict) -> None:
    with atomic_write(directory / META_FILE) as f:
        f.write(json.dumps(meta, indent=2))
