"""What a person answered about one item: the typed record every write of a label goes through.

An answer is a label (in a multi-label workspace, a set of labels, possibly empty: "none of
these"), "ambiguous" (people could not decide), or the undo (``unlabel``) of the annotator's own
answer in force. Its kind is checked once, here, when the record is made.

A label set is stored in the ledger's ``label`` column as its canonical text: the names sorted
and joined by ``;`` (``""`` for the empty set), the format of label files. Equal sets are then
equal strings, so everything that compares answers (unchanged answers skipped, confirmations,
label fingerprints, annotator agreement on whole answers) works on sets as it does on labels;
the ledger records that it is multi-label, so a ``;`` is never read as a separator in a
single-label ledger (see :class:`textal.ledger.Ledger`).
"""

from __future__ import annotations

from dataclasses import dataclass

from textal.data.label_sets import SEP, join_label_set

# Event kinds: a label, the undo of a label, or "people could not decide".
LABEL, UNLABEL, AMBIGUOUS = "label", "unlabel", "ambiguous"
KINDS = (LABEL, UNLABEL, AMBIGUOUS)

LabelValue = str | frozenset[str]


@dataclass(frozen=True)
class Answer:
    """One answer to record. ``label`` is a ``str`` (single-label), a ``frozenset[str]``
    (multi-label; empty = none of these) or ``None`` for ``unlabel``/``ambiguous``.

    ``annotator`` and ``source`` say who answered and through what (``web``, ``interactive``,
    ``file:NAME``); :meth:`textal.ledger.Ledger.add_labels` fills them in for its records.
    """

    item_id: str
    label: LabelValue | None
    kind: str = LABEL
    annotator: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown label event kind {self.kind!r}")
        if (self.kind == LABEL) != (self.label is not None):
            raise ValueError(
                f"a {self.kind!r} answer {'needs' if self.kind == LABEL else 'has no'} label"
            )
        if isinstance(self.label, frozenset):
            for name in self.label:
                if not isinstance(name, str) or not name or SEP in name:
                    raise ValueError(f"label set member {name!r}: a non-empty name without ';'")

    @property
    def stored(self) -> str | None:
        """The ledger's ``label`` column: the label, or the set's canonical text."""
        if isinstance(self.label, frozenset):
            return join_label_set(self.label)
        return self.label


#: The ledger's name for an answer given without annotator and source (they come with the call).
NewLabel = Answer
