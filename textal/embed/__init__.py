"""Embedding texts into L2-normalised float32 vectors."""

from textal.embed.backends import BACKENDS, DEFAULT_BACKEND, check_backend, same_vectors
from textal.embed.encoder import DEFAULT_MODEL, Encoder, resolve_model

__all__ = [
    "BACKENDS",
    "DEFAULT_BACKEND",
    "DEFAULT_MODEL",
    "Encoder",
    "check_backend",
    "resolve_model",
    "same_vectors",
]
