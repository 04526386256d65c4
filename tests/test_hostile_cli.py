"""Hostile paths, URIs and label files, through the real CLI (``python -m textal`` in a child
process), issue 16. Each refusal: exit code 2, exactly one ``error:`` line, no traceback, and
every file under the watched directories byte for byte what it was.

Workspaces are real: Yelp reviews with their real all-MiniLM-L6-v2 vectors (from the test
embedding cache) in a persisted memory store, a real SQLite ledger. Read-only and full-disk cases
mount a read-only bind mount or a small tmpfs (root only; skipped where ``mount`` is refused).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from tests.hardening import (
    build_workspace,
    child_env,
    mounted,
    real_pool,
    state,
    stored_ids,
    textal_command,
    write_label_file,
)
from textal.errors import TextalError
from textal.workspace import Workspace
from textal.workspace.config import CONFIG_NAME, read_config, write_config

POOL = 40
HEAVY = ("sklearn", "scipy", "torch", "sentence_transformers", "pymilvus", "pandas", "matplotlib")


# --- helpers ----------------------------------------------------------------------------------


def tree(*roots: Path) -> dict[str, str]:
    """Every entry under ``roots``: its kind and, for a file, a hash of its bytes. SQLite's
    shared-memory index (``-shm``) and an empty write-ahead log (``-wal``), which a connection
    that could not finish opening may leave, hold no data and are left out."""
    found: dict[str, str] = {}
    for root in roots:
        if not root.exists() and not root.is_symlink():
            found[str(root)] = "absent"
            continue
        for path in [root, *sorted(root.rglob("*"))] if root.is_dir() else [root]:
            mode = path.lstat().st_mode
            if path.name.endswith("-shm") or (
                path.name.endswith("-wal") and not path.stat().st_size
            ):
                continue
            if stat.S_ISREG(mode):
                found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif stat.S_ISLNK(mode):
                found[str(path)] = f"link -> {os.readlink(path)}"
            else:
                found[str(path)] = stat.filemode(mode)[0]
    return found


def textal(*argv: object, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        textal_command(*argv),
        env={**child_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def refused(
    argv: list[object], message: str, *watched: Path, env: dict[str, str] | None = None
) -> str:
    """Run ``textal ARGV``: exit 2, one ``error:`` line holding ``message``, ``watched``
    unchanged. Returns the error line."""
    before = tree(*watched)
    proc = textal(*argv, env=env)
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], proc.stderr
    assert len([line for line in lines if "error" in line]) == 1, proc.stderr
    assert message in lines[-1], lines[-1]
    assert tree(*watched) == before
    return lines[-1]


def accepted(argv: list[object], env: dict[str, str] | None = None) -> str:
    proc = textal(*argv, env=env)
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    return proc.stdout


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def template(embedded_dataset, tmp_path_factory) -> Path:
    """40 Yelp reviews in a memory store; 10 labeled by ana; label set negative, positive."""
    texts, vectors, gold = real_pool(embedded_dataset("uci_sentiment_labelled/yelp.csv"), POOL)
    root = build_workspace(
        tmp_path_factory.mktemp("hostile") / "ws", "memory", texts, vectors, gold
    )
    with Workspace.open(root, create=False) as ws:
        ids = sorted(stored_ids(ws))
        golds = {item.id: item.metadata["gold"] for item in ws.store.get(ids)}
        ws.add_labels([(i, golds[i]) for i in ids[:10]], annotator="ana")
    return root


@pytest.fixture
def ws(template, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(template, root)
    return root


def ids_and_gold(root: Path) -> tuple[list[str], dict[str, str]]:
    with Workspace.open(root, create=False) as ws:
        ids = sorted(stored_ids(ws))
        return ids, {item.id: item.metadata["gold"] for item in ws.store.get(ids)}


def flip(label: str) -> str:
    return "negative" if label == "positive" else "positive"


# --- output paths -----------------------------------------------------------------------------


def test_export_refuses_special_files(ws, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    fifo = out / "fifo.csv"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(out / "sock.csv"))
    try:
        refused(["export", "--workspace", ws, fifo], "is a named pipe (FIFO)", ws, out)
        refused(["export", "--workspace", ws, out / "sock.csv"], "is a socket", ws, out)
        refused(["export", "--workspace", ws, out], "is a directory", ws, out, tmp_path)
        with contextlib.suppress(PermissionError):  # a character device, as /dev/null is
            os.mknod(out / "null.csv", stat.S_IFCHR | 0o666, os.makedev(1, 3))
            refused(["export", "--workspace", ws, out / "null.csv"], "a character device", ws, out)
            assert stat.S_ISCHR((out / "null.csv").lstat().st_mode)
    finally:
        sock.close()
    assert not list(out.glob("*.jsonl")) and not list(tmp_path.glob("*.tmp"))


def test_export_never_writes_one_file_twice_or_half_of_a_pair(ws, tmp_path):
    jsonl = tmp_path / "out.jsonl"
    refused(["export", "--workspace", ws, jsonl], "name the .csv file", ws, tmp_path)
    (tmp_path / "pair.jsonl").mkdir()  # the JSONL half is unwritable: the CSV half is not written
    refused(["export", "--workspace", ws, tmp_path / "pair.csv"], "is a directory", ws, tmp_path)
    assert not (tmp_path / "pair.csv").exists()


def test_export_refuses_symbolic_links(ws, tmp_path):
    target = tmp_path / "real.csv"
    target.write_text("mine\n")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    refused(["export", "--workspace", ws, link], "is a symbolic link", ws, tmp_path)
    out = accepted(["export", "--workspace", ws, target])  # a regular file is replaced
    assert "wrote 10 rows" in out and target.read_text().startswith("id,text,label")


# --- workspaces and stores --------------------------------------------------------------------


def test_workspace_that_is_a_file(tmp_path, ws):
    path = tmp_path / "notes.txt"
    path.write_text("my notes\n")
    data = tmp_path / "data.csv"
    data.write_text("text\nfresh bread\n")
    simulate = ["simulate", "--data", data, "--test-fraction", "0.5"]
    for command in (["ingest", "--data", data], ["status"], ["init"], simulate):
        refused([*command, "--workspace", path], "is a file, not a directory", tmp_path)


@pytest.mark.parametrize(
    "case",
    ["missing file", "too-long row", "missing column", "bad uri", "bad labels", "bad scheme"],
)
def test_failed_ingest_into_a_new_workspace_creates_nothing(tmp_path, case):
    data = tmp_path / "data.csv"
    data.write_text("text\nfresh bread\n")
    options: list[object] = ["--data", data]
    if case == "missing file":
        options = ["--data", tmp_path / "absent.csv"]
    elif case == "too-long row":
        data.write_text("text\nfresh bread\n" + "x" * 70_000 + "\n")
    elif case == "missing column":
        options += ["--text-column", "review"]
    elif case == "bad uri":
        options += ["--milvus-uri", "http://[::1"]
    elif case == "bad scheme":
        options += ["--milvus-uri", "tcp://localhost:19530"]
    elif case == "bad labels":
        argv = ["init", "--workspace", tmp_path / "new", "--labels", "a,,b"]
        refused(argv, "label 2 of the label set is empty", tmp_path)
        return
    messages = {
        "missing file": "absent.csv",
        "too-long row": "row 3: field 'text' is 70,000 bytes long",
        "missing column": "no column 'review'",
        "bad uri": "is not a valid URL",
        "bad scheme": "tcp://... is not supported",
    }
    refused(["ingest", "--workspace", tmp_path / "new", *options], messages[case], tmp_path)
    empty = tmp_path / "empty"  # an existing empty directory stays empty
    empty.mkdir()
    refused(["ingest", "--workspace", empty, *options], messages[case], tmp_path)


def test_bad_server_uri_on_an_existing_workspace(ws):
    refused(["status", "--workspace", ws, "--milvus-uri", "http://[::1"], "Invalid IPv6 URL", ws)
    refused(["status", "--workspace", ws, "--milvus-uri", "http://:19530"], "names no host", ws)


def test_a_workspace_is_bound_to_its_store(ws, tmp_path):
    refused(["status", "--workspace", ws, "--milvus-uri", "o.db"], "--move-store", ws, tmp_path)
    refused(
        ["status", "--workspace", ws], "give --move-store", ws, env={"TEXTAL_MILVUS_URI": "x.db"}
    )
    # The store it recorded, however spelled, opens as before: by option or environment.
    assert "items       40" in accepted(["status", "--workspace", ws, "--store", "memory"])
    assert "items       40" in accepted(
        ["status", "--workspace", ws], env={"TEXTAL_MILVUS_URI": "memory"}
    )
    lite = tmp_path / "moved" / "milvus.db"
    out = accepted(["status", "--workspace", ws, "--milvus-uri", lite, "--move-store"])
    assert "items       0" in out
    assert read_config(ws).store_uri == str(lite)


@pytest.mark.server
def test_a_server_uri_from_the_environment(embedded_dataset, lite_server, tmp_path):
    pool = real_pool(embedded_dataset("uci_sentiment_labelled/yelp.csv"), POOL)
    collection = f"t_{uuid.uuid4().hex[:12]}"
    root = build_workspace(tmp_path / "ws", lite_server.uri, *pool, collection=collection)
    same = {"TEXTAL_MILVUS_URI": lite_server.uri + "/"}  # spelled differently, the same server
    assert "items       40" in accepted(["status", "--workspace", root], env=same)
    other = {"TEXTAL_MILVUS_URI": lite_server.uri.rsplit(":", 1)[0] + ":1"}
    refused(["status", "--workspace", root], "give --move-store", root, env=other)


def test_a_memory_workspace_refuses_another_store_kind(ws, tmp_path):
    config = read_config(ws)
    assert config is not None
    write_config(ws, replace(config, store_uri="milvus.db"))
    refused(["status", "--workspace", ws, "--store", "memory"], "bound to store", ws)
    refused(["status", "--workspace", ws, "--collection", "other"], "(collection other)", ws)


# --- read-only workspaces and full disks ------------------------------------------------------


def test_read_only_workspace(ws, tmp_path):
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    with mounted("--bind", "-o", "ro", str(ws), str(frozen)):
        if os.access(frozen, os.W_OK):
            pytest.skip("the bind mount is not read-only here")
        before = tree(frozen)
        out = accepted(["status", "--workspace", frozen])
        assert "items       40" in out and "labeled     10" in out
        export = tmp_path / "export" / "labels.csv"
        assert "wrote 10 rows" in accepted(["export", "--workspace", frozen, export])
        ids, gold = ids_and_gold(ws)
        labels = write_label_file(tmp_path / "l.csv", {ids[20]: gold[ids[20]]})
        line = refused(["label", "--workspace", frozen, labels], "read-only file system", frozen)
        assert "nothing was changed" in line
        refused(["round", "--workspace", frozen], "read-only file system", frozen)
        refused(["init", "--workspace", frozen / "sub"], "read-only file system", frozen)
        assert tree(frozen) == before


def test_read_only_milvus_lite_workspace(embedded_dataset, tmp_path):
    pool = real_pool(embedded_dataset("uci_sentiment_labelled/yelp.csv"), POOL)
    root = build_workspace(tmp_path / "ws", "milvus.db", *pool)
    frozen = tmp_path / "frozen"
    frozen.mkdir()
    with mounted("--bind", "-o", "ro", str(root), str(frozen)):
        refused(["status", "--workspace", frozen], "Milvus Lite writes to its directory", frozen)
        refused(["round", "--workspace", frozen], "copy it somewhere writable", frozen)


def test_full_disk(template, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=2m", "tmpfs", str(disk)):
        root = disk / "ws"
        shutil.copytree(template, root)
        ids, gold = ids_and_gold(root)
        labels = write_label_file(tmp_path / "l.csv", {i: flip(gold[i]) for i in ids[:30]})
        before = state(root)
        with contextlib.suppress(OSError), open(disk / "filler", "wb") as f:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
        line = refused(["label", "--workspace", root, labels], "no space left", root)
        assert "nothing" in line and ("was changed" in line or "was lost" in line), line
        refused(["export", "--workspace", root, disk / "out.csv"], "no space left", root)
        assert not (disk / "out.csv").exists() and not list(disk.glob(".*.tmp"))
        with open(disk / "filler", "r+b") as f:  # room for the checks, not for the files
            f.truncate(f.seek(0, os.SEEK_END) - 4096)
        argv = ["export", "--workspace", root, disk / "p.csv", "--predictions"]
        refused(argv, "no space left", root, tmp_path / "o.csv")
        assert not (disk / "p.csv").exists() and not list(disk.glob(".*.tmp"))
        assert "labeled     10" in accepted(["status", "--workspace", root])
        assert "wrote 10 rows" in accepted(["export", "--workspace", root, tmp_path / "o.csv"])
        (disk / "filler").unlink()
        assert state(root) == before


# --- label files and label sets ---------------------------------------------------------------


def test_label_file_giving_one_id_two_labels(ws, tmp_path):
    ids, _ = ids_and_gold(ws)
    path = tmp_path / "l.csv"
    path.write_text(
        f"id,label\n{ids[20]},positive\n{ids[21]},negative\n{ids[20]},negative\n", encoding="utf-8"
    )
    refused(["label", "--workspace", ws, path], "rows 2 and 4 give id", ws)
    same = write_label_file(tmp_path / "same.csv", {ids[20]: "positive"})
    with open(same, "a", newline="") as f:
        csv.writer(f).writerow([ids[20], "positive"])
    assert "1 labels recorded, 1 unchanged" in accepted(["label", "--workspace", ws, same])


def test_api_refuses_one_id_two_labels(ws):
    ids, _ = ids_and_gold(ws)
    with Workspace.open(ws, create=False) as w:
        history = w.ledger.history()
        with pytest.raises(TextalError, match=r"api: id '.+' is given two labels"):
            w.add_labels([(ids[20], "positive"), (ids[21], "negative"), (ids[20], "negative")])
        assert w.ledger.history() == history


def test_import_says_whose_labels_it_changes(ws, tmp_path):
    ids, gold = ids_and_gold(ws)
    changes = {i: flip(gold[i]) for i in ids[:3]} | {i: gold[i] for i in ids[3:5]}
    path = write_label_file(tmp_path / "l.csv", changes | {ids[30]: gold[ids[30]]})
    out = accepted(["label", "--workspace", ws, path, "--annotator", "bob"])
    assert "4 labels recorded, 2 unchanged" in out
    assert "changed 3 existing labels: 3 by ana" in out


@pytest.mark.parametrize(
    ("labels", "message"),
    [("", "label 1 of the label set is empty"), ("a,a", "label 'a' is given twice"), (",", "")],
)
def test_bad_label_sets_refused(ws, labels, message):
    refused(["init", "--workspace", ws, "--labels", labels], message, ws)


def test_label_set_changes_are_shown(ws):
    proc = textal("init", "--workspace", ws, "--labels", "Positive")
    assert proc.returncode == 0, proc.stderr
    assert "label set: negative, positive, Positive" in proc.stdout
    assert "'positive' and 'Positive' differ only in case" in proc.stderr
    assert "label set" not in accepted(["init", "--workspace", ws, "--labels", "positive"])


def test_first_label_file_fixes_the_label_set(ws, tmp_path):
    config = read_config(ws)
    assert config is not None
    write_config(ws, replace(config, labels=()))
    ids, _ = ids_and_gold(ws)
    path = write_label_file(tmp_path / "l.csv", {ids[30]: "positive", ids[31]: "negative"})
    out = accepted(["label", "--workspace", ws, path])
    assert "label set (fixed by this first label file): negative, positive" in out
    assert (ws / CONFIG_NAME).read_text().count('"negative", "positive"') == 1


# --- rounds -----------------------------------------------------------------------------------


def test_round_with_nothing_left_to_label(ws):
    ids, gold = ids_and_gold(ws)
    with Workspace.open(ws, create=False) as w:
        w.add_labels([(i, gold[i]) for i in ids[:-2]], annotator="ana")
        w.mark(ids[-1], "ambiguous", annotator="ana", source="test")
        w.mark(ids[-2], "ambiguous", annotator="ana", source="test")
    refused(["round", "--workspace", ws], "nothing left to label", ws)


# --- speed: what a command imports and loads --------------------------------------------------


def imported(proc: subprocess.CompletedProcess[str]) -> set[str]:
    """Top-level packages imported, from ``python -X importtime`` output."""
    names = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            names.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return names


def test_help_imports_nothing_heavy():
    proc = subprocess.run(
        [*textal_command("--help")[:1], "-X", "importtime", *textal_command("--help")[1:]],
        env=child_env(),
        capture_output=True,
        text=True,
        check=True,
    )
    assert not imported(proc) & {*HEAVY, "textal.simulate"}, imported(proc) & set(HEAVY)
    assert not [line for line in proc.stderr.splitlines() if "textal.simulate.dataset" in line]


def test_noop_reingest_loads_no_model(ws, tmp_path):
    with Workspace.open(ws, create=False) as w:
        texts = [item.text for item in w.store.get(sorted(stored_ids(w)))]
    data = tmp_path / "same.csv"
    with open(data, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["text"], *[[t] for t in texts]])
    argv = textal_command("ingest", "--workspace", ws, "--data", data)
    proc = subprocess.run(
        [argv[0], "-X", "importtime", *argv[1:]], env=child_env(), capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "0 added, 40 already stored" in proc.stdout
    assert not imported(proc) & {"torch", "sentence_transformers", "sklearn"}


def test_unknown_model_offline_fails_fast(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("text\nfresh bread\n")
    argv = ["ingest", "--workspace", tmp_path / "new", "--data", data, "--model", "no/such-model"]
    refused(argv, "HF_HUB_OFFLINE is set", tmp_path, env={"HF_HUB_OFFLINE": "1"})
