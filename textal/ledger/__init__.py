"""Human knowledge: label events, rounds and selections in SQLite."""

from textal.ledger.ledger import AMBIGUOUS, LABEL, UNLABEL, LabelEvent, Ledger, NewLabel
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
    "CandidateSet",
    "ClassProbability",
    "LabelEvent",
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
