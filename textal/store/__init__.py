"""Where items live: Milvus (a Lite file or a server) or memory, behind one protocol."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from textal.errors import TextalError, show_value
from textal.store.base import Chunk, Item, VectorStore
from textal.store.memory import MemoryStore

__all__ = [
    "Chunk",
    "Item",
    "MilvusCredentials",
    "VectorStore",
    "check_store_uri",
    "credentials_from_env",
    "open_store",
    "quiet_milvus_client_logs",
    "store_identity",
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


_SERVER = ("http://", "https://")


def check_store_uri(uri: str) -> None:
    """Refuse a URI :func:`open_store` cannot open, before anything is created or connected."""
    if uri == "memory" or (uri.startswith("memory:") and uri != "memory:"):
        return
    if "://" in uri and not uri.startswith(_SERVER):
        raise TextalError(
            f"store URI {uri.split('://')[0]}://... is not supported: use memory, memory:DIR, "
            "http(s)://host:port or a Milvus Lite path ending in .db"
        )
    if uri.startswith(_SERVER):
        shown = uri if "@" not in uri else uri.split("://")[0] + "://...@" + uri.rpartition("@")[2]
        try:
            parts = urlsplit(uri)
            parts.port  # noqa: B018 - parsing the port is the check
        except ValueError as e:
            raise TextalError(f"Milvus URI {show_value(shown)} is not a valid URL: {e}") from None
        if not parts.hostname:
            raise TextalError(f"Milvus URI {show_value(shown)} names no host")
        return
    if Path(uri).suffix != ".db":
        raise TextalError(
            f"store {show_value(uri)}: a Milvus Lite path must end with .db "
            "(or use memory, memory:DIR, http(s)://host:port)"
        )


def store_identity(uri: str, collection: str, *, workspace: Path | None = None) -> str:
    """What two URIs naming the same store have in common, for display (no credentials):
    ``memory:/abs/dir``, ``/abs/milvus.db (collection c)``, ``http://host:port (collection c)``."""
    check_store_uri(uri)
    base = Path(workspace) if workspace is not None else Path.cwd()
    if uri == "memory":
        return "memory"
    if uri.startswith("memory:"):
        return f"memory:{(base / Path(uri.removeprefix('memory:')).expanduser()).resolve()}"
    if uri.startswith(_SERVER):
        parts = urlsplit(uri)
        host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
        port = f":{parts.port}" if parts.port else ""
        where = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
    else:
        where = str((base / Path(uri).expanduser()).resolve())
    return f"{where} (collection {collection})"


def open_store(
    uri: str,
    dim: int,
    *,
    collection: str = "textal_items",
    workspace: Path | None = None,
    credentials: MilvusCredentials | None = None,
    read_only: bool = False,
) -> VectorStore:
    """Open (creating if needed) the store that ``uri`` names.

    * ``memory``: in memory, gone when closed;
    * ``memory:DIR``: in memory, persisted to ``DIR``;
    * ``http://host:port`` or ``https://...``: a Milvus server, with ``credentials`` if given;
    * anything else: a Milvus Lite path ending in ``.db``.

    Relative paths are taken relative to ``workspace`` (default: the current directory).
    ``collection`` applies to Milvus only. ``read_only`` is for a store on a read-only file
    system: the memory store reads its files without locking or repairing them; Milvus Lite,
    which writes to its directory even to read, is refused with a clear message.
    """
    check_store_uri(uri)
    base = Path(workspace) if workspace is not None else Path.cwd()
    if uri == "memory":
        return MemoryStore(dim)
    if uri.startswith("memory:"):
        path = base / Path(uri.removeprefix("memory:")).expanduser()
        return MemoryStore(dim, path, read_only=read_only)
    if read_only and not uri.startswith(_SERVER):
        raise TextalError(
            f"Milvus Lite {base / uri} is on a read-only file system and Milvus Lite writes to "
            "its directory even to read: copy the workspace somewhere writable (nothing was lost)"
        )

    from textal.store.milvus import MilvusStore  # imports pymilvus, which takes a while

    if uri.startswith(_SERVER):
        given = credentials or MilvusCredentials()
        return MilvusStore(
            uri, dim, collection, token=given.token, user=given.user, password=given.password
        )
    return MilvusStore(str(base / Path(uri).expanduser()), dim, collection)
