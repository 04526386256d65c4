"""``serve.json``: which ``textal serve`` process holds a workspace, and at what URL.

A workspace on Milvus Lite or the memory store is held by one process. While ``serve`` holds it,
the CLI's commands go through the server's API with the credential in ``serve-credential``
(readable by the workspace's owner only, like every file textal makes); commands that cannot are
refused with the server's URL instead of Milvus Lite's lock error. Both files are removed when
``serve`` exits; ones left by a killed server name a dead pid and are ignored.
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
CREDENTIAL_NAME = "serve-credential"


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


def served_credential(root: Path) -> tuple[str, str] | None:
    """``(url, local credential)`` of a live ``serve`` process holding ``root``, else ``None``."""
    url = serving_url(root)
    if url is None:
        return None
    try:
        return url, (root / CREDENTIAL_NAME).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


@contextmanager
def holding(root: Path, url: str, credential: str) -> Iterator[None]:
    """Write ``serve.json`` and the local ``credential`` (mode 0600) for the block."""
    path, secret = root / HOLDER_NAME, root / CREDENTIAL_NAME
    with atomic_write(secret) as f:  # a private temporary file renamed: 0600 from the start
        f.write(credential)
    with atomic_write(path) as f:
        f.write(json.dumps({"url": url, "pid": os.getpid()}))
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        secret.unlink(missing_ok=True)
