"""Suspect labels of a workspace: the detector (``textal.quality.suspects``) on its current labels,
as records for people, the suspects file, and the count ``textal status`` shows.

Nothing here changes a label: a correction is a new label event (``textal label``), and an item
whose current label two distinct annotators gave is trusted and never listed.

The count is cached per ledger state in ``WORKSPACE/suspects/summary.csv`` (and ``.jsonl``): the
detector cross-validates the head, seconds for thousands of labels, too slow for every
``textal status``. ``status`` shows the cached count while no label event has happened since it
was computed, and ``status --suspects`` (or ``textal suspects``) recomputes it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from textal.data.label_sets import join_label_set, label_matrix, parse_label_set
from textal.ledger import LABEL, LabelEvent, Ledger
from textal.quality.agreement import confirmed_items, labels_by_annotator
from textal.store import VectorStore
from textal.workspace.batch_files import write_atomic_rows

SUSPECTS_DIR = "suspects"
SUMMARY_FILE = "summary.csv"
SUSPECT_HEADER = [
    "id", "label", "given", "suggested", "confidence", "p_model", "p_neighbours",
    "annotator", "labeled_at", "text", "neighbours",
]  # fmt: skip
NEIGHBOURS_SHOWN = 3


@dataclass(frozen=True)
class Neighbour:
    """A labeled item near a suspect whose label differs from the suspect's given label."""

    item_id: str
    label: str
    similarity: float
    text: str


@dataclass(frozen=True)
class Suspect:
    """A current label that the evidence says is likely wrong (see ``textal.quality.suspects``).

    In a multi-label workspace (``textal.quality.multilabel``) ``given`` and ``suggested`` are
    label sets' cells (names joined by ``;``, ``""``: none of these), ``p_model`` is one minus
    the confidence (cleanlab's quality of the given set), ``p_neighbours`` is ``None`` (no
    neighbour vote), ``label_proba`` holds each label's out-of-fold presence probability and
    ``neighbours`` is empty."""

    item_id: str
    text: str
    given: str
    suggested: str
    confidence: float
    p_model: float
    p_neighbours: float | None
    annotator: str
    labeled_at: str
    neighbours: list[Neighbour]
    label_proba: dict[str, float] | None = None


def find_suspects(
    store: VectorStore,
    ledger: Ledger,
    *,
    seed: int = 0,
    label_names: Sequence[str] | None = None,
) -> tuple[list[Suspect], int]:
    """Every suspect label, most likely wrong first, and the ledger's ``last_seq`` they reflect.
    ``label_names``: a multi-label workspace's labels (suspect label sets)."""
    from textal.quality.suspects import rank_label_issues

    with ledger.snapshot():
        last_seq = ledger.last_seq()
        labels = ledger.current_labels()
        events = ledger.history()
    ids = sorted(labels)
    if not ids:
        return [], last_seq
    latest = {e.item_id: e for e in events if e.kind == LABEL}
    trusted = confirmed_items(labels_by_annotator(events), labels)
    if label_names is not None:
        return _suspect_sets(store, ids, labels, label_names, trusted, latest, seed), last_seq
    issues = rank_label_issues(
        store.get_vectors(ids), np.array([labels[i] for i in ids]), seed=seed
    )
    kept = [i for i in issues if i.flagged and ids[i.index] not in trusted]
    neighbour_ids = {ids[j] for i in kept for j, _ in i.neighbours[:NEIGHBOURS_SHOWN]}
    texts = {
        item.id: item.text
        for item in store.get(sorted(neighbour_ids | {ids[i.index] for i in kept}))
    }
    suspects = []
    for issue in kept:
        item_id = ids[issue.index]
        suspects.append(
            Suspect(
                item_id=item_id,
                text=texts[item_id],
                given=issue.given,
                suggested=issue.suggested,
                confidence=issue.confidence,
                p_model=issue.p_model,
                p_neighbours=issue.p_neighbours,
                annotator=latest[item_id].annotator,
                labeled_at=latest[item_id].created_at,
                neighbours=[
                    Neighbour(ids[j], labels[ids[j]], sim, texts[ids[j]])
                    for j, sim in issue.neighbours[:NEIGHBOURS_SHOWN]
                ],
            )
        )
    return suspects, last_seq


