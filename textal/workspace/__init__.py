"""A labeling project in one directory: config, store, ledger, batches. The public Python API.

The names are loaded on first use (PEP 562), so that importing ``textal.workspace.config`` (as
the CLI does at start-up) does not import numpy and the store layer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from textal.workspace.workspace import LabelImport, RoundResult, Source, Status, Workspace

__all__ = ["LabelImport", "RoundResult", "Source", "Status", "Workspace"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from textal.workspace import workspace

        return getattr(workspace, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
