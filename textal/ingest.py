"""Ingest: records -> embeddings -> store; each item embedded once, storing overlaps encoding.

Resumable by construction: ids are stable (the source's id column or a content hash), every batch
is stored as soon as it is embedded, and ids already stored are neither embedded nor stored again.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

import numpy as np
from tqdm import tqdm

from textal.data.ids import content_id
from textal.data.readers import Record
from textal.embed import Encoder
from textal.store import VectorStore
from textal.store.filters import INGESTED_AT

LOOKUP_CHUNK = 4096  # records whose ids are checked against the store in one query
# Texts per encode call: sentence-transformers sorts by length within a call, so larger calls pad
# less; the store writes one call's vectors while the next call encodes.
ENCODE_CHUNK = 1024
CHANGED_IDS_SHOWN = 5


@dataclass
class IngestReport:
    """What one ingest did. ``already_stored`` items were skipped without embedding; of those,
    ``changed_text`` ids (source ids, not content hashes) came with another text than the stored
    one, which was kept (items never change): ``changed_ids`` are the first few."""

    read: int = 0
    added: int = 0
    already_stored: int = 0
    embedded: int = 0
    changed_text: int = 0
    changed_ids: list[str] = field(default_factory=list)

    def note_changed(self, ids: list[str]) -> None:
        self.changed_text += len(ids)
        self.changed_ids += ids[: max(0, CHANGED_IDS_SHOWN - len(self.changed_ids))]


def _chunks(records: Iterable[Record], size: int) -> Iterator[list[Record]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def _progress(total: int | None, desc: str, position: int) -> tqdm:
    # disable=None: bars on a terminal, silent when output is redirected or in CI logs.
    return tqdm(
        total=total, desc=desc, unit="item", position=position, disable=None, file=sys.stderr
    )


def _changed_texts(known: list[Record], store: VectorStore) -> list[str]:
    """Ids among stored ``known`` records whose stored text differs from the record's. Content
    ids are skipped: the same id means the same normalised text."""
    by_source_id = {r.id: r.text for r in known if r.id != content_id(r.text)}
    if not by_source_id:
        return []
    return [i.id for i in store.get(list(by_source_id)) if i.text != by_source_id[i.id]]


class _StoreWriter:
    """Stores batches on a background thread so the encoder never waits for the store."""

    def __init__(self, store: VectorStore, bar: tqdm):
        self._store = store
        self._ingested_at = int(time.time())  # one ingest, one time: the items' INGESTED_AT
        self._bar = bar
        self._queue: queue.Queue = queue.Queue(maxsize=2)
        self._error: BaseException | None = None
        self.added = 0
        self.report = IngestReport()  # kept up to date with ``added``, for progress
        self._thread = threading.Thread(target=self._run, name="textal-store-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain after a failure so put() never blocks forever
            records, vectors = batch
            try:
                self.added += self._store.add(
                    [r.id for r in records],
                    vectors,
                    [r.text for r in records],
                    [self._metadata(r) for r in records],
                )
                self._bar.update(len(records))
                self.report.added = self.added
            except BaseException as exc:
                self._error = exc

    def _metadata(self, record: Record) -> dict:
        meta = {**record.meta, INGESTED_AT: self._ingested_at}
        if record.gold is not None:
            meta["gold"] = record.gold
        return meta

    def put(self, records: list[Record], vectors: np.ndarray) -> None:
        self._raise_if_failed()
        self._queue.put((records, vectors))

    def finish(self) -> None:
        self._queue.put(None)
        self._thread.join()
        self._raise_if_failed()

    def _raise_if_failed(self) -> None:
        if self._error is not None:
            raise self._error


def ingest_records(
    records: Iterable[Record],
    encoder: Encoder | Callable[[], Encoder],
    store: VectorStore,
    *,
    total: int | None = None,
    batch_size: int = ENCODE_CHUNK,
    report: IngestReport | None = None,
    cancel: threading.Event | None = None,
) -> IngestReport:
    """Embed and store every record whose id is not stored yet.

    ``records`` must already be validated (the data layer refuses bad sources before this runs);
    ``total`` sizes the progress bars. ``encoder`` may be a function returning it: it is then
    called (loading the model) only when some record is new. Interrupting and re-running is safe.
    ``report`` (default a new one) is updated as the work goes, so another thread can show
    progress (``embedded`` counts vectors made, ``added`` those stored); ``cancel`` stops the
    work after the batch in hand, keeping what was stored.
    """
    report = IngestReport() if report is None else report
    embed_bar = _progress(total, "embedding", 0)
    store_bar = _progress(total, "storing", 1)
    writer = _StoreWriter(store, store_bar)
    writer.report = report
    try:
        store_empty = store.count() == 0
        for chunk in _chunks(records, LOOKUP_CHUNK):
            report.read += len(chunk)
            known = set() if store_empty else store.existing_ids([r.id for r in chunk])
            new = [r for r in chunk if r.id not in known]
            report.already_stored += len(chunk) - len(new)
            report.note_changed(_changed_texts([r for r in chunk if r.id in known], store))
            embed_bar.update(len(chunk) - len(new))
            store_bar.update(len(chunk) - len(new))
            for batch in _chunks(new, batch_size):
                if cancel is not None and cancel.is_set():
                    return report
                if not isinstance(encoder, Encoder):
                    encoder = encoder()
                vectors = encoder.encode([r.text for r in batch])
                report.embedded += len(batch)
                embed_bar.update(len(batch))
                writer.put(batch, vectors)
            if cancel is not None and cancel.is_set():
                return report
    finally:
        writer.finish()
        embed_bar.close()
        store_bar.close()
        report.added = writer.added
    return report
