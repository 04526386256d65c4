"""``textal.toml``: what a workspace was created with, and what it refuses to change."""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

from textal.errors import TextalError
from textal.workspace.batch_files import private_tmp

CONFIG_NAME = "textal.toml"
DEFAULT_WORKSPACE = "textal-workspace"
DEFAULT_STORE_URI = "milvus.db"  # a Milvus Lite file inside the workspace
DEFAULT_COLLECTION = "textal_items"


@dataclass(frozen=True)
class WorkspaceConfig:
    """A workspace's settings.

    ``store_uri`` is ``"memory"`` (persisted as files in the workspace), a Milvus Lite file path
    (relative to the workspace) or an ``http(s)://`` Milvus server; credentials never live here,
    they come from ``TEXTAL_MILVUS_TOKEN`` or ``TEXTAL_MILVUS_USER``/``TEXTAL_MILVUS_PASSWORD``.
    """

    model: str
    dim: int
    store_uri: str = DEFAULT_STORE_URI
    collection: str = DEFAULT_COLLECTION
    labels: tuple[str, ...] = field(default_factory=tuple)
    backend: str = "torch"  # the embedding backend (textal.embed.backends); older files: torch

    def to_toml(self) -> str:
        # json.dumps yields valid TOML basic strings for str values and arrays of them.
        return (
            "# textal workspace: written by textal, safe to read, edit labels with care\n"
            "[embedding]\n"
            f"model = {json.dumps(self.model)}\n"
            f"dim = {self.dim}\n"
            f"backend = {json.dumps(self.backend)}\n\n"
            "[store]\n"
            f"uri = {json.dumps(self.store_uri)}\n"
            f"collection = {json.dumps(self.collection)}\n\n"
            "[labels]\n"
            f"names = {json.dumps(list(self.labels))}\n"
        )


def workspace_path(path: str | Path | None) -> Path:
    """``path``, else ``$TEXTAL_WORKSPACE``, else ``./textal-workspace``."""
    return Path(path or os.environ.get("TEXTAL_WORKSPACE") or DEFAULT_WORKSPACE)


def read_config(workspace: Path) -> WorkspaceConfig | None:
    """The workspace's config, or ``None`` when it has none yet."""
    path = workspace / CONFIG_NAME
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return WorkspaceConfig(
            model=str(data["embedding"]["model"]),
            dim=int(data["embedding"]["dim"]),
            store_uri=str(data["store"]["uri"]),
            collection=str(data["store"]["collection"]),
            labels=tuple(str(name) for name in data.get("labels", {}).get("names", [])),
            backend=str(data["embedding"].get("backend", "torch")),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise TextalError(f"{path}: not a valid textal config ({exc})") from exc


def write_config(workspace: Path, config: WorkspaceConfig) -> None:
    """Write atomically: a crash leaves the old config or the new one, never half of one.

    Each writer has its own temporary file: two commands writing the config at the same time
    (both learning new labels, say) must not move each other's file away.
    """
    workspace.mkdir(parents=True, exist_ok=True)
    path = workspace / CONFIG_NAME
    tmp = private_tmp(path)
    tmp.write_text(config.to_toml(), encoding="utf-8")
    os.replace(tmp, path)


def with_labels(config: WorkspaceConfig, names: list[str]) -> WorkspaceConfig:
    """``config`` with ``names`` added to its label set (order kept, no duplicates)."""
    return replace(config, labels=tuple(dict.fromkeys([*config.labels, *names])))
