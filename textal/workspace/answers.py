"""What the workspace refuses of an answer before anything is written: unknown ids, labels
outside the label set, and a single label where sets are answered (or the other way round)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from textal.errors import TextalError, show_value
from textal.ledger import Answer, LabelValue
from textal.store import VectorStore
from textal.workspace.config import WorkspaceConfig


def refusals(
    answers: Sequence[Answer], places: Sequence[str], store: VectorStore, config: WorkspaceConfig
) -> dict[int, TextalError]:
    """Why answers would be refused, by position (``places[i]`` names answer ``i``): unknown
    ids first (one store query for all), then bad labels."""
    stored = store.existing_ids(list({a.item_id for a in answers}))
    refused: dict[int, TextalError] = {}
    for k, a in enumerate(answers):
        if a.item_id not in stored:
            refused[k] = TextalError(
                f"{places[k]}: unknown id {show_value(a.item_id)} (not in the store)"
            )
    for k, a in enumerate(answers):
        if k not in refused and a.label is not None:
            problem = label_problem(a.label, config)
            if problem is not None:
                refused[k] = TextalError(f"{places[k]}: {problem}")
    return refused


def label_problem(label: LabelValue, config: WorkspaceConfig) -> str | None:
    """Why ``label`` does not fit the workspace, or ``None``."""
    names = config.labels
    known = f"(labels: {', '.join(names)})"
    if config.multi_label != isinstance(label, frozenset):
        if config.multi_label:
            return f"this workspace is multi-label: give a set of labels {known}"
        return "this workspace is single-label: give one label, not a set"
    for name in sorted(label) if isinstance(label, frozenset) else [label]:
        if names and name not in names:
            return f"unknown label {show_value(name)} {known}"
    return None


def shown_label(label: LabelValue) -> str:
    """A label or a label set for a message."""
    if isinstance(label, frozenset):
        return "{" + ", ".join(show_value(n) for n in sorted(label)) + "}"
    return show_value(label)


def check_label_mode(
    root: Path, config: WorkspaceConfig, names: Sequence[str], *, multi_label: bool
) -> None:
    """A workspace is single- or multi-label from its creation, and a multi-label one's label
    set is fixed then."""
    if multi_label and not config.multi_label:
        raise TextalError(
            f"workspace {root} is single-label: a workspace is multi-label from its creation "
            "(use a new --workspace with --multi-label)"
        )
    added = [n for n in names if n not in config.labels]
    if config.multi_label and added:
        raise TextalError(
            f"workspace {root} is multi-label, with its label set fixed at creation "
            f"({', '.join(config.labels)}); refusing new labels {', '.join(added)}"
        )