def _suspect_sets(
    store: VectorStore,
    ids: list[str],
    labels: dict[str, str],
    label_names: Sequence[str],
    trusted: set[str],
    latest: dict[str, LabelEvent],
    seed: int,
) -> list[Suspect]:
    """The flagged label sets, most suspect first (:func:`rank_label_set_issues`)."""
    from textal.quality.multilabel import rank_label_set_issues

    Y = label_matrix([parse_label_set(labels[i]) for i in ids], label_names)
    issues = rank_label_set_issues(store.get_vectors(ids), Y, label_names, seed=seed)
    kept = [i for i in issues if i.flagged and ids[i.index] not in trusted]
    texts = {item.id: item.text for item in store.get([ids[i.index] for i in kept])}
    return [
        Suspect(
            item_id=ids[issue.index],
            text=texts[ids[issue.index]],
            given=join_label_set(issue.given),
            suggested=join_label_set(issue.suggested),
            confidence=issue.confidence,
            p_model=1.0 - issue.confidence,
            p_neighbours=None,
            annotator=latest[ids[issue.index]].annotator,
            labeled_at=latest[ids[issue.index]].created_at,
            neighbours=[],
            label_proba=dict(zip(label_names, issue.proba, strict=True)),
        )
        for issue in kept
    ]


def write_suspects(
    path: Path, suspects: list[Suspect], *, label_names: Sequence[str] | None = None
) -> None:
    """The suspects as CSV (formula-safe) and JSONL beside it. The empty ``label`` column is for
    the reviewer: ``textal label FILE --confirm`` records corrections and confirmations. With
    ``label_names`` (multi-label): an empty ``labels`` column and ``p_<label>`` columns instead
    of the neighbours' evidence."""
    if label_names is not None:
        header = ["id", "labels", "given", "suggested", "confidence"]
        header += [f"p_{n}" for n in label_names] + ["annotator", "labeled_at", "text"]
        write_atomic_rows(
            path,
            header,
            [
                {
                    "id": s.item_id,
                    "labels": "",
                    "given": s.given,
                    "suggested": s.suggested,
                    "confidence": s.confidence,
                    **{f"p_{n}": p for n, p in (s.label_proba or {}).items()},
                    "annotator": s.annotator,
                    "labeled_at": s.labeled_at,
                    "text": s.text,
                }
                for s in suspects
            ],
        )
        return
    rows = [
        {
            "id": s.item_id,
            "label": "",
            "given": s.given,
            "suggested": s.suggested,
            "confidence": s.confidence,
            "p_model": s.p_model,
            "p_neighbours": s.p_neighbours,
            "annotator": s.annotator,
            "labeled_at": s.labeled_at,
            "text": s.text,
            "neighbours": [
                {"id": n.item_id, "label": n.label, "similarity": n.similarity, "text": n.text}
                for n in s.neighbours
            ],
        }
        for s in suspects
    ]
    write_atomic_rows(path, SUSPECT_HEADER, rows)


def save_count(root: Path, last_seq: int, count: int) -> None:
    write_atomic_rows(
        root / SUSPECTS_DIR / SUMMARY_FILE,
        ["last_seq", "suspects"],
        [{"last_seq": last_seq, "suspects": count}],
    )


def cached_count(root: Path, last_seq: int) -> int | None:
    """The suspect count computed at ledger state ``last_seq``; ``None`` if not computed since."""
    path = (root / SUSPECTS_DIR / SUMMARY_FILE).with_suffix(".jsonl")
    try:
        row = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(row, dict) or row.get("last_seq") != last_seq:
        return None
    count = row.get("suspects")
    return count if isinstance(count, int) else None
