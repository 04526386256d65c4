"""The ledger's file format: versions migrate forward in order and atomically, and a file textal
must not touch (not SQLite, another application's database, a newer schema, a damaged ledger) is
refused through every entry point with one clear line and left byte for byte as it was.
(``test_ledger.py`` covers the refusals at the ``Ledger`` level.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.hardening import run_cli
from textal.ledger import Ledger, NewLabel, migrations
from textal.workspace.config import CONFIG_NAME, WorkspaceConfig, write_config
from textal.workspace.workspace import LEDGER_NAME


def _current_ledger(path: Path) -> Path:
    """A ledger at the current schema holding two annotators' labels."""
    with Ledger(path) as ledger:
        ledger.add_labels([NewLabel("a", "pos"), NewLabel("b", "neg")], annotator="ana", source="t")
        ledger.add_labels([NewLabel("a", "neg")], annotator="bo", source="t")
    return path


def _pragma(path: Path, name: str) -> int:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def _tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    finally:
        conn.close()


def test_migrations_run_forward_in_order(tmp_path, monkeypatch):
    path = _current_ledger(tmp_path / "ledger.sqlite")
    now = migrations.SCHEMA_VERSION
    assert _pragma(path, "user_version") == now
    # Two future versions; the second needs the first's table, so order matters.
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", now + 2)
    monkeypatch.setattr(
        migrations,
        "MIGRATIONS",
        {
            **migrations.MIGRATIONS,
            now + 1: "INSERT INTO people SELECT DISTINCT annotator FROM label_events",
            now: "CREATE TABLE people (name TEXT PRIMARY KEY)",
        },
    )
    with Ledger(path) as ledger:
        assert ledger.current_labels() == {"a": "neg", "b": "neg"}
        assert len(ledger.history()) == 3
    assert _pragma(path, "user_version") == now + 2
    assert _pragma(path, "application_id") == migrations.APPLICATION_ID
    conn = sqlite3.connect(path)
    assert sorted(r[0] for r in conn.execute("SELECT name FROM people")) == ["ana", "bo"]
    conn.close()
    with Ledger(path):  # at the newest version nothing runs again
        pass
    assert _pragma(path, "user_version") == now + 2


def test_a_failing_migration_changes_nothing(tmp_path, monkeypatch):
    path = _current_ledger(tmp_path / "ledger.sqlite")
    now = migrations.SCHEMA_VERSION
    monkeypatch.setattr(migrations, "SCHEMA_VERSION", now + 1)
    monkeypatch.setattr(
        migrations,
        "MIGRATIONS",
        {now: "CREATE TABLE half (x); INSERT INTO nowhere VALUES (1)"},
    )
    with pytest.raises(sqlite3.OperationalError, match="nowhere"):
        Ledger(path)
    assert _pragma(path, "user_version") == now
    assert "half" not in _tables(path)
    monkeypatch.undo()
    with Ledger(path) as ledger:
        assert ledger.current_labels() == {"a": "neg", "b": "neg"}


def _newer_schema(path: Path) -> None:
    _current_ledger(path)
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {migrations.SCHEMA_VERSION + 1}")
    conn.commit()
    conn.close()


def _other_application(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE accounts (owner TEXT, balance REAL)")
    conn.execute("INSERT INTO accounts VALUES ('ana', 12.5)")
    conn.commit()
    conn.close()


def _damaged(path: Path) -> None:
    _current_ledger(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _not_sqlite(path: Path) -> None:
    path.write_bytes(b"id,label\nr1,positive\n")


FOREIGN = {
    "not sqlite": (_not_sqlite, "is not a textal ledger (not a SQLite file)"),
    "another application": (_other_application, "another application's file"),
    "newer schema": (
        _newer_schema,
        f"has ledger schema {migrations.SCHEMA_VERSION + 1}, newer than this textal's "
        f"{migrations.SCHEMA_VERSION}",
    ),
    "damaged": (_damaged, "is not a textal ledger (database disk image is malformed)"),
}


@pytest.mark.parametrize("kind", list(FOREIGN))
@pytest.mark.parametrize("command", ["status", "round", "label", "export"])
def test_a_file_that_is_not_our_ledger_is_refused_and_kept(capsys, tmp_path, kind, command):
    root = tmp_path / "ws"
    write_config(root, WorkspaceConfig("sentence-transformers/all-MiniLM-L6-v2", 384, "memory"))
    config = (root / CONFIG_NAME).read_bytes()
    make, message = FOREIGN[kind]
    ledger = root / LEDGER_NAME
    make(ledger)
    before = ledger.read_bytes()
    labels = tmp_path / "labels.csv"
    labels.write_text("id,label\nr1,positive\n", encoding="utf-8")
    extra = {"label": [labels], "export": [tmp_path / "out.csv"]}.get(command, [])
    code, out, err = run_cli(capsys, command, "--workspace", root, *extra)
    assert code == 2 and out == ""
    assert err.startswith(f"error: {ledger} ") and message in err and err.count("\n") == 1
    assert ledger.read_bytes() == before
    assert (root / CONFIG_NAME).read_bytes() == config
    assert sorted(p.name for p in root.iterdir()) == sorted([CONFIG_NAME, LEDGER_NAME])
