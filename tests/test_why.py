"""The label page's reasons in words (textal.web.why), for each kind of pick a round records."""

from __future__ import annotations

import pytest

from textal.ledger import (
    COLD_START,
    ClassProbability,
    RoundParams,
    RoundRecord,
    RoundReport,
    Selection,
)
from textal.web.why import reason


def _round(selected_by: str) -> RoundRecord:
    return RoundRecord(
        2, "2026-01-01T00:00:00", RoundParams(selected_by, 20), 5, "x", RoundReport(selected_by, 5)
    )


def _pick(score: float | None, *top: tuple[str, float], rank: int = 1) -> Selection:
    probabilities = tuple(ClassProbability(label, p) for label, p in top)
    return Selection(rank, "i", score, top[0][0] if top else None, probabilities)


@pytest.mark.parametrize(
    ("pick", "strategy", "kind", "words"),
    [
        (_pick(None), COLD_START, "cold-start", "Picked to cover the range of reviews"),
        (
            _pick(0.05, ("billing", 0.48), ("refund", 0.43)),
            "margin",
            "torn",
            "The model is torn between billing (48%) and refund (43%): your answer settles it.",
        ),
        (
            _pick(None, ("billing", 0.97), ("refund", 0.02)),
            "adaptive",
            "explored",
            "Picked to explore, not because the model is unsure (it says billing, 97% sure)",
        ),
        (
            _pick(0.4, ("billing", 0.8), ("refund", 0.2)),
            "margin-density",
            "leans",
            "The model leans to billing (80%) over refund (20%), and many unlabeled reviews",
        ),
        (
            _pick(0.4, ("billing", 0.8), ("refund", 0.2)),
            "entropy",
            "leans",
            "The model leans to billing (80%) over refund (20%), less sure than about most",
        ),
        (
            _pick(0.7, ("billing", 0.9), ("refund", 0.1)),
            "random",
            "random",
            "Picked at random: this round samples reviews uniformly (it says billing, 90% sure).",
        ),
        (_pick(None, rank=0), "margin", "outside", "Shown again for your undo"),
    ],
)
def test_each_pick_gets_its_reason_in_words(pick, strategy, kind, words):
    said = reason(pick, _round(strategy))
    assert said.kind == kind
    assert said.text.startswith(words)
    assert "score" not in said.text  # the numbers are on the page, behind a toggle


def test_no_round_yet_reads_as_outside_any_batch():
    assert reason(_pick(None), None).kind == "outside"
