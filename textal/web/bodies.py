"""Reading request bodies: JSON objects and their typed fields, with errors naming the field."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from textal.errors import TextalError


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise TextalError("the request body is not JSON") from None
    except RecursionError:
        raise TextalError("the request body is nested too deeply") from None
    if not isinstance(body, dict):
        raise TextalError("the request body is not a JSON object")
    return body


def text_field(body: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TextalError(f"field {key!r}: expected text")
    return value


def int_field(body: dict[str, Any], key: str, low: int, high: int) -> int:
    """A whole number from ``low`` to ``high`` (JSON ``true`` is not 1 here)."""
    value = body.get(key)
    if type(value) is not int or not low <= value <= high:
        raise TextalError(f"field {key!r}: a whole number from {low} to {high}")
    return value


def answer_field(body: dict[str, Any], *, multi_label: bool) -> str | frozenset[str] | None:
    """The answer a page sends: ``label`` (text; ``null``: ambiguous), or in a multi-label
    workspace ``labels`` (a list of names, ``[]``: none of these; ``null``: ambiguous)."""
    if not multi_label:
        return text_field(body, "label", optional=True)
    value = body.get("labels")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TextalError("field 'labels': expected a list of label names")
    return frozenset(value)
