"""``kill -9`` during ingest, label import and round, at random (seeded) points, several times.

Every command runs as a real process on real files; the test kills it with SIGKILL, then checks
that the ledger opens, that nothing is lost, torn or stored twice, and that re-running the same
command finishes the job exactly once. Both persisted stores run: Milvus Lite and ``memory:DIR``
(whose torn-tail recovery on opening is what a kill during a write exercises).

Where the kill lands:

* ingest: after the process reports (on its progress bar, drawn on a pseudo-terminal) that it
  stored a new batch, plus a random delay, so most kills hit a half-done ingest. The children
  embed 16 texts per call instead of 1024, so that a few hundred real reviews make many batches
  (the only change to the product, made through ``ingest_records``' keyword default);
* label and round: either after a random delay, or the moment the ledger's write-ahead log starts
  to grow, i.e. inside or just after the one transaction that records the labels or the round
  (for a round, before its batch files are written).
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import pty
import random
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from tests.hardening import (
    STORES,
    build_workspace,
    check_round_snapshot,
    child_env,
    gold_of,
    real_pool,
    run_cli,
    sigkill,
    stored_ids,
    textal_command,
    write_label_file,
    write_sample,
)
from tests.realdata import AMAZON, require_data
from textal.data.ids import content_id
from textal.data.readers import read_records
from textal.ledger import Ledger
from textal.textsafe import undo_spreadsheet_safe
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # processes are killed at many points

SEED = 20_061  # every random kill point derives from it: a failure can be replayed
REPEATS = 4  # kills per test of label and round
INGEST_REPEATS = 3  # each ingest child loads the model: seconds
INGEST_ROWS = 200
ENCODE_BATCH = 16
ROUND_SIZE = 20
TREC = "trec/train.csv"
STARTUP_TIMEOUT = 180.0

# ``textal ARGV[2:]`` with ingest embedding ARGV[1] texts per call.
INGEST_WITH_SMALL_BATCHES = (
    "import sys, textal.ingest as ingest; "
    "ingest.ingest_records.__kwdefaults__['batch_size'] = int(sys.argv[1]); "
    "from textal.cli import main; sys.exit(main(sys.argv[2:]))"
)
STORING_BAR = re.compile(rb"storing:\s+\d+%\|[^|]*\|\s*(\d+)/\d+")


class OnTerminal:
    """A child whose stderr is a pseudo-terminal, so that it draws its progress bars."""

    def __init__(self, argv: list[str]):
        master, child_side = pty.openpty()
        # A window size: on a terminal 0 columns wide the bars would be drawn empty.
        fcntl.ioctl(child_side, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 160, 0, 0))
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=child_side,
            env=child_env(),
        )  # fmt: skip
        os.close(child_side)
        self.output = b""
        self._reader = threading.Thread(target=self._read, args=(master,), daemon=True)
        self._reader.start()

    def _read(self, master: int) -> None:
        try:
            while chunk := os.read(master, 1 << 16):
                self.output += chunk
        except OSError:  # EIO: the child and its terminal are gone
            pass
        finally:
            os.close(master)

    def stored(self) -> int:
        """The last count the "storing" bar showed (items already stored count as stored)."""
        counts = STORING_BAR.findall(self.output)
        return int(counts[-1]) if counts else 0

    def finish(self) -> None:
        self._reader.join(timeout=30)


def wait_for(condition, proc: subprocess.Popen, poll: float = 0.01) -> None:
    """Until ``condition()`` holds or ``proc`` exits; a child that fails fails the test."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while not condition() and proc.poll() is None:
        if time.monotonic() > deadline:
            sigkill(proc)
            raise AssertionError("the child made no progress")
        time.sleep(poll)
    if proc.poll() not in (None, 0):
        errors = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
        raise AssertionError(f"the child failed with exit code {proc.returncode}: {errors}")


def wal_size(root: Path) -> int:
    try:
        return (root / f"{LEDGER_NAME}-wal").stat().st_size
    except FileNotFoundError:  # not there yet, or checkpointed and removed
        return 0


