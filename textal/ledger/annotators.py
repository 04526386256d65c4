"""Web accounts and their sessions in the ledger.

An account is a name, a role (:data:`ROLES`) and the sha256 of a random login token. The token
itself is shown once (``add``) and never stored: it has 256 bits of randomness, so an unsalted hash
is enough to make a stolen ledger useless for logging in. A login opens a session, kept as the hash
of a random session id and the login token it began with; every request looks it up, so logging out,
removing the account or issuing it a new token ends the session at once, in every process that
shares the ledger.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from textal.errors import TextalError, show_value
from textal.ledger.ledger import Ledger, _now

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")

#: What each role may do: ``annotator`` labels; ``reviewer`` also resolves disagreements and
#: reviews suspect labels; ``admin`` does everything; ``service`` (a script's bearer token) adds
#: reviews, reads status, exports and predicts, but never labels or manages accounts.
ROLES = ("annotator", "reviewer", "admin", "service")
_ACCOUNT = "name, role, created_at"


@dataclass(frozen=True)
class Annotator:
    name: str
    role: str
    created_at: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def check_role(role: str) -> str:
    if role not in ROLES:
        raise TextalError(f"role {show_value(role)}: one of {', '.join(ROLES)}")
    return role


def add_annotator(
    ledger: Ledger, name: str, *, admin: bool = False, role: str | None = None
) -> str:
    """Create an account with ``role`` (default ``admin`` if ``admin`` else ``annotator``);
    returns its login token (shown once, stored only as a hash)."""
    if not _NAME.fullmatch(name):
        raise TextalError(
            f"annotator name {show_value(name)}: use 1-40 letters, digits, '.', '_' or '-'"
        )
    role = check_role(role or ("admin" if admin else "annotator"))
    token = secrets.token_urlsafe(32)
    with ledger._write():
        if ledger._conn.execute("SELECT 1 FROM annotators WHERE name = ?", (name,)).fetchone():
            raise TextalError(f"annotator {name} exists: remove it first to issue a new token")
        ledger._conn.execute(
            "INSERT INTO annotators (name, token_hash, admin, role, created_at)"
            " VALUES (?, ?, ?, ?, ?)",
            (name, token_hash(token), int(role == "admin"), role, _now()),
        )
    return token


def list_annotators(ledger: Ledger) -> list[Annotator]:
    return [
        Annotator(*row)
        for row in ledger._conn.execute(f"SELECT {_ACCOUNT} FROM annotators ORDER BY name")
    ]


def remove_annotator(ledger: Ledger, name: str) -> None:
    """Delete the account and end its sessions (its labels stay in the ledger under its name)."""
    with ledger._write():
        ledger._conn.execute(
            "DELETE FROM sessions WHERE token_hash IN"
            " (SELECT token_hash FROM annotators WHERE name = ?)",
            (name,),
        )
        gone = ledger._conn.execute("DELETE FROM annotators WHERE name = ?", (name,)).rowcount
    if not gone:
        raise TextalError(f"no annotator named {show_value(name)}")


def open_session(ledger: Ledger, token: str, *, seconds: float) -> tuple[Annotator, str] | None:
    """Log in with ``token``: the account and a new session id valid for ``seconds`` (kept only
    as a hash), or ``None`` for an unknown token. Expired sessions are dropped meanwhile."""
    now = datetime.now(UTC)
    session_id = secrets.token_urlsafe(32)
    with ledger._write():
        ledger._conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (_stamp(now),))
        row = ledger._conn.execute(
            f"SELECT {_ACCOUNT} FROM annotators WHERE token_hash = ?", (token_hash(token),)
        ).fetchone()
        if row is None:
            return None
        ledger._conn.execute(
            "INSERT INTO sessions (id_hash, token_hash, created_at, expires_at)"
            " VALUES (?, ?, ?, ?)",
            (
                token_hash(session_id),
                token_hash(token),
                _stamp(now),
                _stamp(now + timedelta(seconds=seconds)),
            ),
        )
    return Annotator(*row), session_id


def session_account(ledger: Ledger, session_id: str) -> Annotator | None:
    """The account of a live session: ``None`` once it expired, was ended, or its account was
    removed or issued another token."""
    row = ledger._conn.execute(
        "SELECT a.name, a.role, a.created_at FROM sessions s"
        " JOIN annotators a ON a.token_hash = s.token_hash"
        " WHERE s.id_hash = ? AND s.expires_at > ?",
        (token_hash(session_id), _stamp(datetime.now(UTC))),
    ).fetchone()
    return Annotator(*row) if row else None


def end_session(ledger: Ledger, session_id: str) -> None:
    """Log out: the session id stops working everywhere."""
    with ledger._write():
        ledger._conn.execute("DELETE FROM sessions WHERE id_hash = ?", (token_hash(session_id),))


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def find_annotator(
    ledger: Ledger, *, token: str | None = None, name: str | None = None
) -> Annotator | None:
    """The account with this login token (a script's bearer token) or name, or ``None``."""
    where, value = (
        ("token_hash = ?", token_hash(token)) if token is not None else ("name = ?", name)
    )
    row = ledger._conn.execute(
        f"SELECT {_ACCOUNT} FROM annotators WHERE {where}", (value,)
    ).fetchone()
    return Annotator(*row) if row else None
