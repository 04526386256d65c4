"""Ingest: checking a source in full, then embedding and storing its new items."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from textal.data.readers import (
    Record,
    SourceSummary,
    read_hf_records,
    read_records,
    scan_hf_source,
    scan_source,
)
from textal.errors import TextalError
from textal.ingest import IngestReport, ingest_records
from textal.store.filters import INGESTED_AT
from textal.workspace.core import WorkspaceCore


@dataclass(frozen=True)
class Source:
    """A source checked in full before anything is created or loaded: ``summary`` counts its
    rows; ``records()`` streams them (validating again as they come)."""

    summary: SourceSummary
    records: Callable[[], Iterator[Record]]


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


class Ingesting(WorkspaceCore):
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
