"""Embedding texts into L2-normalised float32 vectors."""

from textal.embed.encoder import DEFAULT_MODEL, Encoder, resolve_model

__all__ = ["DEFAULT_MODEL", "Encoder", "resolve_model"]
