"""A self-contained model directory: save a :class:`TrainedModel`, load it back without a workspace.

``DIR/model.json`` holds the embedding model's id and backend, the label set, the calibration,
the routing (threshold, novelty cutoff and the whole precision/coverage curve) and the model
card's figures; ``DIR/weights.npz`` the head's weights and the labeled vectors (plain numeric
arrays, read with ``allow_pickle=False``); ``DIR/README.md`` is the model card for people.
Nothing in the directory is executed or unpickled when it is loaded.

>>> import textal.model
>>> textal.model.load("my-model").predict(["the battery died in a day"])  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from textal.errors import TextalError
from textal.model.calibration import METHODS, Calibration
from textal.model.predictor import (
    EmbeddingSpec,
    LinearHead,
    ModelCard,
    Predictor,
    TrainedModel,
)
from textal.model.routing import Route, RoutingCurve

FORMAT = "textal-model"
VERSION = 1
MODEL_JSON = "model.json"
WEIGHTS = "weights.npz"
CARD = "README.md"


def save(model: TrainedModel, directory: str | Path) -> Path:
    """Write ``model`` to ``directory`` (created, or replaced if it holds a textal model), whole
    or not at all: it is written beside and renamed into place. Returns the directory."""
    target = Path(directory)
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise TextalError(f"{target}: exists and is not a directory; name a directory to write")
    if target.is_dir() and any(target.iterdir()) and not (target / MODEL_JSON).is_file():
        raise TextalError(
            f"{target}: is a directory that holds no textal model; refusing to replace it"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"))
    try:
        with (temp / WEIGHTS).open("wb") as f:
            np.savez(f, coef=model.head.coef, intercept=model.head.intercept, labeled=model.labeled)
        (temp / MODEL_JSON).write_text(
            json.dumps(_to_json(model), indent=2, ensure_ascii=False), encoding="utf-8"
        )
        (temp / CARD).write_text(model_card(model), encoding="utf-8")
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.old."))
            os.replace(target, old / target.name)
        os.replace(temp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return target


def read_model(directory: str | Path) -> TrainedModel:
    """The :class:`TrainedModel` in ``directory``; a :class:`TextalError` naming the problem for
    anything that is not a complete model directory of this format."""
    root = Path(directory)
    spec_path = root / MODEL_JSON
    if not spec_path.is_file():
        raise TextalError(f"{root}: not a textal model directory (no {MODEL_JSON})")
    try:
        spec = json.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TextalError(f"{spec_path}: cannot be read ({exc})") from None
    if not isinstance(spec, dict) or spec.get("format") != FORMAT:
        raise TextalError(f'{spec_path}: not a textal model (no "format": {FORMAT!r})')
    if spec.get("version") != VERSION:
        raise TextalError(
            f"{spec_path}: model format version {spec.get('version')!r}; this textal reads "
            f"version {VERSION}"
        )
    try:
        with np.load(root / WEIGHTS, allow_pickle=False) as weights:
            arrays = {name: np.array(weights[name]) for name in ("coef", "intercept", "labeled")}
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise TextalError(f"{root / WEIGHTS}: cannot be read ({exc})") from None
    try:
        return _from_json(spec, arrays)
    except (KeyError, TypeError, ValueError) as exc:
        raise TextalError(f"{spec_path}: malformed ({type(exc).__name__}: {exc})") from None


def load(directory: str | Path) -> Predictor:
    """A :class:`Predictor` for the model in ``directory``; its embedding model is loaded on the
    first ``predict``."""
    return Predictor(read_model(directory))


def _to_json(model: TrainedModel) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "version": VERSION,
        "embedding": asdict(model.embedding),
        "classes": list(model.classes),
        "calibration": {"method": model.calibration.method, "params": model.calibration.params},
        "routing": {
            **asdict(model.route),
            "novelty_cosine": model.novelty,
            "curve": asdict(model.curve),
        },
        "card": asdict(model.card),
    }


def _from_json(spec: dict[str, Any], arrays: dict[str, np.ndarray]) -> TrainedModel:
    embedding = EmbeddingSpec(**spec["embedding"])
    classes = tuple(str(c) for c in spec["classes"])
    coef, intercept, labeled = arrays["coef"], arrays["intercept"], arrays["labeled"]
    rows = 1 if len(classes) == 2 else len(classes)
    if coef.shape != (rows, embedding.dim) or intercept.shape != (rows,):
        raise ValueError(
            f"weights of shape {coef.shape} and {intercept.shape} do not fit {len(classes)} "
            f"classes of dimension {embedding.dim}"
        )
    if labeled.ndim != 2 or labeled.shape[1] != embedding.dim:
        raise ValueError(f"labeled vectors of shape {labeled.shape}, not (n, {embedding.dim})")
    method = spec["calibration"]["method"]
    if method not in METHODS:
        raise ValueError(f"unknown calibration {method!r}")
    routing = dict(spec["routing"])
    points = routing.pop("curve")
    thresholds, precision, bound, coverage = (
        tuple(float(v) for v in points[k]) for k in ("thresholds", "precision", "bound", "coverage")
    )
    curve = RoutingCurve(
        thresholds, precision, bound, coverage, int(points["labels"]), int(points["reference"])
    )
    novelty = float(routing.pop("novelty_cosine"))
    card = dict(spec["card"])
    return TrainedModel(
        embedding=embedding,
        head=LinearHead(classes, coef, intercept),
        calibration=Calibration(method, tuple(float(v) for v in spec["calibration"]["params"])),
        curve=curve,
        route=Route(**{k: float(v) for k, v in routing.items()}),
        novelty=novelty,
        labeled=labeled,
        card=ModelCard(**card),
    )


def model_card(model: TrainedModel) -> str:
    """The directory's README.md: labels, counts, CV estimate, calibration, routing, date, use."""
    card, route = model.card, model.route
    counts = "\n".join(f"| {name} | {n} |" for name, n in card.label_counts.items())
    cv = "n/a (too few labels)" if card.cv_score is None else f"{card.cv_score:.3f}"

    def ece(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.3f}"

    routing = (
        f"head confidence >= {route.threshold:.3f}: {route.describe()} "
        f"(precision estimated on {model.curve.labels} out-of-fold predictions of the labels, \
coverage on {model.curve.reference} unlabeled reviews)"
        if route.coverage > 0
        else f"no threshold reaches {100 * route.min_precision:g}% precision: every review "
        "goes to people"
    )
    return f"""# textal model

Trained {card.created} on {sum(card.label_counts.values())} labels.

| label | labels |
|---|---|
{counts}

- embedding model: `{model.embedding.model}` ({model.embedding.backend}, dimension \
{model.embedding.dim})
- head: {card.head}; cross-validated macro-F1 {cv}
- calibration: {model.calibration.method} (chosen by cross-validated Brier score on \
out-of-fold predictions); expected calibration error of the out-of-fold confidences \
{ece(card.ece_before)} before, {ece(card.ece_after)} after
- routing at {100 * route.min_precision:g}% precision: {routing}; a review whose nearest \
labeled review has cosine below {model.novelty:.3f} also goes to people (unlike anything labeled)

## Use

```
textal predict --model DIR reviews.csv --output routed.csv
```

```python
import textal.model
predictions = textal.model.load("DIR").predict(["the battery died in a day"])
predictions.labels, predictions.confidence, predictions.auto
```

Files: `model.json` (settings, label set, calibration, routing curve), `weights.npz` (head \
weights and labeled vectors, loaded with `allow_pickle=False`). Nothing here is executed or \
unpickled on loading.
"""
