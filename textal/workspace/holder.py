"""``serve.json``: which ``textal serve`` process holds a workspace, and at what URL.

A workspace on Milvus Lite or the memory store is held by one process. While ``serve`` holds it,
other commands that open the store are refused with the server's URL instead of Milvus Lite's
lock error. The file is removed when ``serve`` exits; one left by a killed server names a dead
pid and is ignored.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textal.errors import TextalError
from textal.fsio import atomic_write

HOLDER_NAME = "serve.json"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def serving_url(root: Path) -> str | None:
    """The URL of a live ``serve`` process (not this one) holding ``root``, else ``None``."""
    try:
        data = json.loads((root / HOLDER_NAME).read_text(encoding="utf-8"))
        pid, url = int(data["pid"]), str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url if pid != os.getpid() and _alive(pid) else None


def refuse_if_served(root: Path) -> None:
    url = serving_url(root)
    if url is not None:
        raise TextalError(
            f"workspace {root} is held by `textal serve` at {url}: label there, "
            "or stop the server first"
        )


@contextmanager
def holding(root: Path, url: str) -> Iterator[None]:
    """Write ``serve.json`` for the duration of the block."""
    path = root / HOLDER_NAME
    with atomic_write(path) as f:
        f.write(json.dumps({"url": url, "pid": os.getpid()}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
