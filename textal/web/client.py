"""The CLI's way into a workspace that ``textal serve`` holds: the same calls, over its API.

:func:`served` finds the server through ``serve.json`` and its local credential; the methods of
:class:`ServedWorkspace` mirror :class:`textal.workspace.Workspace` and return the same records,
so every command prints what it prints without a server. Nothing here opens the ledger or the
store: the server, which holds them, does the work.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from tqdm import tqdm

from textal.data.readers import SourceSummary
from textal.errors import TextalError
from textal.ingest import IngestReport
from textal.web.wire import load
from textal.workspace.holder import served_credential
from textal.workspace.suspects import Suspect
from textal.workspace.workspace import LabelImport, RoundResult, Status

POLL_SECONDS = 0.3


def served(root: Path) -> ServedWorkspace | None:
    """The server holding ``root``, or ``None`` when no live server does."""
    found = served_credential(root)
    return None if found is None else ServedWorkspace(root, *found)


class ServedWorkspace:
    """A served workspace, reached at ``url`` with the server's local ``credential``."""

    def __init__(self, path: Path, url: str, credential: str):
        self.path, self.url = path, url
        self._http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {credential}"}, timeout=None
        )

    def __enter__(self) -> ServedWorkspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise TextalError(f"cannot reach `textal serve` at {self.url}: {exc}") from None
        try:
            data = response.json()
        except ValueError:
            data = {"error": response.text[:200]}
        if response.status_code >= 400:
            raise TextalError(str(data.get("error", f"HTTP {response.status_code}")))
        return data

    def _wait(self, job: dict[str, Any], bars: tuple[str, ...] = ()) -> Any:
        """Poll a job until it ends, drawing its counts named ``bars``; Ctrl-C cancels it."""
        shown = [
            tqdm(desc=name, unit="item", position=k, disable=None, file=sys.stderr)
            for k, name in enumerate(bars)
        ]
        try:
            while job["state"] == "running":
                for bar, name in zip(shown, bars, strict=True):
                    bar.total = job["progress"].get("rows")
                    bar.n = job["progress"].get(name, 0)
                    bar.refresh()
                time.sleep(POLL_SECONDS)
                job = self._call("GET", f"/api/v1/jobs/{job['id']}")
        except KeyboardInterrupt:
            self._call("POST", f"/api/v1/jobs/{job['id']}/cancel", json={})
            raise
        finally:
            for bar in shown:
                bar.close()
        if job["state"] == "failed":
            raise TextalError(job["error"])
        return job["result"]

    def status(self, *, suspects: bool = False) -> Status:
        found = self._call("GET", "/api/v1/status", params={"suspects": str(suspects).lower()})
        return load(Status, found)

    def ingest(
        self,
        path: str | Path,
        *,
        text_column: str = "text",
        id_column: str | None = None,
        label_column: str | None = None,
        meta_columns: Sequence[str] = (),
    ) -> tuple[IngestReport, SourceSummary]:
        body = {
            "path": str(Path(path).absolute()),
            "text_column": text_column,
            "id_column": id_column,
            "label_column": label_column,
            "meta_columns": list(meta_columns),
        }
        job = self._call("POST", "/api/v1/items", json=body)
        result = self._wait(job, ("embedded", "stored"))
        return load(IngestReport, result["report"]), load(SourceSummary, result["summary"])

    def count(self) -> int:
        return self.status().items

    def round(self, **params: Any) -> RoundResult:
        job = self._call("POST", "/api/v1/rounds", json=params)
        return load(RoundResult, self._wait(job))

    def import_labels(
        self, path: str | Path, *, annotator: str | None = None, confirm: bool = False
    ) -> LabelImport:
        body = {"path": str(Path(path).absolute()), "annotator": annotator, "confirm": confirm}
        return load(LabelImport, self._call("POST", "/api/v1/labels", json=body))

    def export(
        self,
        path: str | Path,
        *,
        predictions: bool = False,
        filter: str | None = None,
        since: str | None = None,
    ) -> int:
        body = {
            "path": str(Path(path).absolute()),
            "predictions": predictions,
            "filter": filter,
            "since": since,
        }
        return int(self._call("POST", "/api/v1/exports", json=body)["rows"])

    def suspects(self, limit: int | None = None) -> list[Suspect]:
        found = self._call("GET", "/api/v1/suspects", params={"limit": limit or "all"})
        return load(list[Suspect], found)
