"""Typed records as JSON and back, for the HTTP API and the CLI that talks to it.

The server sends the very records the Python API returns (``Status``, ``RoundResult``,
``LabelImport``...), dumped by pydantic's ``TypeAdapter`` in JSON mode; the CLI validates them
back into the same dataclasses and prints them exactly as it prints local results.
"""

from __future__ import annotations

from functools import cache
from typing import Any, TypeVar

from pydantic import TypeAdapter

T = TypeVar("T")


@cache
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def dump(value: object, kind: Any) -> Any:
    """``value`` (of type ``kind``) as JSON-ready data."""
    return _adapter(kind).dump_python(value, mode="json")


def load(kind: type[T], data: Any) -> T:
    """Data from :func:`dump` as a ``kind`` again (checked field by field)."""
    adapter: TypeAdapter[T] = _adapter(kind)  # type: ignore[arg-type]  # classes are hashable
    return adapter.validate_python(data)
