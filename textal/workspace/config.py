"""``textal.toml``: what a workspace was created with, and what it refuses to change."""

from __future__ import annotations

import json
import os
import tomllib
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from textal.data.label_sets import SEP
from textal.errors import TextalError, show_value
from textal.fsio import atomic_write

LEDGER_NAME = "ledger.sqlite"
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
    multi_label: bool = False  # answers are label sets; fixed at creation (issue 26)

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
            + ("multi_label = true\n" if self.multi_label else "")
        )


def workspace_path(path: str | Path | None) -> Path:
    """``path``, else ``$TEXTAL_WORKSPACE``, else ``./textal-workspace``; refused when it names
    something that is not a directory (before any model is loaded or anything created)."""
    root = Path(path or os.environ.get("TEXTAL_WORKSPACE") or DEFAULT_WORKSPACE)
    if root.exists() and not root.is_dir():
        raise TextalError(f"workspace {root} is a file, not a directory: give another --workspace")
    return root


def read_config(workspace: Path) -> WorkspaceConfig | None:
    """The workspace's config, or ``None`` when it has none yet."""
    path = workspace / CONFIG_NAME
    if not path.exists():
        return None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        multi_label = data.get("labels", {}).get("multi_label", False)
        if not isinstance(multi_label, bool):
            raise ValueError(f"labels.multi_label must be true or false, not {multi_label!r}")
        return WorkspaceConfig(
            model=str(data["embedding"]["model"]),
            dim=int(data["embedding"]["dim"]),
            store_uri=str(data["store"]["uri"]),
            collection=str(data["store"]["collection"]),
            labels=tuple(str(name) for name in data.get("labels", {}).get("names", [])),
            backend=str(data["embedding"].get("backend", "torch")),
            multi_label=multi_label,
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as exc:
        raise TextalError(f"{path}: not a valid textal config ({exc})") from exc


def write_config(workspace: Path, config: WorkspaceConfig) -> None:
    """Write atomically (:mod:`textal.fsio`): a crash leaves the old config or the new one, never
    half of one, and two commands writing it at once each use their own temporary file."""
    with atomic_write(workspace / CONFIG_NAME) as f:
        f.write(config.to_toml())


def with_labels(config: WorkspaceConfig, names: list[str]) -> WorkspaceConfig:
    """``config`` with ``names`` added to its label set (order kept, no duplicates); names that
    are another label written in other Unicode code points are refused."""
    labels = tuple(dict.fromkeys([*config.labels, *names]))
    _refuse_unicode_twins(labels)
    return replace(config, labels=labels)


def check_label_names(names: Sequence[str]) -> tuple[str, ...]:
    """``names`` as a label set, refusing empty and repeated names (after stripping spaces),
    and names that differ only in Unicode normalisation (``café`` as NFC and as NFD)."""
    labels = tuple(name.strip() for name in names)
    for position, name in enumerate(labels, start=1):
        if not name:
            raise TextalError(f"label {position} of the label set is empty")
        if name in labels[: position - 1]:
            raise TextalError(f"label {show_value(name)} is given twice in the label set")
    _refuse_unicode_twins(labels)
    return labels


def check_multi_label_names(names: Sequence[str]) -> None:
    """A multi-label workspace's label set: given at creation, at least one name, none holding
    ``;`` (the separator of label sets in files and in the ledger)."""
    if not names:
        raise TextalError("a multi-label workspace needs its label set at creation: --labels a,b,c")
    for name in names:
        if SEP in name:
            raise TextalError(
                f"label {show_value(name)}: a multi-label workspace's label names may not hold "
                f"{SEP!r} (it separates the labels of a set in files)"
            )


def _refuse_unicode_twins(labels: Sequence[str]) -> None:
    """Two labels that look the same but are other code points would be two classes that no
    one can tell apart on a screen or in a file."""
    first: dict[str, str] = {}
    for name in labels:
        key = unicodedata.normalize("NFC", name)
        if key in first and first[key] != name:
            raise TextalError(
                f"labels {first[key]!a} and {name!a} differ only in Unicode "
                "normalisation (the same letters written with other code points): use one form"
            )
        first.setdefault(key, name)


def case_clashes(labels: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of labels that differ only in case (``Positive``, ``positive``): most likely a typo,
    since they count as two classes."""
    first: dict[str, str] = {}
    clashes = []
    for name in labels:
        key = name.casefold()
        if key in first:
            clashes.append((first[key], name))
        else:
            first[key] = name
    return clashes
