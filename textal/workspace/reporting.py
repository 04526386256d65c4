"""Reporting: status, suspects, agreement, export and the model for new reviews."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from textal.errors import TextalError
from textal.quality.agreement import AgreementReport, annotator_agreement, labels_by_annotator
from textal.store.filters import Filter
from textal.workspace.export import export_labels
from textal.workspace.status import Status, read_status
from textal.workspace.suspects import Suspect, cached_count, find_suspects, save_count

if TYPE_CHECKING:  # scikit-learn is imported by the commands that train, not by every command
    from textal.model.predictor import Predictor
from textal.workspace.core import WorkspaceCore


class Reporting(WorkspaceCore):
    def suspects(self, limit: int | None = None, *, seed: int = 0) -> list[Suspect]:
        """The current labels most likely wrong, most likely first (at most ``limit``); never
        changes a label. Also caches their total for :meth:`status`."""
        names = self.config.labels if self.multi_label else None
        found, last_seq = find_suspects(self.store, self.ledger, seed=seed, label_names=names)
        save_count(self.path, last_seq, len(found))
        return found if limit is None else found[:limit]

    def annotator_agreement(self) -> AgreementReport:
        """Cohen's kappa per pair of annotators and the items they disagree on, from each
        annotator's latest label per item (label sets: the mean per-label kappa, see
        :mod:`textal.quality.agreement`)."""
        with self.ledger.snapshot():
            events = self.ledger.history()
            labels = self.ledger.current_labels()
        names = self.config.labels if self.multi_label else None
        return annotator_agreement(labels_by_annotator(events), labels, label_names=names)

    def status(self, *, suspects: bool = False) -> Status:
        """What ``textal status`` shows; ``suspects`` recomputes the suspect count (seconds)
        instead of showing the one cached at the current ledger state (or none)."""
        suspect_count = (
            len(self.suspects()) if suspects else cached_count(self.path, self.ledger.last_seq())
        )
        pairs = self.annotator_agreement()
        return read_status(self.path, self.config, self.store, self.ledger, suspect_count, pairs)

    def predictor(self, *, min_precision: float | None = None) -> Predictor:
        """The model for new reviews, trained on the current labels (or loaded from
        WORKSPACE/model/ when it was trained on exactly these), routing at ``min_precision``
        (default 0.95): see :mod:`textal.workspace.predicting`. Immutable."""
        from textal.workspace.predicting import workspace_predictor

        if self.multi_label:
            raise TextalError(
                f"workspace {self.path} is multi-label: its predictions are label sets "
                "(`textal predict`), not one routed label"
            )
        return workspace_predictor(self, min_precision=min_precision)

    def export(
        self, path: str | Path, *, predictions: bool = False, filter: Filter | None = None
    ) -> int:
        """Write current labels (and, with ``predictions``, every item's prediction) as CSV and
        JSONL; returns the number of rows written; ``filter`` keeps the items it matches. Without
        ``predictions``, ``annotators`` holds ``{annotator: label}`` where several annotators
        labeled the item (their latest labels). A multi-label workspace writes a ``labels``
        column (names joined by ``;`` in CSV, a list in JSONL) and, with ``predictions``, the
        predicted set and one ``p_<label>`` column per label."""
        return export_labels(
            Path(path),
            self.store,
            self.ledger,
            predictions=predictions,
            filter=filter,
            label_names=self.config.labels if self.multi_label else None,
        )