def kill_at_random_point(proc: subprocess.Popen, root: Path, rng: random.Random) -> str:
    """SIGKILL after a random delay, or as soon as the ledger's WAL grows; says which."""
    if rng.random() < 0.5:
        delay = rng.uniform(0.3, 3.0)
        time.sleep(delay)
        where = f"after {delay:.2f} s"
    else:
        before = wal_size(root)
        wait_for(lambda: wal_size(root) > before, proc, poll=0.001)
        delay = rng.uniform(0.0, 0.02)
        time.sleep(delay)
        where = f"{delay * 1000:.0f} ms into the ledger write"
    killed = sigkill(proc)
    proc.stderr.close()
    return where + (", killed" if killed else ", after it had finished")


# --- ingest ----------------------------------------------------------------------------------


def check_ingested(root: Path, source_ids: set[str]) -> int:
    """The ledger opens; every stored item is whole, known and stored once. Returns the count."""
    Ledger(root / LEDGER_NAME).close()
    with Workspace.open(root, create=False) as ws:
        ids = stored_ids(ws)
        assert len(ids) == len(set(ids)) == ws.store.count(), "an item is stored twice"
        assert set(ids) <= source_ids
        assert all(content_id(item.text) == item.id for item in ws.store.get(ids))
        norms = np.linalg.norm(ws.store.get_vectors(ids), axis=1)
        assert np.allclose(norms, 1.0, atol=1e-3), "a torn vector"
    return len(ids)


@pytest.mark.parametrize("store", list(STORES))
def test_kill_during_ingest(store, tmp_path, capsys):
    require_data(AMAZON)
    source = write_sample(tmp_path / "reviews.csv", INGEST_ROWS)
    source_ids = {r.id for r in read_records(source)}
    root = tmp_path / "ws"
    store_option = ["--store", "memory"] if store == "memory" else []
    command = ["ingest", "--workspace", str(root), "--data", str(source), *store_option]
    small_batches = [sys.executable, "-c", INGEST_WITH_SMALL_BATCHES, str(ENCODE_BATCH)]
    rng = random.Random(f"{SEED}-ingest-{store}")
    stored, kills = 0, []
    for _ in range(INGEST_REPEATS):
        child = OnTerminal(small_batches + command)
        target = stored + ENCODE_BATCH * rng.randint(1, 3)  # 1-3 batches stored by this child
        wait_for(lambda child=child, target=target: child.stored() >= target, child.proc)
        time.sleep(rng.uniform(0.0, 0.2))
        killed = sigkill(child.proc)
        child.finish()
        stored = check_ingested(root, source_ids)
        kills.append((killed, stored))
    code, out, err = run_cli(capsys, *command)  # the re-run, in this process
    assert code == 0, err
    assert check_ingested(root, source_ids) == len(source_ids), kills
    assert f"{len(source_ids) - stored} added, {stored} already stored" in out, kills
    assert any(killed and 0 < n < len(source_ids) for killed, n in kills), kills


# --- label import and round: a workspace of 5,400 TREC questions -------------------------------


@pytest.fixture(scope="module")
def trec_templates(embedded_dataset, tmp_path_factory) -> dict[str, Path]:
    pool = real_pool(embedded_dataset(TREC), 10_000)
    return {
        kind: build_workspace(tmp_path_factory.mktemp(f"crash-{kind}") / "ws", uri, *pool)
        for kind, uri in STORES.items()
    }


@pytest.fixture(params=list(STORES))
def trec_workspace(request, trec_templates, tmp_path) -> tuple[str, Path, dict[str, str]]:
    """A copy of the TREC workspace for each store: (store, root, every item's gold label)."""
    root = tmp_path / "ws"
    shutil.copytree(trec_templates[request.param], root)
    with Workspace.open(root, create=False) as ws:
        return request.param, root, gold_of(ws, sorted(stored_ids(ws)))


