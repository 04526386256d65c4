"""A store URI, parsed once: what kind of store it names and where."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from textal.errors import TextalError, show_value

_SERVER = ("http://", "https://")


@dataclass(frozen=True)
class StoreURI:
    """What :meth:`parse` makes of a URI. ``kind``:

    * ``memory``: in memory; ``location`` is the directory it persists to (``memory:DIR``) or
      empty (``memory``: gone when closed);
    * ``lite``: a Milvus Lite file; ``location`` is its path, ending in ``.db``;
    * ``server``: a Milvus server; ``location`` is its ``http(s)://host:port`` URL.

    Relative paths are taken relative to a base directory given when they are used (the
    workspace, else the current directory). ``text`` is the URI as given.
    """

    kind: Literal["memory", "lite", "server"]
    location: str
    text: str

    @classmethod
    def parse(cls, uri: str) -> StoreURI:
        """The store ``uri`` names, or a :class:`TextalError` for one no store can open, before
        anything is created or connected."""
        if uri == "memory":
            return cls("memory", "", uri)
        if uri.startswith("memory:") and uri != "memory:":
            return cls("memory", uri.removeprefix("memory:"), uri)
        if uri.startswith(_SERVER):
            shown = (
                uri if "@" not in uri else uri.split("://")[0] + "://...@" + uri.rpartition("@")[2]
            )
            try:
                parts = urlsplit(uri)
                parts.port  # noqa: B018 - parsing the port is the check
            except ValueError as e:
                raise TextalError(
                    f"Milvus URI {show_value(shown)} is not a valid URL: {e}"
                ) from None
            if not parts.hostname:
                raise TextalError(f"Milvus URI {show_value(shown)} names no host")
            return cls("server", uri, uri)
        if "://" in uri:
            raise TextalError(
                f"store URI {uri.split('://')[0]}://... is not supported: use memory, memory:DIR, "
                "http(s)://host:port or a Milvus Lite path ending in .db"
            )
        if Path(uri).suffix != ".db":
            raise TextalError(
                f"store {show_value(uri)}: a Milvus Lite path must end with .db "
                "(or use memory, memory:DIR, http(s)://host:port)"
            )
        return cls("lite", uri, uri)

    def path(self, base: Path | None = None) -> Path:
        """The file or directory of a ``lite`` or persisted ``memory`` store, under ``base``
        (default: the current directory) when relative."""
        if self.kind == "server" or not self.location:
            raise ValueError(f"store {self.text!r} has no path")
        return (base if base is not None else Path.cwd()) / Path(self.location).expanduser()

    def identity(self, collection: str, *, base: Path | None = None) -> str:
        """What two URIs naming the same store have in common, for display (no credentials):
        ``memory:/abs/dir``, ``/abs/milvus.db (collection c)``,
        ``http://host:port (collection c)``."""
        if self.kind == "memory":
            return f"memory:{self.path(base).resolve()}" if self.location else "memory"
        if self.kind == "server":
            parts = urlsplit(self.location)
            host = f"[{parts.hostname}]" if ":" in (parts.hostname or "") else parts.hostname
            port = f":{parts.port}" if parts.port else ""
            where = f"{parts.scheme}://{host}{port}{parts.path.rstrip('/')}"
        else:
            where = str(self.path(base).resolve())
        return f"{where} (collection {collection})"
