"""The trained model put to use: predict, calibrate and route new reviews.

:class:`TrainedModel` is plain data (the head's weights, the calibration, the routing curve, the
labeled vectors for "unlike anything labeled", a model card), immutable, saved and loaded by
:mod:`textal.model.export` without pickle. :class:`Predictor` adds the embedding model; it never
changes either, so a server can hold one and swap in the next one atomically (one reference
assignment) when a round trains a new head.

>>> model = train_model(X, y, reference, embedding=spec)     # doctest: +SKIP
>>> Predictor(model).predict(["the battery died in a day"])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from textal.errors import TextalError
from textal.model.calibration import (
    Calibration,
    choose_calibration,
    expected_calibration_error,
    out_of_fold,
)
from textal.model.routing import (
    UNREACHABLE,
    Route,
    RoutingCurve,
    novelty_cutoff,
    routing_curve,
)

if TYPE_CHECKING:
    from textal.embed import Encoder

DEFAULT_MIN_PRECISION = 0.95
TORN_RATIO = 0.5  # "torn between two labels" when the runner-up has at least half the top's
_NEAREST_CHUNK = 4096  # rows per product with the labeled vectors


@dataclass(frozen=True)
class EmbeddingSpec:
    """The embedding model the head reads: its id (as :class:`textal.embed.Encoder` takes it),
    backend and dimension."""

    model: str
    backend: str
    dim: int


@dataclass(frozen=True)
class LinearHead:
    """A fitted logistic regression as numbers: ``coef`` (1 or c, d), ``intercept`` (1 or c);
    probabilities as scikit-learn computes them (binary: a sigmoid; else a softmax)."""

    classes: tuple[str, ...]
    coef: np.ndarray
    intercept: np.ndarray

    def proba(self, X: np.ndarray) -> np.ndarray:
        """(n, d) -> (n, c), columns in ``classes`` order."""
        z = X @ self.coef.T + self.intercept
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.stack([1.0 - p, p], axis=1)
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class ModelCard:
    """What the model was trained on and how well it is expected to do (the export's README)."""

    label_counts: dict[str, int]
    head: str  # e.g. "logreg(C=10, balanced)"
    cv_score: float | None  # cross-validated macro-F1 of the head; None without CV
    trained_on: str  # textal.ledger.labels_digest of the labels ("" outside a workspace)
    created: str  # ISO 8601, UTC
    calibration_brier: dict[str, float]  # cross-validated Brier score per calibration method
    ece_before: float | None  # ECE of the out-of-fold confidences, raw
    ece_after: float | None  # ... and calibrated (cross-fitted: each point mapped by a map
    # fitted without it)


@dataclass(frozen=True)
class TrainedModel:
    """Everything a prediction needs besides the embedding model itself. ``route`` is the
    routing chosen for ``route.min_precision``; ``curve`` gives the routing for any other."""

    embedding: EmbeddingSpec
    head: LinearHead
    calibration: Calibration
    curve: RoutingCurve
    route: Route
    novelty: float  # cosine to the nearest labeled review below which a review is "unlike"
    labeled: np.ndarray = field(repr=False)  # (L, d) unit vectors of the labeled reviews
    card: ModelCard

    @property
    def classes(self) -> tuple[str, ...]:
        return self.head.classes

    def with_min_precision(self, min_precision: float) -> TrainedModel:
        """The same model routing at another precision (no retraining)."""
        check_min_precision(min_precision)
        return replace(self, route=self.curve.threshold_for(min_precision))

    def predict_vectors(self, X: np.ndarray) -> Predictions:
        """Predict and route embedded reviews (n, d), unit rows."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.embedding.dim:
            raise ValueError(f"expected vectors of shape (n, {self.embedding.dim}), got {X.shape}")
        proba = self.head.proba(X).astype(np.float64)  # float32 would round a threshold
        top = proba.max(axis=1)
        nearest = nearest_cosine(X, self.labeled)
        auto = (top >= self.route.threshold) & (nearest >= self.novelty)
        confidence = self.calibration(top)
        return Predictions(self.classes, proba, confidence, nearest, auto, self.route, self.novelty)


def check_min_precision(value: float) -> float:
    if not (isinstance(value, float | int) and 0 < value < 1):
        raise TextalError(f"--min-precision must be a number between 0 and 1, got {value!r}")
    return float(value)


def nearest_cosine(X: np.ndarray, labeled: np.ndarray) -> np.ndarray:
    """Each row's cosine to its nearest labeled vector: (n,); -1 without labeled vectors."""
    if len(labeled) == 0:
        return np.full(len(X), -1.0)
    starts = range(0, len(X), _NEAREST_CHUNK)
    parts = [(X[s : s + _NEAREST_CHUNK] @ labeled.T).max(axis=1) for s in starts]
    return np.concatenate(parts or [np.empty(0)]).astype(np.float64)


@dataclass(frozen=True)
class Predictions:
    """Predictions for n reviews. ``proba`` (n, c) are the head's class probabilities (the route
    compares the largest with ``route.threshold``); ``confidence`` (n,) is the calibrated
    probability that the predicted label is right;
    ``nearest`` (n,) the cosine to the nearest labeled review; ``auto`` (n,) the route."""

    classes: tuple[str, ...]
    proba: np.ndarray
    confidence: np.ndarray
    nearest: np.ndarray
    auto: np.ndarray
    route: Route
    novelty: float

    def __len__(self) -> int:
        return len(self.auto)

    @property
    def labels(self) -> list[str]:
        return [self.classes[k] for k in self.proba.argmax(axis=1)]

    def reason(self, k: int) -> str:
        """Why review ``k`` goes to people, in words ("" when it is routed auto)."""
        if self.auto[k]:
            return ""
        if self.nearest[k] < self.novelty:
            return (
                f"unlike anything labeled: its nearest labeled review has cosine "
                f"{self.nearest[k]:.2f} (below {self.novelty:.2f})"
            )
        first, second = np.argsort(-self.proba[k])[:2]
        p1, p2 = self.proba[k, first], self.proba[k, second]
        if p2 >= TORN_RATIO * p1:
            return (
                f"torn between {self.classes[first]} ({p1:.2f}) and "
                f"{self.classes[second]} ({p2:.2f})"
            )
        if self.route.threshold >= UNREACHABLE:
            return f"the labels back no confidence at {100 * self.route.min_precision:g}% precision"
        return (
            f"not sure enough of {self.classes[first]} ({p1:.2f}; {self.route.threshold:.2f} "
            f"needed for {100 * self.route.min_precision:g}% precision)"
        )


class Predictor:
    """A :class:`TrainedModel` with its embedding model: ``predict(texts)``.

    ``encoder`` is a loaded :class:`textal.embed.Encoder` to share (a workspace's), or ``None``
    to load the one ``model.embedding`` names on first use (thread-safe). Immutable: use
    :meth:`with_min_precision` for another routing.
    """

    def __init__(
        self, model: TrainedModel, encoder: Encoder | Callable[[], Encoder] | None = None
    ) -> None:
        self._model = model
        self._encoder_source = encoder
        self._encoder: Encoder | None = None if encoder is None or callable(encoder) else encoder
        self._lock = threading.Lock()

    @property
    def model(self) -> TrainedModel:
        return self._model

    @property
    def route(self) -> Route:
        return self._model.route

    def with_min_precision(self, min_precision: float) -> Predictor:
        """A predictor routing at ``min_precision``, sharing this one's embedding model."""
        twin = Predictor(self._model.with_min_precision(min_precision), self._encoder_source)
        twin._encoder = self._encoder
        return twin

    @property
    def encoder(self) -> Encoder:
        with self._lock:
            if self._encoder is None:
                if callable(self._encoder_source):
                    self._encoder = self._encoder_source()
                else:
                    from textal.embed import Encoder

                    spec = self._model.embedding
                    self._encoder = Encoder(spec.model, backend=spec.backend)
            return self._encoder

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encoder.encode(list(texts))

    def predict(self, texts: Sequence[str]) -> Predictions:
        """Embed, predict and route ``texts``."""
        return self._model.predict_vectors(self.encode(texts))


def train_model(
    X: np.ndarray,
    y: Sequence[str] | np.ndarray,
    reference: np.ndarray,
    *,
    embedding: EmbeddingSpec,
    min_precision: float = DEFAULT_MIN_PRECISION,
    seed: int = 0,
    trained_on: str = "",
    labeled_share: float = 0.0,
) -> TrainedModel:
    """Fit the head on labeled vectors ``X`` (n, d) and labels ``y`` as a round does
    (:func:`textal.model.automl.fit_on_labels`), calibrate it on out-of-fold predictions, and
    choose its routing on ``reference`` (m, d): unlabeled reviews like those to come, from a
    store of which the labels are ``labeled_share`` (see :func:`routing_curve`).

    Raises :class:`TextalError` with labels of fewer than two classes or no reference reviews.
    """
    from textal.model.automl import fit_on_labels

    check_min_precision(min_precision)
    y = np.asarray(y).astype(str)
    head = fit_on_labels(X, y, seed=seed)
    if head is None:
        raise TextalError(
            "no trained model: label reviews of at least two classes first "
            "(textal round, then textal label)"
        )
    if len(reference) == 0:
        raise TextalError("no unlabeled reviews to choose the routing threshold on")
    oof = out_of_fold(head, X, y, seed=seed)
    choice = choose_calibration(oof.confidence, oof.correct, seed=seed)
    calibration = choice.calibration
    classes = tuple(str(c) for c in head.classes_)
    linear = LinearHead(classes, np.array(head.best_.coef_), np.array(head.best_.intercept_))
    labeled = np.ascontiguousarray(X, dtype=np.float32)
    ref_nearest = nearest_cosine(reference, labeled)
    cutoff = novelty_cutoff(ref_nearest)
    curve = routing_curve(
        oof.confidence,
        oof.correct,
        linear.proba(reference).max(axis=1),
        ref_nearest < cutoff,
        labeled_share,
    )
    card = ModelCard(
        label_counts=dict(sorted(Counter(y.tolist()).items())),
        head=head.best_name_,
        cv_score=None if math.isnan(head.cv_score_) else float(head.cv_score_),
        trained_on=trained_on,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        calibration_brier=choice.brier,
        ece_before=_ece_or_none(oof.confidence, oof.correct),
        ece_after=_ece_or_none(choice.cross_fitted, oof.correct),
    )
    return TrainedModel(
        embedding=embedding,
        head=linear,
        calibration=calibration,
        curve=curve,
        route=curve.threshold_for(min_precision),
        novelty=cutoff,
        labeled=labeled,
        card=card,
    )


def _ece_or_none(confidence: np.ndarray, correct: np.ndarray) -> float | None:
    return expected_calibration_error(confidence, correct) if len(confidence) else None
