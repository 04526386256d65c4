"""The workspace's model for new reviews: trained on the current labels, kept in WORKSPACE/model/.

:func:`workspace_predictor` returns a :class:`textal.model.predictor.Predictor` for the labels the
ledger holds now. The trained model is saved in the workspace as a model directory (the format of
``textal export --model``), tagged with the labels' fingerprint, so the next command on the same
labels loads it instead of training again; a new label trains a new one.

For a server: ``predictor = ws.predictor()`` is immutable; after a round, build the next one and
replace the reference (one assignment, atomic in Python). Requests that hold the old one finish
with it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from textal.data.label_sets import label_matrix
from textal.errors import TextalError
from textal.ledger import labels_digest
from textal.model.export import MODEL_JSON, read_model, save
from textal.model.predictor import (
    DEFAULT_MIN_PRECISION,
    EmbeddingSpec,
    Predictor,
    TrainedModel,
    train_model,
)
from textal.model.routing import Route
from textal.round.candidates import sample_unlabeled

if TYPE_CHECKING:
    from textal.model.multilabel import MultiLabelHead
    from textal.workspace.core import WorkspaceCore

MODEL_DIR = "model"
REFERENCE_SAMPLE = 20_000  # unlabeled reviews the coverage is estimated on


def workspace_model(ws: WorkspaceCore, *, seed: int = 0) -> TrainedModel:
    """The model for the current labels: the saved one when it was trained on exactly these
    labels with this embedding model, else a new one (trained, then saved in the workspace)."""
    with ws.ledger.snapshot():
        labels = ws.ledger.current_labels()
    digest = labels_digest(labels)
    saved = ws.path / MODEL_DIR
    if (saved / MODEL_JSON).is_file():
        try:
            model = read_model(saved)
        except TextalError:
            model = None  # damaged: trained again below
        if (
            model is not None
            and model.card.trained_on == digest
            and model.embedding.model == ws.config.model
        ):
            return model
    if len(set(labels.values())) < 2:
        raise TextalError(
            f"workspace {ws.path} has no trained model: label reviews of at least two classes "
            f"first ({len(labels)} labeled; textal round, then textal label)"
        )
    ids = list(labels)
    reference = sample_unlabeled(ws.store, set(ids), REFERENCE_SAMPLE, seed)
    model = train_model(
        ws.store.get_vectors(ids),
        [labels[i] for i in ids],
        reference.vectors,
        embedding=EmbeddingSpec(ws.config.model, ws.config.backend, ws.config.dim),
        min_precision=DEFAULT_MIN_PRECISION,
        seed=seed,
        trained_on=digest,
        labeled_share=len(ids) / max(ws.store.count(), 1),
    )
    save(model, saved)
    return model


def workspace_predictor(ws: WorkspaceCore, *, min_precision: float | None = None) -> Predictor:
    """A predictor for the current labels, sharing the workspace's embedding model."""
    model = workspace_model(ws)
    if min_precision is not None:
        model = model.with_min_precision(min_precision)
    return Predictor(model, lambda: ws.encoder)


@dataclass(frozen=True)
class SetModel:
    """A multi-label workspace's head for new reviews, trained on the current label sets, with
    the workspace's embedding model (``encode``: texts -> (n, d) vectors)."""

    head: MultiLabelHead
    label_names: tuple[str, ...]
    encode: Callable[[Sequence[str]], np.ndarray]


def workspace_set_model(ws: WorkspaceCore, *, seed: int = 0) -> SetModel:
    """The multi-label head on the current label sets (trained each time: seconds)."""
    from textal.model.multilabel import fit_on_label_sets

    sets = ws.current_label_sets()
    ids = list(sets)
    names = ws.config.labels
    X = ws.store.get_vectors(ids) if ids else np.empty((0, ws.config.dim), np.float32)
    head = fit_on_label_sets(
        X, label_matrix([sets[i] for i in ids], names), label_names=names, seed=seed
    )
    if head is None:
        raise TextalError(
            f"workspace {ws.path} has no trained model: label reviews so that some label is on "
            f"some and off others first ({len(ids)} labeled; textal round, then textal label)"
        )
    return SetModel(head, names, lambda texts: ws.encoder.encode(list(texts)))


def saved_route(root: Path, labels_fingerprint: str) -> tuple[Route, bool] | None:
    """The routing of the model saved in the workspace at ``root`` and whether it was trained on
    the labels with this fingerprint; ``None`` without a readable one. Reads only its JSON."""
    try:
        spec = json.loads((root / MODEL_DIR / MODEL_JSON).read_text(encoding="utf-8"))
        routing = spec["routing"]
        route = Route(
            *(float(routing[k]) for k in ("min_precision", "threshold", "coverage", "precision"))
        )
        return route, spec["card"]["trained_on"] == labels_fingerprint
    except (OSError, ValueError, KeyError, TypeError):
        return None