def events_per_source(root: Path) -> Counter[str]:
    with Ledger(root / LEDGER_NAME) as ledger:
        return Counter(event.source for event in ledger.history())


def test_kill_during_label_import(trec_workspace, tmp_path, capsys):
    store, root, gold = trec_workspace
    classes = sorted(set(gold.values()))
    rng = random.Random(f"{SEED}-label-{store}")
    expected: Counter[str] = Counter()
    for k in range(REPEATS):
        # File k moves every item k classes on from its gold label: each row is a new event.
        labels = {i: classes[(classes.index(g) + k) % len(classes)] for i, g in gold.items()}
        path = write_label_file(tmp_path / f"labels-{k}.csv", labels)
        source = f"file:{path.name}"
        proc = subprocess.Popen(
            textal_command("label", "--workspace", root, path),
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        where = kill_at_random_point(proc, root, rng)
        counts = events_per_source(root)
        assert counts[source] in (0, len(labels)), f"half applied: {counts[source]} ({where})"
        assert counts - Counter({source: counts[source]}) == expected, where  # nothing lost
        code, out, err = run_cli(capsys, "label", "--workspace", root, path)
        assert code == 0, err
        recorded = len(labels) - counts[source]
        assert f"{recorded} labels recorded, {len(labels) - recorded} unchanged" in out, where
        expected[source] = len(labels)
        assert events_per_source(root) == expected, where
        with Ledger(root / LEDGER_NAME) as ledger:
            assert ledger.current_labels() == labels


def check_rounds(root: Path) -> int:
    """The ledger opens and holds whole rounds; batch files are whole (or absent for the last
    round, when the kill came before they were written). Returns the number of rounds."""
    with Ledger(root / LEDGER_NAME) as ledger:
        rounds = ledger.rounds()
        assert [r.round for r in rounds] == list(range(1, len(rounds) + 1))
        for record in rounds:
            selected = [s.item_id for s in ledger.selections(record.round)]
            assert len(selected) == len(set(selected)) == record.params.batch_size
            assert [s.rank for s in ledger.selections(record.round)] == list(
                range(1, record.params.batch_size + 1)
            )
            check_round_snapshot(ledger, record)
            check_batch_files(root, record.round, selected, last=record == rounds[-1])
    return len(rounds)


def check_batch_files(root: Path, number: int, selected: list[str], *, last: bool) -> None:
    csv_path = root / "batches" / f"round-{number}.csv"
    jsonl_path = csv_path.with_suffix(".jsonl")
    for path in (csv_path, jsonl_path):
        assert path.exists() or last, f"{path.name} is missing"
    if csv_path.exists():
        with open(csv_path, encoding="utf-8", newline="") as f:
            assert [undo_spreadsheet_safe(r["id"]) for r in csv.DictReader(f)] == selected
    if jsonl_path.exists():
        with open(jsonl_path, encoding="utf-8") as f:
            assert [json.loads(line)["id"] for line in f] == selected


def test_kill_during_round(trec_workspace, capsys):
    store, root, gold = trec_workspace
    ids = sorted(gold)
    rng = random.Random(f"{SEED}-round-{store}")
    for k in range(REPEATS):
        with Workspace.open(root, create=False) as ws:  # new labels: the next round is a new one
            new = ids[:60] if k == 0 else ids[50 + 10 * k : 60 + 10 * k]
            ws.add_labels([(i, gold[i]) for i in new], annotator="ana")
        before = check_rounds(root)
        proc = subprocess.Popen(
            textal_command("round", "--workspace", root, "--batch-size", ROUND_SIZE),
            env=child_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        where = kill_at_random_point(proc, root, rng)
        after_kill = check_rounds(root)
        assert after_kill in (before, before + 1), where
        code, out, err = run_cli(capsys, "round", "--workspace", root, "--batch-size", ROUND_SIZE)
        assert code == 0, err
        assert ("still open" in out) == (after_kill == before + 1), (where, out)
        assert check_rounds(root) == before + 1, where
        assert (root / "batches" / f"round-{before + 1}.csv").exists()
