"""Label imports at the same time as each other and as rounds: nothing lost, nothing torn.

How the processes share a workspace depends on the store, so each case runs where it can:

* A Milvus server (here ``milvus-lite server`` on loopback) takes any number of processes: two
  ``textal label`` processes and a ``textal round`` run at once against one workspace, and only
  SQLite's locking (one ``BEGIN IMMEDIATE`` transaction per write) orders them.
* Milvus Lite and the memory store (``memory:DIR``) hold an exclusive lock on their files, so a
  second *process* is refused with a clear message and must re-run; two threads of one process
  can share a Milvus Lite workspace through separate ``Workspace`` objects (one ledger connection
  each), which is how the thread case runs.
* The round's snapshot is also tested deterministically: another connection imports labels at
  every store call the round makes, the worst interleaving there is.
* Files that commands rewrite (the config when labels are learned, a batch when a round is
  re-exported, an export) are written by two threads at once: each must come out whole.
"""

from __future__ import annotations

import csv
import json
import subprocess
import threading
import uuid
from collections import Counter
from pathlib import Path

import pytest

from tests.hardening import (
    STORES,
    build_workspace,
    check_round_snapshot,
    child_env,
    gold_of,
    real_pool,
    run_cli,
    stored_ids,
    textal_command,
    write_label_file,
)
from textal.embed.encoder import DEFAULT_MODEL
from textal.ledger import Ledger, NewLabel
from textal.workspace import Workspace
from textal.workspace.batch_files import write_atomic_rows
from textal.workspace.config import WorkspaceConfig, read_config, write_config
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # several processes and real stores at once

YELP_EMBEDDED = "uci_sentiment_labelled/yelp.csv"
POOL = 200
STORE_CALLS = ("count", "existing_ids", "get", "get_vectors", "search", "iterate")


@pytest.fixture(scope="module")
def pool(embedded_dataset):
    return real_pool(embedded_dataset(YELP_EMBEDDED), POOL)


def _flip(label: str) -> str:
    return "positive" if label == "negative" else "negative"


def _two_overlapping_files(root: Path, folder: Path) -> tuple[Path, Path, dict, dict]:
    """File A labels items 0-39 with their gold label; file B labels items 20-59, contradicting
    A on 20-39. Ten other items are labeled already, so rounds train a model."""
    with Workspace.open(root, create=False) as ws:
        ids = sorted(stored_ids(ws))
        gold = gold_of(ws, ids[:60] + ids[100:110])
        ws.add_labels([(i, gold[i]) for i in ids[100:110]], annotator="earlier")
    a = {i: gold[i] for i in ids[:40]}
    b = {i: (_flip(gold[i]) if i in a else gold[i]) for i in ids[20:60]}
    return write_label_file(folder / "a.csv", a), write_label_file(folder / "b.csv", b), a, b


def _check_both_imported_once(root: Path, a: dict, b: dict) -> None:
    """Each file's rows are in the history exactly once; the later event decides a conflict."""
    with Workspace.open(root, create=False) as ws:
        events = [e for e in ws.ledger.history() if e.source in ("file:a.csv", "file:b.csv")]
        current = ws.ledger.current_labels()
        for record in ws.ledger.rounds():
            check_round_snapshot(ws.ledger, record)
    per_file = Counter((e.source, e.item_id, e.label) for e in events)
    expected = {("file:a.csv", i, label): 1 for i, label in a.items()}
    expected |= {("file:b.csv", i, label): 1 for i, label in b.items()}
    assert per_file == expected
    last = {e.item_id: e.label for e in events}  # events are in seq order
    assert {i: current[i] for i in a | b} == last


