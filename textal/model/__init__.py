"""The classifier on embeddings (:mod:`textal.model.automl`) and its use on new reviews.

``textal.model.load(DIR)`` loads an exported model directory (:mod:`textal.model.export`) as a
:class:`textal.model.predictor.Predictor`. Names load on first use (PEP 562): importing
``textal.model.automl`` does not import the export code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textal.model.export import load, save
    from textal.model.predictor import Predictions, Predictor, TrainedModel

__all__ = ["Predictions", "Predictor", "TrainedModel", "load", "save"]


def __getattr__(name: str) -> Any:
    if name in ("load", "save"):
        from textal.model import export

        return getattr(export, name)
    if name in __all__:
        from textal.model import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
