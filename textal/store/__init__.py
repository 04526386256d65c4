"""Where items live: Milvus (a Lite file or a server) or memory, behind one protocol."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from textal.errors import TextalError
from textal.store.base import Chunk, Item, VectorStore
from textal.store.memory import MemoryStore
from textal.store.uri import StoreURI

__all__ = [
    "Chunk",
    "Item",
    "MilvusCredentials",
    "StoreURI",
    "VectorStore",
    "credentials_from_env",
    "open_store",
    "quiet_milvus_client_logs",
]


@dataclass(frozen=True)
class MilvusCredentials:
    """How to authenticate to a Milvus server: a ``token`` (``user:password`` or an API key),
    or ``user`` and ``password``. Never shown in messages."""

    token: str | None = None
    user: str | None = None
    password: str | None = None

    def __repr__(self) -> str:
        return "MilvusCredentials(...)"


def credentials_from_env(env: Mapping[str, str]) -> MilvusCredentials:
    """Credentials from ``TEXTAL_MILVUS_TOKEN``, or ``TEXTAL_MILVUS_USER`` and
    ``TEXTAL_MILVUS_PASSWORD``, in ``env`` (the CLI passes ``os.environ``)."""
    return MilvusCredentials(
        token=env.get("TEXTAL_MILVUS_TOKEN") or None,
        user=env.get("TEXTAL_MILVUS_USER") or None,
        password=env.get("TEXTAL_MILVUS_PASSWORD") or None,
    )


def quiet_milvus_client_logs() -> None:
    """Silence pymilvus's own logging: stores report each failure as one ``TextalError`` line,
    and pymilvus would also log a warning on every query_iterator ("failed to get mvccTs") and
    tracebacks of failed RPCs. Imports pymilvus (whose import configures its logger), so the
    workspace calls it only before opening a Milvus store."""
    import pymilvus  # noqa: F401

    logging.getLogger("pymilvus").setLevel(logging.CRITICAL)


def open_store(
    uri: str | StoreURI,
    dim: int,
    *,
    collection: str = "textal_items",
    workspace: Path | None = None,
    credentials: MilvusCredentials | None = None,
    read_only: bool = False,
) -> VectorStore:
    """Open (creating if needed) the store that ``uri`` names (a :class:`StoreURI` or its text).

    * ``memory``: in memory, gone when closed;
    * ``memory:DIR``: in memory, persisted to ``DIR``;
    * ``http://host:port`` or ``https://...``: a Milvus server, with ``credentials`` if given;
    * anything else: a Milvus Lite path ending in ``.db``.

    Relative paths are taken relative to ``workspace`` (default: the current directory).
    ``collection`` applies to Milvus only. ``read_only`` is for a store on a read-only file
    system: the memory store reads its files without locking or repairing them; Milvus Lite,
    which writes to its directory even to read, is refused with a clear message.
    """
    target = uri if isinstance(uri, StoreURI) else StoreURI.parse(uri)
    if target.kind == "memory" and not target.location:
        return MemoryStore(dim)
    if target.kind == "memory":
        return MemoryStore(dim, target.path(workspace), read_only=read_only)
    if read_only and target.kind == "lite":
        raise TextalError(
            f"Milvus Lite {target.path(workspace)} is on a read-only file system and Milvus Lite "
            "writes to its directory even to read: copy the workspace somewhere writable "
            "(nothing was lost)"
        )

    from textal.store.milvus import MilvusStore  # imports pymilvus, which takes a while

    if target.kind == "server":
        given = credentials or MilvusCredentials()
        return MilvusStore(
            target.location,
            dim,
            collection,
            token=given.token,
            user=given.user,
            password=given.password,
        )
    return MilvusStore(str(target.path(workspace)), dim, collection)
