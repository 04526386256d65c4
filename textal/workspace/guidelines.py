"""Guidelines for the people labeling: project instructions and one description per label.

An admin writes them as a plain text file (``textal guidelines FILE``, or ``init --guidelines``)
or on the dashboard; the label page shows the instructions above the review and each
description on its label's button. Kept as ``guidelines.json`` in the workspace, written
atomically, read on every page load (so a change shows without a restart). The file format::

    Read the whole review before answering. Shipping complaints are negative.

    # negative
    The customer is unhappy with the product or the service.

    # positive
    The customer would buy again.

Text before the first ``# LABEL`` line is the instructions; each ``# LABEL`` line (a label of the
workspace) starts that label's description. Everything is plain text: the page escapes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textal.errors import TextalError
from textal.fsio import atomic_write
from textal.textsafe import terminal_safe

GUIDELINES_NAME = "guidelines.json"
MAX_INSTRUCTIONS = 20_000
MAX_DESCRIPTION = 500


@dataclass(frozen=True)
class Guidelines:
    """``instructions`` for everybody and ``labels``: ``{label: description}``."""

    instructions: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


def checked(
    instructions: str, descriptions: Mapping[str, str], labels: Sequence[str], *, where: str
) -> Guidelines:
    """Guidelines from admin text: control and bidi characters removed, sizes capped, every
    described label one of ``labels`` (``where`` names the source in errors)."""
    unknown = [name for name in descriptions if name not in labels]
    if unknown:
        raise TextalError(
            f"{where}: {unknown[0]!r} is not a label of this workspace ({', '.join(labels)})"
        )
    text = terminal_safe(instructions).strip()
    if len(text) > MAX_INSTRUCTIONS:
        raise TextalError(f"{where}: the instructions have {len(text)} characters (at most "
                          f"{MAX_INSTRUCTIONS})")  # fmt: skip
    kept = {}
    for name in labels:
        description = " ".join(terminal_safe(descriptions.get(name, "")).split())
        if len(description) > MAX_DESCRIPTION:
            raise TextalError(
                f"{where}: the description of {name!r} has {len(description)} characters (at "
                f"most {MAX_DESCRIPTION})"
            )
        if description:
            kept[name] = description
    return Guidelines(text, kept)


def parse_guidelines(text: str, labels: Sequence[str], *, where: str) -> Guidelines:
    """Guidelines from the file format in this module's docstring."""
    instructions: list[str] = []
    descriptions: dict[str, list[str]] = {}
    current = instructions
    for number, line in enumerate(text.splitlines(), start=1):
        heading = line.strip()
        if heading.startswith("# "):
            name = heading[2:].strip()
            if name not in labels:
                raise TextalError(
                    f"{where} line {number}: {name!r} is not a label of this workspace "
                    f"({', '.join(labels)}); a description starts with '# LABEL'"
                )
            if name in descriptions:
                raise TextalError(f"{where} line {number}: {name!r} is described twice")
            current = descriptions[name] = []
        else:
            current.append(line)
    return checked(
        "\n".join(instructions),
        {name: "\n".join(lines) for name, lines in descriptions.items()},
        labels,
        where=where,
    )


def read_guidelines_file(path: Path, labels: Sequence[str]) -> Guidelines:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise TextalError(f"guidelines file {path} does not exist") from None
    except UnicodeDecodeError:
        raise TextalError(f"guidelines file {path} is not UTF-8 text") from None
    except OSError as exc:
        raise TextalError(f"cannot read guidelines file {path}: {exc.strerror}") from None
    return parse_guidelines(text, labels, where=str(path))


def load_guidelines(root: Path) -> Guidelines:
    """The workspace's guidelines (empty when none were set)."""
    path = root / GUIDELINES_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return Guidelines(
            str(data["instructions"]), {str(k): str(v) for k, v in data["labels"].items()}
        )
    except FileNotFoundError:
        return Guidelines()
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TextalError(f"{path}: not valid textal guidelines ({exc}); set them again") from exc


def save_guidelines(root: Path, guidelines: Guidelines) -> None:
    with atomic_write(root / GUIDELINES_NAME) as f:
        json.dump(
            {"instructions": guidelines.instructions, "labels": dict(guidelines.labels)},
            f,
            ensure_ascii=False,
            indent=1,
        )
