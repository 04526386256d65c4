"""Human knowledge: label events, rounds and selections in SQLite."""

from textal.ledger.answers import (
    AMBIGUOUS,
    LABEL,
    UNLABEL,
    Answer,
    LabelValue,
    NewLabel,
)
from textal.ledger.ledger import LabelEvent, Ledger
from textal.ledger.records import (
    COLD_START,
    CandidateSet,
    ClassProbability,
    LeaderboardEntry,
    Neighbor,
    RoundParams,
    RoundRecord,
    RoundReport,
    Selection,
    Timings,
    labels_digest,
)

__all__ = [
    "AMBIGUOUS",
    "COLD_START",
    "LABEL",
    "UNLABEL",
    "Answer",
    "CandidateSet",
    "ClassProbability",
    "LabelEvent",
    "LabelValue",
    "LeaderboardEntry",
    "Ledger",
    "Neighbor",
    "NewLabel",
    "RoundParams",
    "RoundRecord",
    "RoundReport",
    "Selection",
    "Timings",
    "labels_digest",
]
