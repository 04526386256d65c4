"""Labels: the one write API (answers), label files and marks."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from textal.data.labels_file import read_label_rows
from textal.errors import TextalError, show_value
from textal.ledger import AMBIGUOUS, LABEL, UNLABEL, Answer, LabelValue
from textal.workspace.answers import refusals, shown_label
from textal.workspace.config import with_labels, write_config
from textal.workspace.core import WorkspaceCore


@dataclass(frozen=True)
class LabelImport:
    """What importing a label file did. ``overridden`` counts, per annotator, the current labels
    the file changed; ``label_set`` is the label set the file fixed (empty when one existed)."""

    recorded: int
    unchanged: int
    overridden: dict[str, int]
    label_set: tuple[str, ...]


@dataclass(frozen=True)
class AnswersWritten:
    """What :meth:`Workspace.write_answers` did: answers ``recorded`` and ``unchanged`` (the
    same as the item's state already), and with ``partial`` the ones ``refused``, by position
    in the answers given, with the reason."""

    recorded: int
    unchanged: int
    refused: dict[int, TextalError] = field(default_factory=dict)


class Labeling(WorkspaceCore):
    def write_answers(
        self,
        answers: Sequence[Answer],
        *,
        confirm: bool = False,
        partial: bool = False,
        where: Sequence[str] | None = None,
    ) -> AnswersWritten:
        """Record ``answers`` in one ledger transaction: the one way a label is written (web,
        terminal, label files and the Python API all come here).

        Refused: an id not in the store (checked first, in one store query), a label outside
        the label set, a single label in a multi-label workspace or a set in a single-label one.
        Without ``partial`` a refusal raises (the first unknown id, else the first bad label)
        and nothing is recorded; with ``partial`` (the web's group commit of many people's
        answers) the others are recorded and :attr:`AnswersWritten.refused` says which were
        not. ``where[i]`` names answer ``i`` in messages (default: its source). ``confirm`` as
        in :meth:`textal.ledger.Ledger.add_answers`. A single-label workspace without a label
        set takes the labels of its first answers as its label set.
        """
        places = list(where) if where is not None else [a.source for a in answers]
        refused = refusals(answers, places, self.store, self.config)
        if refused and not partial:
            raise next(iter(refused.values()))
        accepted = [a for k, a in enumerate(answers) if k not in refused]
        recorded, unchanged = self.ledger.add_answers(accepted, confirm=confirm)
        seen = {a.label for a in accepted if isinstance(a.label, str)}
        if not self.config.labels and seen:
            self.config = with_labels(self.config, sorted(seen))
            write_config(self.path, self.config)
            self.labels_added = self.config.labels
        return AnswersWritten(recorded, unchanged, refused)

    def add_labels(
        self,
        labels: Iterable[tuple[str, LabelValue]],
        *,
        annotator: str = "api",
        source: str = "api",
        confirm: bool = False,
    ) -> tuple[int, int]:
        """Record ``(item_id, label)`` pairs (a label set in a multi-label workspace), all or
        nothing; returns ``(recorded, unchanged)``. See :meth:`write_answers`.

        Unknown ids, an id given two different labels and, when the workspace has a label set,
        unknown labels are refused. With ``confirm``, a label equal to the current one is
        recorded as ``annotator``'s confirmation (unless it is already theirs): confirmed items
        count for agreement and are not suspects.
        """
        pairs = list(labels)
        given: dict[str, LabelValue] = {}
        for item_id, label in pairs:
            if given.setdefault(item_id, label) != label:
                raise TextalError(
                    f"{source}: id {show_value(item_id)} is given two labels "
                    f"({shown_label(given[item_id])} and {shown_label(label)})"
                )
        answers = [Answer(i, label, LABEL, annotator, source) for i, label in pairs]
        written = self.write_answers(answers, confirm=confirm)
        return written.recorded, written.unchanged

    def import_labels(
        self, path: str | Path, *, annotator: str | None = None, confirm: bool = False
    ) -> LabelImport:
        """Apply a filled-in batch file or ``id,label`` file (``id,labels`` in a multi-label
        workspace), all or nothing.

        Rows with an empty label are skipped (not labeled yet). An unknown id or label, or one id
        given two labels, is refused with its row numbers and nothing of the file is applied. The
        result says whose current labels the file changed, and the label set it fixed if the
        workspace had none. ``confirm`` as in :meth:`add_labels`.
        """
        path = Path(path)
        rows = read_label_rows(path, multi_label=self.multi_label)
        who, source = annotator or "import", f"file:{path.name}"
        answers = [Answer(r.id, r.label, LABEL, who, source) for r in rows]
        latest = self.ledger.latest_events([r.id for r in rows])
        overridden = Counter(
            latest[a.item_id].annotator
            for a in {a.item_id: a for a in answers}.values()
            if a.item_id in latest
            and latest[a.item_id].kind == LABEL
            and latest[a.item_id].label != a.stored
        )
        had_labels = bool(self.config.labels)
        written = self.write_answers(
            answers, confirm=confirm, where=[f"{path}: row {r.row}" for r in rows]
        )
        fixed = self.config.labels if not had_labels and self.config.labels else ()
        return LabelImport(
            written.recorded, written.unchanged, dict(sorted(overridden.items())), fixed
        )

    def mark(self, item_id: str, kind: str, *, annotator: str, source: str) -> None:
        """Record ``unlabel`` (undo) or ``ambiguous`` for one item."""
        if kind not in (UNLABEL, AMBIGUOUS):
            raise ValueError(f"mark takes {UNLABEL!r} or {AMBIGUOUS!r}, not {kind!r}")
        self.write_answers([Answer(item_id, None, kind, annotator, source)])
