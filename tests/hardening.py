"""Helpers for the bad-input, crash, concurrency and untrusted-text tests (issue 6).

Workspaces are real: real reviews from ``../shared/data``, real all-MiniLM-L6-v2 vectors (embedded
by ingest, or read from the test embedding cache of ``tests/fixtures_data.py``), real stores.
"""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.realdata import DATA_DIR, require_data
from textal.cli import main
from textal.data.ids import content_id
from textal.embed.encoder import DEFAULT_MODEL
from textal.ledger import LABEL, LabelEvent, Ledger, RoundRecord, Selection, labels_digest
from textal.workspace import Workspace
from textal.workspace.config import (
    CONFIG_NAME,
    DEFAULT_COLLECTION,
    WorkspaceConfig,
    write_config,
)

REPO = Path(__file__).resolve().parents[1]
YELP = DATA_DIR / "uci_sentiment_labelled" / "yelp.csv"
STORES = {"memory": "memory", "lite": "milvus.db"}  # workspace store URIs: memory:DIR, Milvus Lite


def store_params() -> list[Any]:
    """``STORES`` as test parameters: Milvus Lite in the slow lane (opening it takes seconds)."""
    return ["memory", pytest.param("lite", marks=pytest.mark.slow)]


LABELS = ("negative", "positive")


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    """``textal ARGV`` in this process: ``(exit code, stdout, stderr)``."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def textal_command(*argv: object) -> list[str]:
    """The command line that runs ``textal ARGV`` in a new Python process."""
    return [sys.executable, "-m", "textal", *(str(a) for a in argv)]


def child_env() -> dict[str, str]:
    """The environment for textal child processes: this checkout first on the path."""
    return {**os.environ, "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}


def sigkill(proc: subprocess.Popen) -> bool:
    """``kill -9`` the process; ``True`` if it was still running (so the kill interrupted it)."""
    if proc.poll() is not None:
        return False
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def write_sample(path: Path, rows: int) -> Path:
    """The header and first ``rows`` reviews of Yelp (``text,label``), copied to ``path``."""
    require_data(YELP)
    with open(YELP, encoding="utf-8") as f:
        lines = f.readlines()[: rows + 1]
    path.write_text("".join(lines), encoding="utf-8")
    return path


def build_workspace(
    root: Path,
    store: str,
    texts: list[str],
    vectors: np.ndarray,
    gold: list[str],
    collection: str = DEFAULT_COLLECTION,
) -> Path:
    """A workspace holding ``texts`` with their precomputed (real) vectors and gold labels.

    Written without loading the model: the config names the default model and its dimension.
    """
    config = WorkspaceConfig(
        DEFAULT_MODEL, vectors.shape[1], store, collection, labels=tuple(sorted(set(gold)))
    )
    write_config(root, config)
    ids = [content_id(t) for t in texts]
    with Workspace.open(root, create=False) as ws:
        for start in range(0, len(ids), 2048):
            part = slice(start, start + 2048)
            ws.store.add(ids[part], vectors[part], texts[part], [{"gold": g} for g in gold[part]])
    return root


def real_pool(
    dataset: tuple[list[str], np.ndarray, np.ndarray], size: int
) -> tuple[list[str], np.ndarray, list[str]]:
    """The first ``size`` reviews of an embedded dataset with distinct ids: texts, vectors, gold."""
    texts, vectors, gold = dataset
    first: dict[str, int] = {}
    for row, text in enumerate(texts):
        first.setdefault(content_id(text), row)
    rows = sorted(first.values())[:size]
    return [texts[r] for r in rows], vectors[rows], [str(gold[r]) for r in rows]


def stored_ids(ws: Workspace) -> list[str]:
    """Every id the store yields when iterated, repeats included."""
    return [item_id for chunk in ws.store.iterate(1000) for item_id in chunk.ids]


def gold_of(ws: Workspace, ids: list[str]) -> dict[str, str]:
    """Each item's gold label, from the store's metadata."""
    return {item.id: item.metadata["gold"] for item in ws.store.get(ids)}


def write_label_file(path: Path, labels: dict[str, str]) -> Path:
    """An ``id,label`` CSV file of ``labels``."""
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([("id", "label"), *labels.items()])
    return path


@dataclass(frozen=True)
class State:
    """Everything a command could change in a workspace, for before/after comparisons."""

    config: bytes
    items: tuple[str, ...]
    count: int
    history: tuple[LabelEvent, ...]
    rounds: tuple[RoundRecord, ...]
    selections: tuple[tuple[Selection, ...], ...]
    batches: tuple[tuple[str, bytes], ...]


def state(root: Path) -> State:
    """The :class:`State` of the workspace at ``root``."""
    config = (root / CONFIG_NAME).read_bytes()
    batches = tuple(
        (p.name, p.read_bytes()) for p in sorted((root / "batches").glob("*")) if p.is_file()
    )
    with Workspace.open(root, create=False) as ws:
        rounds = tuple(ws.ledger.rounds())
        return State(
            config=config,
            items=tuple(sorted(stored_ids(ws))),
            count=ws.store.count(),
            history=tuple(ws.ledger.history()),
            rounds=rounds,
            selections=tuple(tuple(ws.ledger.selections(r.round)) for r in rounds),
            batches=batches,
        )


def labels_as_of(history: list[LabelEvent], last_seq: int) -> dict[str, str]:
    """``{item: label}`` from the events with ``seq <= last_seq``: what a round should train on."""
    current: dict[str, str | None] = {}
    for event in history:
        if event.seq <= last_seq:
            current[event.item_id] = event.label if event.kind == LABEL else None
    return {item: label for item, label in current.items() if label is not None}


def check_round_snapshot(ledger: Ledger, record: RoundRecord) -> None:
    """The round trained on exactly the labels of the events up to its ``last_seq``."""
    expected = labels_as_of(ledger.history(), record.last_seq)
    assert record.report.labeled == len(expected), (record.round, record.last_seq)
    assert record.report.label_counts == dict(Counter(expected.values())), record.round
    assert record.trained_on == labels_digest(expected), record.round
    assert not {s.item_id for s in ledger.selections(record.round)} & set(expected)


@contextlib.contextmanager
def mounted(*args: str) -> Iterator[None]:
    """``mount ARGS`` for the block (its last argument is the mount point); skips the test
    where mounting is not allowed."""
    proc = subprocess.run(["mount", *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount here ({proc.stderr.strip()}): needs root or CAP_SYS_ADMIN")
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", args[-1]], check=False)
