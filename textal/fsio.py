"""Writing files that textal owns or that users asked for: whole or not at all, never through
anything that is not a plain file.

Every file textal writes (config, batch and export files, caches) goes through
:func:`atomic_write` or :func:`atomic_files`: a private temporary file beside the target
(``tempfile.mkstemp`` in the same directory), written, flushed and ``fsync``-ed, then
``os.replace``-d over the target and the directory ``fsync``-ed. A crash leaves the old file or
the new one, never half of one, and the temporary file is removed on any failure.

A target that exists and is not a regular file (a directory, a device such as ``/dev/null``, a
socket, a FIFO) is refused before anything is written, and so is a symbolic link, whatever it
points to: ``os.replace`` would replace the link itself, so the user is asked to name the file.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from textal.errors import TextalError

_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFSOCK: "a socket",
    stat.S_IFLNK: "a symbolic link",
}


def check_targets(paths: Sequence[Path]) -> None:
    """Refuse targets that exist and are not regular files (symbolic links included), and two
    targets that name the same file (compared case-insensitively, as some file systems do)."""
    seen: set[str] = set()
    for path in paths:
        key = os.path.abspath(path).casefold()
        if key in seen:
            raise TextalError(f"refusing to write {path} twice in one command")
        seen.add(key)
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            continue
        except OSError as e:
            raise TextalError(f"cannot write {path}: {e.strerror}") from e
        if not stat.S_ISREG(mode):
            kind = _KINDS.get(stat.S_IFMT(mode), "not a regular file")
            hint = "; name the file it points to instead" if stat.S_ISLNK(mode) else ""
            raise TextalError(
                f"refusing to write {path}: it is {kind}, not a regular file textal may "
                f"replace{hint}"
            )


@contextlib.contextmanager
def atomic_write(path: Path, mode: str = "w", **open_args: Any) -> Iterator[IO[Any]]:
    """``with atomic_write(path) as f: ...``: ``path`` is replaced in full when the block ends
    without an exception, and left as it was otherwise. ``open_args`` go to ``open``
    (``encoding`` defaults to UTF-8 in text mode, ``newline``...)."""
    with atomic_files([path], mode, **open_args) as files:
        yield files[0]


@contextlib.contextmanager
def atomic_files(
    paths: Sequence[Path], mode: str = "w", **open_args: Any
) -> Iterator[list[IO[Any]]]:
    """Several files written together: every target is checked before any is written, and
    none is replaced unless all of them were written in full."""
    check_targets(paths)
    if "b" not in mode:
        open_args.setdefault("encoding", "utf-8")
    temps: list[Path] = []
    files: list[IO[Any]] = []
    try:
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
            temps.append(Path(name))
            files.append(os.fdopen(fd, mode, **open_args))
        yield files
        for f in files:
            f.flush()
            os.fsync(f.fileno())
            f.close()
        while temps:
            os.replace(temps[0], paths[len(paths) - len(temps)])
            temps.pop(0)
    finally:
        for f in files:
            with contextlib.suppress(OSError):
                f.close()
        for tmp in temps:  # only those not renamed over their target
            with contextlib.suppress(OSError):
                tmp.unlink()
    for directory in {p.parent for p in paths}:
        _fsync_dir(directory)


def disk_problem(path: Path) -> str | None:
    """``"no space left on the device"`` or ``"read-only file system"`` when that is so of the
    file system holding ``path`` (or its nearest existing parent), else ``None``: it turns a
    library's "disk I/O error" into something a person can act on."""
    existing = next((p for p in (path, *path.parents) if p.exists()), None)
    if existing is None:
        return None
    try:
        fs = os.statvfs(existing)
    except OSError:
        return None
    if fs.f_flag & os.ST_RDONLY:
        return "read-only file system"
    if fs.f_bavail == 0:
        return "no space left on the device"
    return None


def _fsync_dir(directory: Path) -> None:
    """Make the renames in ``directory`` durable (skipped where a directory cannot be synced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)
