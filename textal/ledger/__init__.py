"""Human knowledge: label events, rounds and selections in SQLite."""

from textal.ledger.ledger import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    LabelEvent,
    Ledger,
    NewLabel,
    RoundRecord,
    Selection,
)

__all__ = [
    "AMBIGUOUS",
    "LABEL",
    "UNLABEL",
    "LabelEvent",
    "Ledger",
    "NewLabel",
    "RoundRecord",
    "Selection",
]
