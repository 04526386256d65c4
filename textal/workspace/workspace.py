"""The Python API: one labeling project in one directory. The CLI is a thin shell over this.

>>> ws = Workspace.open("textal-workspace", model=None)       # doctest: +SKIP
>>> ws.ingest("reviews.csv")                                  # doctest: +SKIP
>>> result = ws.round(batch_size=20)                          # doctest: +SKIP
>>> ws.import_labels(result.csv_path, annotator="ana")        # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from textal.data.label_sets import parse_label_set
from textal.data.labels_file import read_label_rows
from textal.data.readers import (
    Record,
    SourceSummary,
    read_hf_records,
    read_records,
    scan_hf_source,
    scan_source,
)
from textal.embed import DEFAULT_BACKEND, Encoder, check_backend, resolve_model, same_vectors
from textal.errors import TextalError, show_value
from textal.fsio import disk_problem
from textal.ingest import IngestReport, ingest_records
from textal.ledger import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    Answer,
    LabelEvent,
    LabelValue,
    Ledger,
    RoundParams,
    RoundRecord,
    Selection,
)
from textal.quality.agreement import AgreementReport, annotator_agreement, labels_by_annotator
from textal.round.candidates import CANDIDATES, candidate_mode
from textal.round.stopping import agreement
from textal.store import (
    MilvusCredentials,
    StoreURI,
    VectorStore,
    open_store,
    quiet_milvus_client_logs,
)
from textal.store.base import Filtered
from textal.store.filters import INGESTED_AT, Filter, filter_text
from textal.store.serialized import serialized
from textal.strategy.diverse import BATCH_SIZE
from textal.strategy.multilabel import STRATEGY as ML_STRATEGY
from textal.strategy.scores import STRATEGY
from textal.workspace.accounts import Accounts
from textal.workspace.answers import check_label_mode, refusals, shown_label
from textal.workspace.batch_files import write_batch
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
from textal.workspace.export import export_labels
from textal.workspace.holder import refuse_if_served
from textal.workspace.queue import pending, queued_first
from textal.workspace.status import Status, read_status
from textal.workspace.suspects import Suspect, cached_count, find_suspects, save_count

if TYPE_CHECKING:  # scikit-learn is imported by the commands that train, not by every command
    from textal.model.predictor import Predictor
    from textal.round.plan import RoundPlan, Scorer

MEMORY_STORE_DIR = "memory-store"


@dataclass(frozen=True)
class RoundResult:
    """A recorded round and where its batch was written."""

    round: RoundRecord
    selections: list[Selection]
    csv_path: Path
    jsonl_path: Path
    reused: bool  # True when the open round was re-exported instead of a new one made
    label_column: str = "label"  # the column people fill: "labels" in a multi-label workspace


@dataclass(frozen=True)
class Source:
    """A source checked in full before anything is created or loaded: ``summary`` counts its
    rows; ``records()`` streams them (validating again as they come)."""

    summary: SourceSummary
    records: Callable[[], Iterator[Record]]


@dataclass(frozen=True)
class LabelImport:
    """What importing a label file did. ``overridden`` counts, per annotator, the current labels
    the file changed; ``label_set`` is the label set the file fixed (empty when one existed)."""

    recorded: int
    unchanged: int
    overridden: dict[str, int]
    label_set: tuple[str, ...]


@dataclass(frozen=True)
class AnswersWritten:
    """What :meth:`Workspace.write_answers` did: answers ``recorded`` and ``unchanged`` (the
    same as the item's state already), and with ``partial`` the ones ``refused``, by position
    in the answers given, with the reason."""

    recorded: int
    unchanged: int
    refused: dict[int, TextalError] = field(default_factory=dict)


def check_source(
    path: str | Path | None = None,
    *,
    dataset: str | None = None,
    split: str = "train",
    text_column: str = "text",
    id_column: str | None = None,
    label_column: str | None = None,
    meta_columns: Sequence[str] = (),
    multi_label: bool = False,
) -> Source:
    """Validate a whole file (``path``) or Hugging Face ``dataset`` split, keeping only counts:
    run before a workspace is created or a model loaded, so a bad source changes nothing.
    ``meta_columns`` (files only) are stored as item metadata, for filters. With
    ``multi_label`` (files only) the gold labels are label sets, stored as canonical cells."""
    text, ids, gold, meta = text_column, id_column, label_column, tuple(meta_columns)
    check_meta_columns(meta, text, ids, gold)
    if dataset is not None:
        if meta:
            raise TextalError("--meta-column works with files (--data FILE), not --dataset")
        if multi_label and gold:
            raise TextalError("gold label sets are read from files (--data FILE), not --dataset")
        name = dataset
        summary = scan_hf_source(
            name, split=split, text_column=text, id_column=ids, label_column=gold
        )
        return Source(
            summary,
            lambda: read_hf_records(
                name, split=split, text_column=text, id_column=ids, label_column=gold
            ),
        )
    if path is not None:
        file = path
        summary = scan_source(
            file, text_column=text, id_column=ids, label_column=gold, meta_columns=meta
        )
        return Source(
            summary,
            lambda: read_records(
                file,
                text_column=text,
                id_column=ids,
                label_column=gold,
                meta_columns=meta,
                multi_label=multi_label,
            ),
        )
    raise TextalError("give a file to ingest (--data FILE) or --dataset NAME")


def check_meta_columns(meta: Sequence[str], text: str, ids: str | None, gold: str | None) -> None:
    """Refuse metadata columns that a filter could not name or that clash with other keys."""
    for column in meta:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", column) or column in ("and", "or", "in"):
            raise TextalError(
                f"--meta-column {column!r}: a metadata column name must be letters, digits and _ "
                "(not starting with a digit), so that a filter can name it"
            )
        if column in (text, ids, gold, "gold", INGESTED_AT):
            raise TextalError(f"--meta-column {column!r}: that column or key is already stored")
    if len(set(meta)) < len(meta):
        raise TextalError(f"--meta-column names a column twice: {', '.join(meta)}")


class Workspace:
    """A labeling project: config, store, ledger and batch files under one directory.

    Open it with :meth:`open`; close it (or use ``with``) to release the store's lock.
    """

    def __init__(self, path: Path, config: WorkspaceConfig, store: VectorStore, ledger: Ledger):
        self.path = path
        self.config = config
        self.store = store
        self.ledger = ledger
        self._encoder: Encoder | None = None
        self.labels_added: tuple[str, ...] = ()  # names this open added to the label set
        self._backend = config.backend  # the session's backend: the recorded one's family
        self._device: str | None = None

    # -- opening --------------------------------------------------------------------------

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
    ) -> Workspace:
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
            if model is not None and resolve_model(model)[0] != config.model:
                raise TextalError(
                    f"workspace {root} embeds with {config.model} (dim {config.dim}); "
                    f"refusing --model {model}: use another --workspace for another model"
                )
            if embed_backend is not None and not same_vectors(embed_backend, config.backend):
                raise TextalError(
                    f"workspace {root} embeds with backend {config.backend}; refusing "
                    f"--embed-backend {check_backend(embed_backend)}, whose vectors differ: "
                    "use another --workspace for another backend"
                )
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
                if stored is None and config.multi_label:
                    ledger.make_multi_label()
                if ledger.multi_label != config.multi_label:
                    raise TextalError(
                        f"workspace {root}: {CONFIG_NAME} says multi_label = "
                        f"{str(config.multi_label).lower()} but its ledger records "
                        f"{'label sets' if ledger.multi_label else 'single labels'}: restore "
                        f"the {CONFIG_NAME} the workspace was created with"
                    )
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

    def close(self) -> None:
        self.store.close()
        self.ledger.close()

    @contextmanager
    def sibling(self) -> Iterator[Workspace]:
        """This workspace for another thread of this process: the same config, store and
        embedding model, its own ledger connection (SQLite connections belong to the thread that
        made them), closed at the end of the block; the store stays open."""
        ledger = Ledger(self.path / LEDGER_NAME)
        try:
            other = Workspace(self.path, self.config, self.store, ledger)
            other._encoder = self._encoder
            other._backend, other._device = self._backend, self._device
            yield other
        finally:
            ledger.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def encoder(self) -> Encoder:
        """The workspace's embedding model, loaded on first use."""
        if self._encoder is None:
            self._encoder = Encoder(self.config.model, device=self._device, backend=self._backend)
            if self._encoder.dim != self.config.dim:
                raise TextalError(
                    f"model {self.config.model} gives dimension {self._encoder.dim}, "
                    f"but workspace {self.path} stores dimension {self.config.dim}"
                )
        return self._encoder

    # -- ingest ---------------------------------------------------------------------------

    def ingest(
        self,
        path: str | Path | Source | None = None,
        *,
        dataset: str | None = None,
        split: str = "train",
        text_column: str = "text",
        id_column: str | None = None,
        label_column: str | None = None,
        meta_columns: Sequence[str] = (),
        report: IngestReport | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[IngestReport, SourceSummary]:
        """Embed and store every new item of a file (``path``), a Hugging Face ``dataset``, or a
        :class:`Source` from :func:`check_source` (which takes the other arguments). ``report``
        and ``cancel``: progress and stopping from another thread, as in
        :func:`textal.ingest.ingest_records`.

        The whole source is validated first, so a bad row anywhere stores nothing. The model is
        loaded only when an item is new. Returns the ingest report and the source summary (rows,
        skipped empty texts, duplicates, gold labels).
        """
        source = (
            path
            if isinstance(path, Source)
            else check_source(
                path,
                dataset=dataset,
                split=split,
                text_column=text_column,
                id_column=id_column,
                label_column=label_column,
                meta_columns=meta_columns,
                multi_label=self.multi_label,
            )
        )
        report = ingest_records(
            source.records(),
            lambda: self.encoder,
            self.store,
            total=source.summary.rows,
            report=report,
            cancel=cancel,
        )
        return report, source.summary

    # -- labels ---------------------------------------------------------------------------

    @property
    def multi_label(self) -> bool:
        """Whether answers here are label sets (fixed when the workspace was made)."""
        return self.config.multi_label

    def write_answers(
        self,
        answers: Sequence[Answer],
        *,
        confirm: bool = False,
        partial: bool = False,
        where: Sequence[str] | None = None,
    ) -> AnswersWritten:
        """Record ``answers`` in one ledger transaction: the one way a label is written (web,
        terminal, label files and the Python API all come here).

        Refused: an id not in the store (checked first, in one store query), a label outside
        the label set, a single label in a multi-label workspace or a set in a single-label one.
        Without ``partial`` a refusal raises (the first unknown id, else the first bad label)
        and nothing is recorded; with ``partial`` (the web's group commit of many people's
        answers) the others are recorded and :attr:`AnswersWritten.refused` says which were
        not. ``where[i]`` names answer ``i`` in messages (default: its source). ``confirm`` as
        in :meth:`textal.ledger.Ledger.add_answers`. A single-label workspace without a label
        set takes the labels of its first answers as its label set.
        """
        places = list(where) if where is not None else [a.source for a in answers]
        refused = refusals(answers, places, self.store, self.config)
        if refused and not partial:
            raise next(iter(refused.values()))
        accepted = [a for k, a in enumerate(answers) if k not in refused]
        recorded, unchanged = self.ledger.add_answers(accepted, confirm=confirm)
        seen = {a.label for a in accepted if isinstance(a.label, str)}
        if not self.config.labels and seen:
            self.config = with_labels(self.config, sorted(seen))
            write_config(self.path, self.config)
            self.labels_added = self.config.labels
        return AnswersWritten(recorded, unchanged, refused)

    def add_labels(
        self,
        labels: Iterable[tuple[str, LabelValue]],
        *,
        annotator: str = "api",
        source: str = "api",
        confirm: bool = False,
    ) -> tuple[int, int]:
        """Record ``(item_id, label)`` pairs (a label set in a multi-label workspace), all or
        nothing; returns ``(recorded, unchanged)``. See :meth:`write_answers`.

        Unknown ids, an id given two different labels and, when the workspace has a label set,
        unknown labels are refused. With ``confirm``, a label equal to the current one is
        recorded as ``annotator``'s confirmation (unless it is already theirs): confirmed items
        count for agreement and are not suspects.
        """
        pairs = list(labels)
        given: dict[str, LabelValue] = {}
        for item_id, label in pairs:
            if given.setdefault(item_id, label) != label:
                raise TextalError(
                    f"{source}: id {show_value(item_id)} is given two labels "
                    f"({shown_label(given[item_id])} and {shown_label(label)})"
                )
        answers = [Answer(i, label, LABEL, annotator, source) for i, label in pairs]
        written = self.write_answers(answers, confirm=confirm)
        return written.recorded, written.unchanged

    def import_labels(
        self, path: str | Path, *, annotator: str | None = None, confirm: bool = False
    ) -> LabelImport:
        """Apply a filled-in batch file or ``id,label`` file (``id,labels`` in a multi-label
        workspace), all or nothing.

        Rows with an empty label are skipped (not labeled yet). An unknown id or label, or one id
        given two labels, is refused with its row numbers and nothing of the file is applied. The
        result says whose current labels the file changed, and the label set it fixed if the
        workspace had none. ``confirm`` as in :meth:`add_labels`.
        """
        path = Path(path)
        rows = read_label_rows(path, multi_label=self.multi_label)
        who, source = annotator or "import", f"file:{path.name}"
        answers = [Answer(r.id, r.label, LABEL, who, source) for r in rows]
        latest = self.ledger.latest_events([r.id for r in rows])
        overridden = Counter(
            latest[a.item_id].annotator
            for a in {a.item_id: a for a in answers}.values()
            if a.item_id in latest
            and latest[a.item_id].kind == LABEL
            and latest[a.item_id].label != a.stored
        )
        had_labels = bool(self.config.labels)
        written = self.write_answers(
            answers, confirm=confirm, where=[f"{path}: row {r.row}" for r in rows]
        )
        fixed = self.config.labels if not had_labels and self.config.labels else ()
        return LabelImport(
            written.recorded, written.unchanged, dict(sorted(overridden.items())), fixed
        )

    def mark(self, item_id: str, kind: str, *, annotator: str, source: str) -> None:
        """Record ``unlabel`` (undo) or ``ambiguous`` for one item."""
        if kind not in (UNLABEL, AMBIGUOUS):
            raise ValueError(f"mark takes {UNLABEL!r} or {AMBIGUOUS!r}, not {kind!r}")
        self.write_answers([Answer(item_id, None, kind, annotator, source)])

    def current_label_sets(self) -> dict[str, frozenset[str]]:
        """A multi-label workspace's current answers, ``{item_id: label set}`` (an empty set:
        "none of these"), oldest first."""
        if not self.multi_label:
            raise TextalError(f"workspace {self.path} is single-label: it has no label sets")
        return self.ledger.current_label_sets()

    # -- rounds ---------------------------------------------------------------------------

    def round(
        self,
        *,
        batch_size: int = BATCH_SIZE.default,
        strategy: str | None = None,
        max_class_share: float | None = None,
        seed: int = 0,
        scorer: Scorer | None = None,
        candidates: str = CANDIDATES.default,
        filter: Filter | None = None,
    ) -> RoundResult:
        """Train, score, select a diverse batch, record it and write it for people.

        ``filter`` (:mod:`textal.store.filters`) restricts the unlabeled items the round scores
        and selects (e.g. today's reviews); it trains on every label all the same. It is
        recorded with the round (:attr:`RoundParams.filter`, in the filter language).

        ``batch_size`` is checked against :data:`textal.strategy.diverse.BATCH_SIZE`.
        ``candidates`` is what the round scores (:data:`textal.round.candidates.CANDIDATES`:
        ``"all"`` stored items, a candidate set from the vector ``"index"``, or ``"auto"``); see
        :func:`textal.round.plan.plan_round`.

        ``strategy`` names a built-in score (default: :data:`textal.strategy.scores.STRATEGY`'s);
        ``scorer`` is your own instead, ``(proba, vectors) -> scores`` (higher = ask first),
        recorded as strategy ``custom:<its name>``.

        The last round is still open while no label event arrived since it was made: asked again
        with exactly the same settings (the same filter, or none), its batch is written again.
        Asked with any other setting, a new round is recorded and the open one is marked
        superseded in the history (its items are free again, so the new round may pick some of
        them).
        """
        if scorer is not None and strategy is not None:
            raise ValueError("give a strategy name or your own scorer, not both")
        BATCH_SIZE.check(batch_size, "batch_size")
        registry = ML_STRATEGY if self.multi_label else STRATEGY
        if strategy is not None and strategy not in registry.choices:
            kind = "multi-label" if self.multi_label else "single-label"
            raise TextalError(
                f"strategy {show_value(strategy)} is not one for a {kind} workspace: choose "
                f"from {', '.join(registry.choices)}"
            )
        if self.multi_label and (scorer is not None or max_class_share is not None):
            raise TextalError(
                "a multi-label round takes no own scorer and no --max-class-share (a pick is "
                "predicted several labels)"
            )
        if scorer is not None:
            strategy = f"custom:{getattr(scorer, '__name__', 'scorer')}"
        pool = self.store if filter is None else Filtered(self.store, filter)
        count = pool.count()
        params = RoundParams(
            strategy or registry.default,
            batch_size,
            max_class_share,
            seed,
            candidate_mode(candidates, count),
            None if filter is None else filter_text(filter),
        )
        with self.ledger.snapshot():  # so last_seq names exactly the labels trained on
            rounds = self.ledger.rounds()
            last_seq = self.ledger.last_seq()
            labels = self.ledger.current_labels()
            ambiguous = self.ledger.ambiguous_items()
            stop_ids = self.ledger.stop_set()
        last = rounds[-1] if rounds else None
        queued = pending(self.path, set(labels) | ambiguous)[:batch_size]
        if (
            scorer is None  # a function cannot be compared with the one used before
            and last is not None
            and last.last_seq == last_seq
            and last.params == params
            and set(queued) <= {s.item_id for s in self.ledger.selections(last.round)}
        ):
            return self._export_round(last, reused=True)
        if count == 0 and filter is not None:
            raise TextalError(
                f"no item in the store {self.store.uri} matches the filter (items ingested "
                "before filters have no metadata but their gold label)"
            )
        if count == 0:
            raise TextalError(f"the store {self.store.uri} is empty: run `textal ingest` first")
        if filter is None and count <= len(labels) + len(ambiguous):
            raise TextalError(
                f"nothing left to label: all {count} items are labeled ({len(labels)}) or marked "
                f"ambiguous ({len(ambiguous)}); no round was recorded"
            )
        plan = self._plan(
            pool,
            labels,
            params,
            exclude=ambiguous | set(queued),
            batch_size=batch_size - len(queued),  # `predict --queue`'s reviews come first
            stop_ids=stop_ids,
            scorer=scorer,
        )
        report = replace(plan.report, agreement=self._agreement(rounds, plan))
        record = self.ledger.record_round(
            params=replace(plan.params, batch_size=batch_size, filter=params.filter),
            report=report,
            last_seq=last_seq,
            trained_on=plan.trained_on,
            selections=queued_first(self.store, plan, queued),
            stop_predictions=plan.stop_predictions,
            new_stop_set=list(plan.stop_predictions) if plan.drew_stop_set else (),
        )
        return self._export_round(record, reused=False)

    def _plan(
        self,
        pool: VectorStore,
        labels: dict[str, str],
        params: RoundParams,
        *,
        exclude: set[str],
        batch_size: int,
        stop_ids: list[str],
        scorer: Scorer | None,
    ) -> RoundPlan[Any]:
        """The round's plan: :func:`~textal.round.plan.plan_round` on the labels, or in a
        multi-label workspace :func:`~textal.round.multilabel.plan_multilabel_round` on the
        label sets (its picks keep every label's probability, :func:`_per_label`)."""
        if self.multi_label:
            from textal.round.multilabel import plan_multilabel_round

            plan = plan_multilabel_round(
                pool,
                {i: parse_label_set(cell) for i, cell in labels.items()},
                self.config.labels,
                strategy=params.strategy,
                batch_size=batch_size,
                exclude=exclude,
                seed=params.seed or 0,
                stop_ids=stop_ids or None,
                candidates=params.candidates,
            )
            return replace(plan, picks=[_per_label(s) for s in plan.picks])
        from textal.round.plan import plan_round  # scikit-learn: only for commands that train

        return plan_round(
            pool,
            labels,
            strategy=params.strategy,
            batch_size=batch_size,
            exclude=exclude,
            max_class_share=params.max_class_share,
            seed=params.seed or 0,
            stop_ids=stop_ids or None,
            scorer=scorer,
            candidates=params.candidates,
        )

    def _agreement(self, rounds: list[RoundRecord], plan: RoundPlan) -> float | None:
        """Kappa with the previous trained round's stop-set predictions; ``None`` without one,
        or when it was trained on these very labels (the same labels are no new evidence)."""
        trained = [r for r in rounds if not r.report.cold_start]
        if not trained or plan.report.cold_start or trained[-1].trained_on == plan.trained_on:
            return None
        return agreement(self.ledger.stop_predictions(trained[-1].round), plan.stop_predictions)

    def _export_round(self, record: RoundRecord, *, reused: bool) -> RoundResult:
        selections = self.ledger.selections(record.round)
        csv_path = self.path / "batches" / f"round-{record.round}.csv"
        names = self.config.labels if self.multi_label else None
        write_batch(csv_path, selections, self.store, label_names=names)
        return RoundResult(
            record,
            selections,
            csv_path,
            csv_path.with_suffix(".jsonl"),
            reused,
            "labels" if self.multi_label else "label",
        )

    def open_batch(self) -> list[Selection]:
        """The last round's selections that are not labeled or marked yet, by rank."""
        last = self.ledger.last_round()
        if last is None:
            return []
        done = set(self.ledger.current_labels()) | self.ledger.ambiguous_items()
        return [s for s in self.ledger.selections(last.round) if s.item_id not in done]

    # -- reading the ledger ---------------------------------------------------------------

    def last_seq(self) -> int:
        """The sequence number of the latest label event (0: none yet)."""
        return self.ledger.last_seq()

    def current_labels(self) -> dict[str, str]:
        """``{item_id: current label}`` (a canonical label-set cell when multi-label)."""
        return self.ledger.current_labels()

    def ambiguous_items(self) -> set[str]:
        """Items whose latest event marks them ambiguous."""
        return self.ledger.ambiguous_items()

    def history(self) -> list[LabelEvent]:
        """Every label event, oldest first."""
        return self.ledger.history()

    def events_of(self, item_ids: Sequence[str]) -> list[LabelEvent]:
        """Every label event on ``item_ids``, oldest first."""
        return self.ledger.events_of(item_ids)

    def rounds(self) -> list[RoundRecord]:
        """Every recorded round, oldest first."""
        return self.ledger.rounds()

    def last_round(self) -> RoundRecord | None:
        return self.ledger.last_round()

    def selections(self, round_number: int) -> list[Selection]:
        """A round's selections, by rank."""
        return self.ledger.selections(round_number)

    @property
    def accounts(self) -> Accounts:
        """The web accounts and sessions (this thread's ledger connection)."""
        return Accounts(self.ledger)

    # -- reporting ------------------------------------------------------------------------

    def suspects(self, limit: int | None = None, *, seed: int = 0) -> list[Suspect]:
        """The current labels most likely wrong, most likely first (at most ``limit``); never
        changes a label. Also caches their total for :meth:`status`."""
        names = self.config.labels if self.multi_label else None
        found, last_seq = find_suspects(self.store, self.ledger, seed=seed, label_names=names)
        save_count(self.path, last_seq, len(found))
        return found if limit is None else found[:limit]

    def annotator_agreement(self) -> AgreementReport:
        """Cohen's kappa per pair of annotators and the items they disagree on, from each
        annotator's latest label per item (label sets: the mean per-label kappa, see
        :mod:`textal.quality.agreement`)."""
        with self.ledger.snapshot():
            events = self.ledger.history()
            labels = self.ledger.current_labels()
        names = self.config.labels if self.multi_label else None
        return annotator_agreement(labels_by_annotator(events), labels, label_names=names)

    def status(self, *, suspects: bool = False) -> Status:
        """What ``textal status`` shows; ``suspects`` recomputes the suspect count (seconds)
        instead of showing the one cached at the current ledger state (or none)."""
        suspect_count = (
            len(self.suspects()) if suspects else cached_count(self.path, self.ledger.last_seq())
        )
        pairs = self.annotator_agreement()
        return read_status(self.path, self.config, self.store, self.ledger, suspect_count, pairs)

    def predictor(self, *, min_precision: float | None = None) -> Predictor:
        """The model for new reviews, trained on the current labels (or loaded from
        WORKSPACE/model/ when it was trained on exactly these), routing at ``min_precision``
        (default 0.95): see :mod:`textal.workspace.predicting`. Immutable."""
        from textal.workspace.predicting import workspace_predictor

        if self.multi_label:
            raise TextalError(
                f"workspace {self.path} is multi-label: its predictions are label sets "
                "(`textal predict`), not one routed label"
            )
        return workspace_predictor(self, min_precision=min_precision)

    def export(
        self, path: str | Path, *, predictions: bool = False, filter: Filter | None = None
    ) -> int:
        """Write current labels (and, with ``predictions``, every item's prediction) as CSV and
        JSONL; returns the number of rows written; ``filter`` keeps the items it matches. Without
        ``predictions``, ``annotators`` holds ``{annotator: label}`` where several annotators
        labeled the item (their latest labels). A multi-label workspace writes a ``labels``
        column (names joined by ``;`` in CSV, a list in JSONL) and, with ``predictions``, the
        predicted set and one ``p_<label>`` column per label."""
        return export_labels(
            Path(path),
            self.store,
            self.ledger,
            predictions=predictions,
            filter=filter,
            label_names=self.config.labels if self.multi_label else None,
        )


def _per_label(pick: Selection) -> Selection:
    """A multi-label pick as the ledger keeps it: every label's presence probability in
    ``probabilities`` (label order), the two likeliest in ``top2``, best first."""
    best = sorted(pick.top2, key=lambda c: -c.probability)[:2]
    return replace(pick, top2=tuple(best), probabilities=pick.top2)


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
