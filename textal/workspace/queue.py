"""Reviews that ``textal predict --queue`` routed to people: stored, and asked first next round.

The reviews themselves are stored as immutable items like ingested ones. Which of them to ask
first is an append-only list of ids, ``WORKSPACE/queue.jsonl`` (one JSON string per line, each
chunk of lines appended and ``fsync``-ed), so nothing in the ledger changes until people answer.
A queued item stays pending while it has no label and no "ambiguous" mark; the next round puts
the pending ones first in its batch, oldest first (up to the batch size), and selects the rest
as usual. A line cut short by a crash is ignored; re-running the command queues it again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textal.ledger import ClassProbability, Selection
from textal.store.base import VectorStore

if TYPE_CHECKING:  # scikit-learn: imported by the commands that train
    from textal.round.plan import RoundPlan

QUEUE_FILE = "queue.jsonl"


def queue_items(root: Path, ids: Sequence[str]) -> None:
    """Append ``ids`` to the workspace's queue (durably)."""
    if not ids:
        return
    with (root / QUEUE_FILE).open("a", encoding="utf-8") as f:
        f.write("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in ids))
        f.flush()
        os.fsync(f.fileno())


def pending(root: Path, done: set[str]) -> list[str]:
    """Queued ids not in ``done`` (labeled or marked), oldest first, each once."""
    try:
        lines = (root / QUEUE_FILE).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    ids: dict[str, None] = {}
    for line in lines:
        try:
            item_id = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line a crash cut short
        if isinstance(item_id, str) and item_id not in done:
            ids[item_id] = None
    return list(ids)


def queued_first(store: VectorStore, plan: RoundPlan, queued: Sequence[str]) -> list[Selection]:
    """The batch: ``queued`` items first (with the round's model's prediction and top two, no
    score), then the plan's picks, ranked again from 1."""
    model = plan.model
    proba = model.predict_proba(store.get_vectors(list(queued))) if model and queued else None
    classes = [str(c) for c in model.classes_] if model is not None else []
    picks = [
        _queued(item_id, classes, None if proba is None else proba[k])
        for k, item_id in enumerate(queued)
    ]
    return [replace(s, rank=rank) for rank, s in enumerate([*picks, *plan.picks], start=1)]


def _queued(item_id: str, classes: list[str], p: np.ndarray | None) -> Selection:
    if p is None:
        return Selection(0, item_id, None, None)
    top = np.argsort(-p)[:2]
    pairs = tuple(ClassProbability(classes[c], round(float(p[c]), 4)) for c in top)
    return Selection(0, item_id, None, classes[int(top[0])], pairs)
