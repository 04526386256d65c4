"""Where items live: Milvus (a Lite file or a server) or memory, behind one protocol."""

from __future__ import annotations

import os
from pathlib import Path

from textal.errors import TextalError
from textal.store.base import Chunk, Item, VectorStore
from textal.store.memory import MemoryStore

__all__ = ["Chunk", "Item", "VectorStore", "open_store"]


def open_store(
    uri: str,
    dim: int,
    *,
    collection: str = "textal_items",
    workspace: Path | None = None,
) -> VectorStore:
    """Open (creating if needed) the store that ``uri`` names.

    * ``memory``: in memory, gone when closed;
    * ``memory:DIR``: in memory, persisted to ``DIR``;
    * ``http://host:port`` or ``https://...``: a Milvus server; credentials come from
      ``TEXTAL_MILVUS_TOKEN``, or ``TEXTAL_MILVUS_USER`` and ``TEXTAL_MILVUS_PASSWORD``;
    * anything else: a Milvus Lite path ending in ``.db``.

    Relative paths are taken relative to ``workspace`` (default: the current directory).
    ``collection`` applies to Milvus only.
    """
    base = Path(workspace) if workspace is not None else Path.cwd()
    if uri == "memory":
        return MemoryStore(dim)
    if uri.startswith("memory:"):
        return MemoryStore(dim, base / Path(uri.removeprefix("memory:")).expanduser())

    from textal.store.milvus import MilvusStore  # imports pymilvus, which takes a while

    if "://" in uri and not uri.startswith(("http://", "https://")):
        raise TextalError(
            f"store URI {uri.split('://')[0]}://... is not supported: use memory, memory:DIR, "
            "http(s)://host:port or a Milvus Lite path ending in .db"
        )
    if uri.startswith(("http://", "https://")):
        return MilvusStore(
            uri,
            dim,
            collection,
            token=os.environ.get("TEXTAL_MILVUS_TOKEN") or None,
            user=os.environ.get("TEXTAL_MILVUS_USER") or None,
            password=os.environ.get("TEXTAL_MILVUS_PASSWORD") or None,
        )
    return MilvusStore(str(base / Path(uri).expanduser()), dim, collection)
