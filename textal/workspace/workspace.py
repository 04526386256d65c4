"""The Python API: one labeling project in one directory. The CLI is a thin shell over this.

>>> ws = Workspace.open("textal-workspace", model=None)       # doctest: +SKIP
>>> ws.ingest("reviews.csv")                                  # doctest: +SKIP
>>> result = ws.round(batch_size=20)                          # doctest: +SKIP
>>> ws.import_labels(result.csv_path, annotator="ana")        # doctest: +SKIP
"""

from __future__ import annotations

from textal.workspace.config import LEDGER_NAME
from textal.workspace.ingesting import Ingesting, Source, check_meta_columns, check_source
from textal.workspace.labeling import AnswersWritten, LabelImport, Labeling
from textal.workspace.opening import MEMORY_STORE_DIR, Opening
from textal.workspace.reporting import Reporting
from textal.workspace.rounds import RoundResult, Rounds
from textal.workspace.status import Status

__all__ = [
    "LEDGER_NAME",
    "MEMORY_STORE_DIR",
    "AnswersWritten",
    "LabelImport",
    "RoundResult",
    "Source",
    "Status",
    "Workspace",
    "check_meta_columns",
    "check_source",
]


class Workspace(Opening, Ingesting, Labeling, Rounds, Reporting):
    """A labeling project: config, store, ledger and batch files under one directory.

    Open it with :meth:`open`; close it (or use ``with``) to release the store's lock. Its jobs
    live in their own modules: opening (:mod:`~textal.workspace.opening`), ingest
    (:mod:`~textal.workspace.ingesting`), labels (:mod:`~textal.workspace.labeling`), rounds
    (:mod:`~textal.workspace.rounds`), reporting (:mod:`~textal.workspace.reporting`), over the
    shared parts and ledger reads of :class:`~textal.workspace.core.WorkspaceCore`.
    """
