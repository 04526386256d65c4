"""A workspace's web accounts and sessions: :mod:`textal.ledger.annotators` over its ledger, as
the interfaces use them (``Workspace.accounts``, or :func:`open_accounts` while `serve` runs)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textal.errors import TextalError
from textal.ledger import Ledger
from textal.ledger.annotators import (
    Annotator,
    add_annotator,
    end_session,
    find_annotator,
    list_annotators,
    open_session,
    remove_annotator,
    session_account,
)
from textal.workspace.config import CONFIG_NAME, LEDGER_NAME, workspace_path


class Accounts:
    """The accounts of one ledger connection (so: of one thread)."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    def add(self, name: str, *, role: str | None = None, admin: bool = False) -> str:
        """A new account; returns its login token (shown once). See
        :func:`~textal.ledger.annotators.add_annotator`."""
        return add_annotator(self._ledger, name, admin=admin, role=role)

    def remove(self, name: str) -> None:
        remove_annotator(self._ledger, name)

    def list(self) -> list[Annotator]:
        return list_annotators(self._ledger)

    def find(self, *, token: str) -> Annotator | None:
        """The account of a login (bearer) token, or ``None``."""
        return find_annotator(self._ledger, token=token)

    def open_session(self, token: str, *, seconds: float) -> tuple[Annotator, str] | None:
        return open_session(self._ledger, token, seconds=seconds)

    def session_account(self, session_id: str) -> Annotator | None:
        return session_account(self._ledger, session_id)

    def end_session(self, session_id: str) -> None:
        end_session(self._ledger, session_id)


@contextmanager
def open_accounts(path: str | Path | None = None) -> Iterator[Accounts]:
    """The accounts of the workspace at ``path`` (default as in ``Workspace.open``), opening
    only its ledger: accounts can be managed while `serve` holds the store."""
    root = workspace_path(path)
    if not (root / CONFIG_NAME).exists():
        raise TextalError(f"no textal workspace at {root}: run `textal ingest` first")
    with Ledger(root / LEDGER_NAME) as ledger:
        yield Accounts(ledger)
