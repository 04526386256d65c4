"""``textal export``: every current label (or every item's prediction) as CSV and JSONL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from textal.data.label_sets import label_matrix, label_sets_of, parse_label_set
from textal.errors import TextalError
from textal.ledger import LABEL, Ledger
from textal.quality.agreement import labels_by_annotator
from textal.store import VectorStore
from textal.store.filters import Filter, predicate
from textal.workspace.batch_files import row_file_paths, write_atomic_rows

# Who gave an item's current label and when, and each annotator's where several labeled it.
PROVENANCE = ["annotator", "labeled_at", "annotators"]
LABEL_HEADER = ["id", "text", "label", *PROVENANCE]
PREDICTION_HEADER = ["id", "text", "label", *PROVENANCE, "predicted", "confidence"]
# A multi-label workspace writes ``labels`` (names joined by ';' in CSV, a list in JSONL).
SETS_HEADER = ["id", "text", "labels", *PROVENANCE]


def export_labels(
    path: Path,
    store: VectorStore,
    ledger: Ledger,
    *,
    predictions: bool,
    filter: Filter | None = None,
    label_names: Sequence[str] | None = None,
) -> int:
    """Write current labels (with ``predictions``, every item's prediction) to ``path`` and its
    ``.jsonl``, of the items ``filter`` matches; returns the number of rows. ``label_names``: a
    multi-label workspace's labels (``labels`` column of sets, ``p_<label>`` probabilities).
    See :meth:`textal.workspace.Workspace.export`."""
    row_file_paths(path)  # refuse an unwritable target before any work
    sets = label_names is not None
    with ledger.snapshot():  # the labels and who gave them, as of one moment
        labels = {} if sets else ledger.current_labels()
        label_sets = ledger.current_label_sets() if sets else {}
        who = _provenance(ledger, sets)
    if label_names is not None:
        if predictions:
            rows = _set_prediction_rows(store, label_sets, label_names, filter, who)
            header = [*SETS_HEADER, "predicted", *(f"p_{n}" for n in label_names)]
        else:
            header, rows = SETS_HEADER, _label_rows(store, label_sets, who, filter, "labels")
    elif predictions:
        header, rows = PREDICTION_HEADER, _prediction_rows(store, labels, filter, who)
    else:
        header, rows = LABEL_HEADER, _label_rows(store, labels, who, filter, "label")
    write_atomic_rows(path, header, rows)
    return len(rows)


def _label_rows(
    store: VectorStore,
    labels: Mapping[str, object],
    who: dict[str, dict[str, object]],
    filter: Filter | None,
    column: str,
) -> list[dict[str, object]]:
    """One row per labeled item: its label (or set) in ``column``, and ``who`` gave it."""
    items = store.get(list(labels))
    if filter is not None:
        holds = predicate(filter)
        items = [item for item in items if holds(item.metadata)]
    return [
        {"id": item.id, "text": item.text, column: labels[item.id], **who[item.id]}
        for item in items
    ]


def _provenance(ledger: Ledger, sets: bool) -> dict[str, dict[str, object]]:
    """Per labeled item, the :data:`PROVENANCE` columns; ``sets``: annotators' labels as sets.
    Call it inside the snapshot that read the labels."""
    current = {e.item_id: e for e in ledger.current_events() if e.kind == LABEL}
    by_annotator = labels_by_annotator(ledger.history())
    return {
        item_id: {
            "annotator": event.annotator,
            "labeled_at": event.created_at,
            "annotators": _several(
                {
                    a: parse_label_set(c) if sets else c
                    for a, c in by_annotator.get(item_id, {}).items()
                }
            ),
        }
        for item_id, event in current.items()
    }


def _prediction_rows(
    store: VectorStore,
    labels: dict[str, str],
    filter: Filter | None,
    who: dict[str, dict[str, object]],
) -> list[dict[str, object]]:
    """One row per stored item: its label and ``who`` gave it if any, and the prediction of a
    model fitted on ``labels``."""
    from textal.model.automl import fit_on_labels  # scikit-learn: only when predicting

    ids = list(labels)
    y = np.asarray([labels[i] for i in ids])
    vectors = store.get_vectors(ids) if ids else np.empty((0, store.dim), np.float32)
    model = fit_on_labels(vectors, y)
    if model is None:
        raise TextalError("predictions need labels of at least two classes")
    rows: list[dict[str, object]] = []
    for chunk in store.iterate(filter=filter):
        proba = model.predict_proba(chunk.vectors)
        best = proba.argmax(axis=1)
        texts = {item.id: item.text for item in store.get(chunk.ids)}
        for k, item_id in enumerate(chunk.ids):
            rows.append(
                {
                    "id": item_id,
                    "text": texts[item_id],
                    "label": labels.get(item_id, ""),
                    **who.get(item_id, _NOBODY),
                    "predicted": str(model.classes_[best[k]]),
                    "confidence": float(proba[k, best[k]]),
                }
            )
    return rows


def _set_prediction_rows(
    store: VectorStore,
    label_sets: dict[str, frozenset[str]],
    label_names: Sequence[str],
    filter: Filter | None,
    who: dict[str, dict[str, object]],
) -> list[dict[str, object]]:
    """One row per stored item: its label set and ``who`` gave it if any, the predicted set of
    a multi-label head fitted on ``label_sets`` and each label's presence probability."""
    from textal.model.multilabel import fit_on_label_sets  # scikit-learn: only when predicting

    ids = list(label_sets)
    vectors = store.get_vectors(ids) if ids else np.empty((0, store.dim), np.float32)
    Y = label_matrix([label_sets[i] for i in ids], label_names)
    model = fit_on_label_sets(vectors, Y, label_names=label_names)
    if model is None:
        raise TextalError("predictions need a label that some labeled item has and another lacks")
    rows: list[dict[str, object]] = []
    for chunk in store.iterate(filter=filter):
        proba = model.predict_proba(chunk.vectors)
        predicted = label_sets_of(proba >= model.thresholds_, label_names)
        texts = {item.id: item.text for item in store.get(chunk.ids)}
        for k, item_id in enumerate(chunk.ids):
            rows.append(
                {
                    "id": item_id,
                    "text": texts[item_id],
                    "labels": label_sets.get(item_id),
                    **who.get(item_id, _NOBODY),
                    "predicted": predicted[k],
                    **{f"p_{n}": float(proba[k, j]) for j, n in enumerate(label_names)},
                }
            )
    return rows


_NOBODY: dict[str, object] = {"annotator": "", "labeled_at": "", "annotators": None}


def _several(labels: dict[str, Any]) -> dict[str, Any] | None:
    """Each annotator's latest label of an item, where more than one annotator labeled it."""
    return labels if len(labels) > 1 else None
