"""A labeling project in one directory: config, store, ledger, batches. The public Python API."""

from textal.workspace.workspace import RoundResult, Status, Workspace

__all__ = ["RoundResult", "Status", "Workspace"]