@pytest.mark.server
def test_two_imports_and_a_round_in_three_processes(pool, lite_server, tmp_path):
    collection = f"t_{uuid.uuid4().hex[:12]}"
    root = build_workspace(tmp_path / "ws", lite_server.uri, *pool, collection=collection)
    file_a, file_b, a, b = _two_overlapping_files(root, tmp_path)
    commands = [
        textal_command("label", "--workspace", root, file_a),
        textal_command("label", "--workspace", root, file_b),
        textal_command("round", "--workspace", root, "--batch-size", "5"),
    ]
    procs = [
        subprocess.Popen(c, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for c in commands
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
    _check_both_imported_once(root, a, b)


def test_two_imports_in_threads_sharing_milvus_lite(pool, tmp_path):
    root = build_workspace(tmp_path / "ws", STORES["lite"], *pool)
    file_a, file_b, a, b = _two_overlapping_files(root, tmp_path)
    # Each thread opens its own Workspace (a ledger connection belongs to its thread), one after
    # the other: milvus-lite 3.2's server manager fails a thread that opens a directory while
    # another thread is still starting the server for it (reported).
    opening = threading.Lock()
    start = threading.Barrier(2, timeout=60)
    errors: list[BaseException] = []

    def label(path: Path) -> None:
        try:
            with opening:
                ws = Workspace.open(root, create=False)
            with ws:
                start.wait()
                ws.import_labels(path, annotator=path.stem)
        except BaseException as exc:
            start.abort()
            errors.append(exc)

    threads = [threading.Thread(target=label, args=(p,)) for p in (file_a, file_b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    _check_both_imported_once(root, a, b)


def test_a_second_process_on_a_memory_store_is_refused_cleanly(pool, capsys, tmp_path):
    root = build_workspace(tmp_path / "ws", STORES["memory"], *pool)
    file_a, file_b, a, b = _two_overlapping_files(root, tmp_path)
    files = (file_a, file_b)
    procs = [
        subprocess.Popen(
            textal_command("label", "--workspace", root, path),
            env=child_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for path in files
    ]
    for path, proc in zip(files, procs, strict=True):
        _, err = proc.communicate(timeout=300)
        if proc.returncode == 0:
            continue
        assert proc.returncode == 2 and err.count("\n") == 1, err[-2000:]
        assert err.startswith("error: memory store") and "is locked" in err
        assert run_cli(capsys, "label", "--workspace", root, path)[0] == 0  # the re-run
    _check_both_imported_once(root, a, b)


@pytest.mark.parametrize("store", list(STORES))
def test_round_trains_on_one_snapshot_while_labels_arrive(pool, tmp_path, monkeypatch, store):
    root = build_workspace(tmp_path / "ws", STORES[store], *pool)
    with Workspace.open(root, create=False) as ws, Ledger(root / LEDGER_NAME) as other:
        incoming = iter(gold_of(ws, sorted(stored_ids(ws))).items())

        def import_one() -> None:  # another annotator's import, committed on its own connection
            item_id, label = next(incoming)
            other.add_labels([NewLabel(item_id, label)], annotator="other", source="file:o.csv")

        for name in STORE_CALLS:
            monkeypatch.setattr(ws.store, name, _interleaved(import_one, getattr(ws.store, name)))
        for _ in range(3):
            ws.round(batch_size=5)
        assert len(ws.ledger.rounds()) == 3
        for record in ws.ledger.rounds():
            check_round_snapshot(ws.ledger, record)


def _interleaved(hook, method):
    """``method`` that first lets ``hook`` run: a write landing between the round's reads."""

    def call(*args, **kwargs):
        hook()
        return method(*args, **kwargs)

    return call


def test_files_rewritten_by_two_writers_at_once_stay_whole(tmp_path):
    """Commands rewrite the config (new labels) and batch files (a reused round): two doing so at
    once must neither move each other's temporary file away nor mix their contents."""
    batch = tmp_path / "batches" / "round-1.csv"
    rows = {w: [{"id": f"{w}-{i}", "text": "a review " * 30} for i in range(100)] for w in "ab"}
    configs = {w: WorkspaceConfig(DEFAULT_MODEL, 384, labels=(w,)) for w in "ab"}
    errors: list[BaseException] = []

    def write(writer: str) -> None:
        try:
            for _ in range(30):
                write_atomic_rows(batch, ["id", "text"], rows[writer])
                write_config(tmp_path, configs[writer])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in "ab"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open(batch, encoding="utf-8", newline="") as f:
        assert list(csv.DictReader(f)) in (rows["a"], rows["b"])
    with open(batch.with_suffix(".jsonl"), encoding="utf-8") as f:
        assert [json.loads(line) for line in f] in (rows["a"], rows["b"])
    assert read_config(tmp_path) in configs.values()
