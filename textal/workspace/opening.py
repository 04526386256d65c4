"""Opening a workspace: creating it, binding it to its store, checking what can be written."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Self

from textal.embed import DEFAULT_BACKEND, Encoder, check_backend, resolve_model, same_vectors
from textal.errors import TextalError
from textal.fsio import disk_problem
from textal.ledger import Ledger
from textal.store import (
    MilvusCredentials,
    StoreURI,
    VectorStore,
    open_store,
    quiet_milvus_client_logs,
)
from textal.store.serialized import serialized
from textal.workspace.answers import check_label_mode
from textal.workspace.config import (
    CONFIG_NAME,
    DEFAULT_COLLECTION,
    DEFAULT_STORE_URI,
    LEDGER_NAME,
    WorkspaceConfig,
    check_label_names,
    check_multi_label_names,
    read_config,
    with_labels,
    workspace_path,
    write_config,
)
from textal.workspace.core import WorkspaceCore
from textal.workspace.holder import refuse_if_served

MEMORY_STORE_DIR = "memory-store"


class Opening(WorkspaceCore):
    @classmethod
    def open(
        cls,
        path: str | Path | None = None,
        *,
        model: str | None = None,
        store_uri: str | None = None,
        collection: str | None = None,
        labels: Sequence[str] = (),
        create: bool = True,
        credentials: MilvusCredentials | None = None,
        move_store: bool = False,
        read_only: bool = False,
        embed_backend: str | None = None,
        device: str | None = None,
        multi_label: bool = False,
        threads: bool = False,
    ) -> Self:
        """Open the workspace at ``path`` (default ``$TEXTAL_WORKSPACE`` or ``./textal-workspace``).

        A new workspace is created when ``create`` is true: ``model`` picks its embedding model
        (default all-MiniLM-L6-v2), ``store_uri`` its store (default a Milvus Lite file inside it;
        ``"memory"`` for files in the workspace; ``http(s)://host:port`` for a server). Every
        setting is checked before anything is created; a failed creation removes what it made.

        An existing workspace refuses another ``model``, and is bound to its store: another
        ``store_uri`` or ``collection`` is refused unless ``move_store`` is true, which records
        the new one in its config. ``labels`` are added to its label set. ``read_only`` opens
        write nothing, and also work where the workspace's directory is read-only. ``credentials``
        authenticate to a server. ``embed_backend`` (default ``"torch"``) is recorded in a new
        workspace; an existing one refuses a backend whose vectors differ from its recorded one's
        and uses an interchangeable one for this session. ``device`` (``"cpu"``, ``"cuda"``;
        default: a GPU when there is one) only affects this session.

        ``multi_label`` makes a new workspace multi-label (answers are label sets; ``labels``
        required, fixed, no name with ``;``); an existing single-label workspace refuses it, and
        a multi-label one refuses new labels.

        ``threads``: the workspace is shared by threads (:meth:`sibling`), so its store's calls
        run one at a time (:func:`textal.store.serialized.serialized`).
        """
        root = workspace_path(path)
        if store_uri is not None:
            StoreURI.parse(store_uri)
        names = check_label_names(labels)
        config = stored = read_config(root)
        encoder = None
        if config is None:
            if not create:
                raise TextalError(f"no textal workspace at {root}: run `textal ingest` first")
            if multi_label:
                check_multi_label_names(names)
            _check_writable(root, None)
            # Loaded last, once everything else is checked: the model fixes the dimension.
            encoder = Encoder(model, device=device, backend=embed_backend or DEFAULT_BACKEND)
            config = WorkspaceConfig(
                model=encoder.model_id,
                dim=encoder.dim,
                store_uri=store_uri or DEFAULT_STORE_URI,
                collection=collection or DEFAULT_COLLECTION,
                labels=names,
                backend=encoder.backend,
                multi_label=multi_label,
            )
        else:
            check_label_mode(root, config, names, multi_label=multi_label)
            _check_same_vectors(root, config, model, embed_backend)
            config = _bind_store(root, config, store_uri, collection, move=move_store)
            if names:
                config = with_labels(config, list(names))
            read_only = read_only and config == stored
            if not read_only:
                _check_writable(root, config)
        where = _store_of(config)
        if where.kind != "server":
            refuse_if_served(root)  # Lite and memory stores: one process, the server
        undo = _make_dir(root) if stored is None else None
        # A read-only open where nothing can be written (read-only file system, full disk).
        frozen = (
            read_only and stored is not None and (not _writable(root) or bool(disk_problem(root)))
        )
        try:
            ledger = _open_ledger(root / LEDGER_NAME, frozen=frozen, fallback=read_only)
            try:
                _check_ledger_mode(root, config, ledger, new=stored is None)
                store = _open_workspace_store(
                    root, config, where, read_only=frozen, credentials=credentials
                )
                if threads:
                    store = serialized(store)
            except BaseException:
                ledger.close()
                raise
            if config != stored:  # new, moved or new labels: read-only opens never rewrite it
                write_config(root, config)
        except BaseException:
            if undo is not None:
                undo()
            raise
        workspace = cls(root, config, store, ledger)
        workspace._encoder = encoder
        old = stored.labels if stored is not None else ()
        workspace.labels_added = tuple(n for n in config.labels if n not in old)
        workspace._backend = embed_backend or config.backend
        workspace._device = device
        return workspace


def _check_same_vectors(
    root: Path, config: WorkspaceConfig, model: str | None, backend: str | None
) -> None:
    """Refuse a ``model`` or embedding ``backend`` whose vectors differ from the recorded ones."""
    if model is not None and resolve_model(model)[0] != config.model:
        raise TextalError(
            f"workspace {root} embeds with {config.model} (dim {config.dim}); "
            f"refusing --model {model}: use another --workspace for another model"
        )
    if backend is not None and not same_vectors(backend, config.backend):
        raise TextalError(
            f"workspace {root} embeds with backend {config.backend}; refusing "
            f"--embed-backend {check_backend(backend)}, whose vectors differ: "
            "use another --workspace for another backend"
        )


def _check_ledger_mode(root: Path, config: WorkspaceConfig, ledger: Ledger, *, new: bool) -> None:
    """Make a ``new`` multi-label workspace's ledger multi-label; refuse a config and a ledger
    that disagree on it (events are never read with the other meaning of ``;``)."""
    if new and config.multi_label:
        ledger.make_multi_label()
    if ledger.multi_label != config.multi_label:
        raise TextalError(
            f"workspace {root}: {CONFIG_NAME} says multi_label = "
            f"{str(config.multi_label).lower()} but its ledger records "
            f"{'label sets' if ledger.multi_label else 'single labels'}: restore "
            f"the {CONFIG_NAME} the workspace was created with"
        )


def _store_of(config: WorkspaceConfig) -> StoreURI:
    """The store ``config`` names; a workspace's ``memory`` store is persisted in it, as
    ``memory:memory-store``."""
    uri = config.store_uri
    return StoreURI.parse(f"memory:{MEMORY_STORE_DIR}" if uri == "memory" else uri)


def _open_workspace_store(
    root: Path,
    config: WorkspaceConfig,
    where: StoreURI,
    *,
    read_only: bool,
    credentials: MilvusCredentials | None,
) -> VectorStore:
    if where.kind != "memory":
        quiet_milvus_client_logs()
    return open_store(
        where,
        config.dim,
        collection=config.collection,
        workspace=root,
        read_only=read_only,
        credentials=credentials,
    )


def _bind_store(
    root: Path, config: WorkspaceConfig, uri: str | None, collection: str | None, *, move: bool
) -> WorkspaceConfig:
    """``config``, or with ``move`` the config naming the store given: a workspace opens only the
    store it recorded, since another one would silently show other items (or none)."""
    wanted = replace(
        config, store_uri=uri or config.store_uri, collection=collection or config.collection
    )
    old, new = (_store_of(c).identity(c.collection, base=root) for c in (config, wanted))
    if old == new:
        return config  # the same store, however it was spelled
    if not move:
        raise TextalError(
            f"workspace {root} is bound to store {old}; refusing {new}: give --move-store to "
            "record the new store as the workspace's (after moving its items there)"
        )
    return wanted


def _open_ledger(path: Path, *, frozen: bool, fallback: bool) -> Ledger:
    """The ledger, read-only when ``frozen``; with ``fallback``, read-only also when SQLite
    cannot open it for writing (a disk too full for its shared-memory file, say)."""
    try:
        return Ledger(path, read_only=frozen)
    except TextalError:
        if frozen or not fallback or not path.exists():
            raise
        return Ledger(path, read_only=True)


def _writable(root: Path) -> bool:
    """Whether textal may create and replace files in ``root`` (or where it will be made)."""
    existing = next(p for p in (root, *root.parents) if p.exists())
    return os.access(existing, os.W_OK)


def _check_writable(root: Path, config: WorkspaceConfig | None) -> None:
    why = disk_problem(root) or (None if _writable(root) else "no permission")
    if why is None:
        return
    if config is None:
        still = "give a --workspace where files can be written"
    elif _store_of(config).kind != "lite":
        still = "`textal status` and `textal export FILE` still work on it"
    else:  # Milvus Lite writes to its directory even to read
        still = "copy it somewhere writable to use it"
    raise TextalError(f"workspace {root} cannot be written ({why}): nothing was changed; {still}")


def _make_dir(root: Path) -> Callable[[], None]:
    """Make ``root``; return what undoes it: remove the directories made, or in a directory
    that existed, the entries added since."""
    missing = [p for p in (root, *root.parents) if not p.exists()]
    before = set() if missing else set(os.listdir(root))
    root.parent.mkdir(parents=True, exist_ok=True)
    root.mkdir(mode=0o700, exist_ok=True)  # it will hold customer text: its owner's only

    def undo() -> None:
        if missing:
            shutil.rmtree(missing[-1], ignore_errors=True)
            return
        for name in set(os.listdir(root)) - before:
            entry = root / name
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    return undo
