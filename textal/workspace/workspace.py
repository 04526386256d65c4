"""The Python API: one labeling project in one directory. The CLI is a thin shell over this.

>>> ws = Workspace.open("textal-workspace", model=None)       # doctest: +SKIP
>>> ws.ingest("reviews.csv")                                  # doctest: +SKIP
>>> result = ws.round(batch_size=20)                          # doctest: +SKIP
>>> ws.import_labels(result.csv_path, annotator="ana")        # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textal.data.labels_file import read_label_rows
from textal.data.readers import (
    SourceSummary,
    read_hf_records,
    read_records,
    scan_hf_source,
    scan_source,
)
from textal.embed import DEFAULT_BACKEND, Encoder, check_backend, resolve_model, same_vectors
from textal.errors import TextalError, show_value
from textal.ingest import IngestReport, ingest_records
from textal.ledger import AMBIGUOUS, LABEL, UNLABEL, Ledger, NewLabel, RoundRecord, Selection
from textal.model.automl import AutoClassifier
from textal.round.plan import RoundPlan, plan_round
from textal.round.stopping import agreement, is_stable
from textal.store import VectorStore, open_store
from textal.strategy.scores import DEFAULT_STRATEGY
from textal.workspace.batch_files import write_atomic_rows
from textal.workspace.config import (
    DEFAULT_COLLECTION,
    DEFAULT_STORE_URI,
    WorkspaceConfig,
    read_config,
    with_labels,
    workspace_path,
    write_config,
)

LEDGER_NAME = "ledger.sqlite"
MEMORY_STORE_DIR = "memory-store"
BATCH_HEADER = [
    "id", "label", "text", "predicted", "top1", "p1", "top2", "p2", "score", "why",
]  # fmt: skip
WHY_TEXT_CHARS = 80


@dataclass(frozen=True)
class RoundResult:
    """A recorded round and where its batch was written."""

    round: RoundRecord
    selections: list[Selection]
    csv_path: Path
    jsonl_path: Path
    reused: bool  # True when the open round was re-exported instead of a new one made


@dataclass(frozen=True)
class Status:
    """What ``textal status`` shows."""

    workspace: Path
    model: str
    dim: int
    store_uri: str
    items: int
    label_counts: dict[str, int]
    ambiguous: int
    rounds: int
    last_model: str | None
    last_cv_score: float | None
    agreement: float | None
    stable: bool


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
        embed_backend: str | None = None,
        device: str | None = None,
    ) -> Workspace:
        """Open the workspace at ``path`` (default ``$TEXTAL_WORKSPACE`` or ``./textal-workspace``).

        A new workspace is created when ``create`` is true: ``model`` picks its embedding model
        (default all-MiniLM-L6-v2), ``store_uri`` its store (default a Milvus Lite file inside it;
        ``"memory"`` for files in the workspace; ``http(s)://host:port`` for a server).
        An existing workspace refuses another ``model``; ``store_uri``/``collection`` given here
        override its config for this session only. ``embed_backend`` (default ``"torch"``) is
        recorded in a new workspace; an existing one refuses a backend whose vectors differ from
        its recorded one's and uses an interchangeable one for this session. ``device`` (``"cpu"``,
        ``"cuda"``; default: a GPU when there is one) only affects this session.
        """
        root = workspace_path(path)
        config = stored = read_config(root)
        encoder = None
        if config is None:
            if not create:
                raise TextalError(f"no textal workspace at {root}: run `textal ingest` first")
            encoder = Encoder(model, device=device, backend=embed_backend or DEFAULT_BACKEND)
            config = WorkspaceConfig(
                model=encoder.model_id,
                dim=encoder.dim,
                store_uri=store_uri or DEFAULT_STORE_URI,
                collection=collection or DEFAULT_COLLECTION,
                labels=tuple(dict.fromkeys(labels)),
                backend=encoder.backend,
            )
        elif model is not None and resolve_model(model)[0] != config.model:
            raise TextalError(
                f"workspace {root} embeds with {config.model} (dim {config.dim}); "
                f"refusing --model {model}: use another --workspace for another model"
            )
        elif embed_backend is not None and not same_vectors(embed_backend, config.backend):
            raise TextalError(
                f"workspace {root} embeds with backend {config.backend}; refusing "
                f"--embed-backend {check_backend(embed_backend)}, whose vectors differ: "
                "use another --workspace for another backend"
            )
        elif labels:
            config = with_labels(config, list(labels))
        root.mkdir(parents=True, exist_ok=True)
        ledger = Ledger(root / LEDGER_NAME)
        try:
            store = _open_workspace_store(
                root, config, store_uri or config.store_uri, collection or config.collection
            )
        except BaseException:
            ledger.close()
            raise
        if config != stored:  # new, or new labels: read-only opens never rewrite the config
            write_config(root, config)
        workspace = cls(root, config, store, ledger)
        workspace._encoder = encoder
        workspace._backend = embed_backend or config.backend
        workspace._device = device
        return workspace

    def close(self) -> None:
        self.store.close()
        self.ledger.close()

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
        path: str | Path | None = None,
        *,
        dataset: str | None = None,
        split: str = "train",
        text_column: str = "text",
        id_column: str | None = None,
        label_column: str | None = None,
    ) -> tuple[IngestReport, SourceSummary]:
        """Embed and store every new item of a file (``path``) or Hugging Face ``dataset``.

        The whole source is validated first, so a bad row anywhere stores nothing. Returns the
        ingest report and the source summary (rows, skipped empty texts, duplicates, gold labels).
        """
        columns = dict(text_column=text_column, id_column=id_column, label_column=label_column)
        if dataset is not None:
            summary = scan_hf_source(dataset, split=split, **columns)
            records = read_hf_records(dataset, split=split, **columns)
        elif path is not None:
            summary = scan_source(path, **columns)
            records = read_records(path, **columns)
        else:
            raise TextalError("give a file to ingest (--data FILE) or --dataset NAME")
        report = ingest_records(records, self.encoder, self.store, total=summary.rows)
        return report, summary

    # -- labels ---------------------------------------------------------------------------

    def add_labels(
        self,
        labels: Iterable[tuple[str, str]],
        *,
        annotator: str = "api",
        source: str = "api",
    ) -> tuple[int, int]:
        """Record ``(item_id, label)`` pairs, all or nothing; returns ``(recorded, unchanged)``.

        Unknown ids and, when the workspace has a label set, unknown labels are refused.
        """
        pairs = list(labels)
        self._refuse_unknown([(source, item_id, label) for item_id, label in pairs])
        return self._record([NewLabel(i, label) for i, label in pairs], annotator, source)

    def import_labels(self, path: str | Path, *, annotator: str | None = None) -> tuple[int, int]:
        """Apply a filled-in batch file or ``id,label`` file, all or nothing.

        Rows with an empty label are skipped (not labeled yet). An unknown id or label is refused
        with its row number and nothing of the file is applied.
        """
        path = Path(path)
        rows = read_label_rows(path)
        self._refuse_unknown([(f"{path}: row {r.row}", r.id, r.label) for r in rows])
        new = [NewLabel(r.id, r.label) for r in rows]
        return self._record(new, annotator or "import", f"file:{path.name}")

    def mark(self, item_id: str, kind: str, *, annotator: str, source: str) -> None:
        """Record ``unlabel`` (undo) or ``ambiguous`` for one item."""
        if kind not in (UNLABEL, AMBIGUOUS):
            raise ValueError(f"mark takes {UNLABEL!r} or {AMBIGUOUS!r}, not {kind!r}")
        self.ledger.add_labels([NewLabel(item_id, None, kind)], annotator=annotator, source=source)

    def _record(self, new: list[NewLabel], annotator: str, source: str) -> tuple[int, int]:
        result = self.ledger.add_labels(new, annotator=annotator, source=source)
        seen = [n.label for n in new if n.kind == LABEL and n.label is not None]
        if not self.config.labels and seen:
            self.config = with_labels(self.config, sorted(set(seen)))
            write_config(self.path, self.config)
        return result

    def _refuse_unknown(self, entries: list[tuple[str, str, str]]) -> None:
        """Refuse ``(where, item_id, label)`` entries naming an id not in the store (checked
        first, in one store query), or a label outside the workspace's label set."""
        stored = self.store.existing_ids([item_id for _, item_id, _ in entries])
        for where, item_id, _ in entries:
            if item_id not in stored:
                raise TextalError(f"{where}: unknown id {show_value(item_id)} (not in the store)")
        if self.config.labels:
            for where, _, label in entries:
                if label not in self.config.labels:
                    raise TextalError(
                        f"{where}: unknown label {show_value(label)} "
                        f"(labels: {', '.join(self.config.labels)})"
                    )

    # -- rounds ---------------------------------------------------------------------------

    def round(
        self,
        *,
        batch_size: int = 20,
        strategy: str = DEFAULT_STRATEGY,
        max_class_share: float | None = None,
        seed: int = 0,
    ) -> RoundResult:
        """Train, score, select a diverse batch, record it and write it for people.

        When the last round got no labels since it was made and asked for the same batch, it is
        still open: its batch is written again instead of a duplicate round being recorded.
        """
        with self.ledger.snapshot():  # so last_seq names exactly the labels trained on
            last = self.ledger.last_round()
            last_seq = self.ledger.last_seq()
            labels = self.ledger.current_labels()
            ambiguous = self.ledger.ambiguous_items()
        if (
            last is not None
            and last.last_seq == last_seq
            and (last.strategy, last.batch_size) == (strategy, batch_size)
        ):
            return self._export_round(last, reused=True)
        if self.store.count() == 0:
            raise TextalError(f"the store {self.store.uri} is empty: run `textal ingest` first")
        plan = plan_round(
            self.store,
            labels,
            strategy=strategy,
            batch_size=batch_size,
            exclude=ambiguous,
            max_class_share=max_class_share,
            seed=seed,
            stop_ids=self._stop_ids(),
        )
        report = dict(plan.report)
        report["stop_predictions"] = plan.stop_predictions
        report["agreement"] = self._agreement(last, plan)
        record = self.ledger.record_round(
            strategy=strategy,
            batch_size=batch_size,
            last_seq=last_seq,
            model=plan.model_name,
            cv_score=plan.cv_score,
            report=report,
            selections=_selections(plan),
        )
        return self._export_round(record, reused=False)

    def _stop_ids(self) -> list[str] | None:
        """The stop set drawn by the first trained round, reused so it stays fixed."""
        for record in self.ledger.rounds():
            if record.report.get("stop_predictions"):
                return list(record.report["stop_predictions"])
        return None

    @staticmethod
    def _agreement(last: RoundRecord | None, plan: RoundPlan) -> float | None:
        if last is None or not plan.stop_predictions:
            return None
        return agreement(last.report.get("stop_predictions", {}), plan.stop_predictions)

    def _export_round(self, record: RoundRecord, *, reused: bool) -> RoundResult:
        selections = self.ledger.selections(record.round)
        reasons = [s.reason for s in selections]
        neighbour_ids = list({n[0] for r in reasons for n in r.get("why", [])})
        texts = {item.id: item.text for item in self.store.get(neighbour_ids)}
        items = {item.id: item for item in self.store.get([s.item_id for s in selections])}
        rows = []
        for s in selections:
            top2 = s.reason.get("top2", [])
            rows.append(
                {
                    "id": s.item_id,
                    "label": "",
                    "text": items[s.item_id].text,
                    "predicted": s.predicted,
                    "top1": top2[0][0] if top2 else None,
                    "p1": top2[0][1] if top2 else None,
                    "top2": top2[1][0] if len(top2) > 1 else None,
                    "p2": top2[1][1] if len(top2) > 1 else None,
                    "score": s.score,
                    "why": " | ".join(
                        f"{label} ({sim:.2f}): {_snippet(texts.get(nid, ''))}"
                        for nid, label, sim in s.reason.get("why", [])
                    ),
                }
            )
        csv_path = self.path / "batches" / f"round-{record.round}.csv"
        write_atomic_rows(csv_path, BATCH_HEADER, rows)
        return RoundResult(record, selections, csv_path, csv_path.with_suffix(".jsonl"), reused)

    def open_batch(self) -> list[Selection]:
        """The last round's selections that are not labeled or marked yet, by rank."""
        last = self.ledger.last_round()
        if last is None:
            return []
        done = set(self.ledger.current_labels()) | self.ledger.ambiguous_items()
        return [s for s in self.ledger.selections(last.round) if s.item_id not in done]

    # -- reporting ------------------------------------------------------------------------

    def status(self) -> Status:
        labels = self.ledger.current_labels()
        rounds = self.ledger.rounds()
        last = rounds[-1] if rounds else None
        kappas = [r.report.get("agreement") for r in rounds if not r.report.get("cold_start")]
        return Status(
            workspace=self.path,
            model=self.config.model,
            dim=self.config.dim,
            store_uri=self.store.uri,
            items=self.store.count(),
            label_counts=dict(sorted(Counter(labels.values()).items())),
            ambiguous=len(self.ledger.ambiguous_items()),
            rounds=len(rounds),
            last_model=last.model if last else None,
            last_cv_score=last.cv_score if last else None,
            agreement=kappas[-1] if kappas else None,
            stable=is_stable(kappas),
        )

    def export(self, path: str | Path, *, predictions: bool = False) -> int:
        """Write current labels (and, with ``predictions``, every item's prediction) as CSV and
        JSONL; returns the number of rows written."""
        path = Path(path)
        labels = self.ledger.current_labels()
        history = {e.item_id: e for e in self.ledger.history() if e.kind == LABEL}
        if not predictions:
            items = self.store.get(list(labels))
            rows = [
                {
                    "id": item.id,
                    "text": item.text,
                    "label": labels[item.id],
                    "annotator": history[item.id].annotator,
                    "labeled_at": history[item.id].created_at,
                }
                for item in items
            ]
            write_atomic_rows(path, ["id", "text", "label", "annotator", "labeled_at"], rows)
            return len(rows)
        if len(set(labels.values())) < 2:
            raise TextalError("predictions need labels of at least two classes")
        ids = list(labels)
        model = AutoClassifier().fit(
            self.store.get_vectors(ids), np.asarray([labels[i] for i in ids])
        )
        rows = []
        for chunk in self.store.iterate():
            proba = model.predict_proba(chunk.vectors)
            best = proba.argmax(axis=1)
            texts = {item.id: item.text for item in self.store.get(chunk.ids)}
            for k, item_id in enumerate(chunk.ids):
                rows.append(
                    {
                        "id": item_id,
                        "text": texts[item_id],
                        "label": labels.get(item_id, ""),
                        "predicted": str(model.classes_[best[k]]),
                        "confidence": float(proba[k, best[k]]),
                    }
                )
        write_atomic_rows(path, ["id", "text", "label", "predicted", "confidence"], rows)
        return len(rows)


def _open_workspace_store(
    root: Path, config: WorkspaceConfig, uri: str, collection: str
) -> VectorStore:
    if uri == "memory":
        uri = f"memory:{MEMORY_STORE_DIR}"  # relative to the workspace
    return open_store(uri, config.dim, collection=collection, workspace=root)


def _selections(plan: RoundPlan) -> list[Selection]:
    return [
        Selection(
            rank=rank,
            item_id=pick.item_id,
            score=pick.score,
            predicted=pick.predicted,
            reason={"top2": pick.top2, "why": pick.why, "cold_start": plan.model is None},
        )
        for rank, pick in enumerate(plan.picks, start=1)
    ]


def _snippet(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= WHY_TEXT_CHARS else flat[: WHY_TEXT_CHARS - 1] + "…"


def dumps_status(status: Status) -> str:
    """``status`` as JSON, for scripts."""
    data = dict(status.__dict__)
    data["workspace"] = str(status.workspace)
    return json.dumps(data, indent=2)
