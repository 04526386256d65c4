"""Web accounts in the ledger: a name, admin or not, and the sha256 of a random login token.

The token itself is shown once (``add``) and never stored: it has 256 bits of randomness, so an
unsalted hash is enough to make a stolen ledger useless for logging in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from textal.errors import TextalError, show_value
from textal.ledger.ledger import Ledger, _now

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")


@dataclass(frozen=True)
class Annotator:
    name: str
    admin: bool
    created_at: str


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_annotator(ledger: Ledger, name: str, *, admin: bool = False) -> str:
    """Create an account; returns its login token (shown once, stored only as a hash)."""
    if not _NAME.fullmatch(name):
        raise TextalError(
            f"annotator name {show_value(name)}: use 1-40 letters, digits, '.', '_' or '-'"
        )
    token = secrets.token_urlsafe(32)
    with ledger._write():
        if ledger._conn.execute("SELECT 1 FROM annotators WHERE name = ?", (name,)).fetchone():
            raise TextalError(f"annotator {name} exists: remove it first to issue a new token")
        ledger._conn.execute(
            "INSERT INTO annotators (name, token_hash, admin, created_at) VALUES (?, ?, ?, ?)",
            (name, token_hash(token), int(admin), _now()),
        )
    return token


def list_annotators(ledger: Ledger) -> list[Annotator]:
    return [
        Annotator(name, bool(admin), created)
        for name, admin, created in ledger._conn.execute(
            "SELECT name, admin, created_at FROM annotators ORDER BY name"
        )
    ]


def remove_annotator(ledger: Ledger, name: str) -> None:
    """Delete the account (its labels stay in the ledger under its name)."""
    with ledger._write():
        gone = ledger._conn.execute("DELETE FROM annotators WHERE name = ?", (name,)).rowcount
    if not gone:
        raise TextalError(f"no annotator named {show_value(name)}")


def find_annotator(
    ledger: Ledger, *, token: str | None = None, name: str | None = None
) -> Annotator | None:
    """The account with this login token or name, or ``None``."""
    if token is not None:
        row = ledger._conn.execute(
            "SELECT name, admin, created_at FROM annotators WHERE token_hash = ?",
            (token_hash(token),),
        ).fetchone()
    else:
        row = ledger._conn.execute(
            "SELECT name, admin, created_at FROM annotators WHERE name = ?", (name,)
        ).fetchone()
    return Annotator(row[0], bool(row[1]), row[2]) if row else None
