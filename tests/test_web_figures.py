"""The lead's dashboard figures (textal.web.figures) on a hand-made label history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from textal.ledger import AMBIGUOUS, LABEL, UNLABEL, LabelEvent
from textal.web.figures import DAYS_SHOWN, team_figures

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _events(rows: list[tuple[str, str, str, str | None, float, str]]) -> list[LabelEvent]:
    """``(item, annotator, kind, label, minutes before NOW, source)`` rows as ledger events."""
    return [
        LabelEvent(k + 1, item, kind, label, who, source, (NOW - timedelta(minutes=m)).isoformat())
        for k, (item, who, kind, label, m, source) in enumerate(rows)
    ]


def test_counts_speed_agreement_and_days_in_the_viewers_time_zone():
    events = _events(
        [
            ("a", "ana", LABEL, "pos", 50, "web"),
            ("b", "ana", LABEL, "neg", 49.5, "web"),  # 30 s after the last
            ("c", "ana", LABEL, "pos", 49, "web"),  # 30 s
            ("d", "ana", AMBIGUOUS, None, 20, "web"),  # a 29-minute break: not a slow answer
            ("a", "bo", LABEL, "pos", 10, "web"),
            ("b", "bo", LABEL, "pos", 9, "web"),  # 60 s
            ("c", "bo", LABEL, "pos", 8, "web"),
            ("c", "bo", UNLABEL, None, 7, "web"),  # bo's answer on c withdrawn
            ("b", "cy", LABEL, "neg", 5, "web"),
            ("b", "ana", LABEL, "pos", 1, "resolution"),  # no one's answer
        ]
    )
    figures = team_figures(events, now=NOW, offset=timedelta(0), resolution="resolution")
    ana, bo, cy = figures.people
    assert (ana.name, ana.answers, ana.last_hour, ana.median_seconds) == ("ana", 4, 4, 30.0)
    assert (bo.answers, bo.median_seconds) == (3, 60.0)
    assert cy.median_seconds is None
    # a: ana and bo both say pos. b: for bo the others (ana, cy) say neg; for ana the others
    # tie (bo pos, cy neg), and so do they for cy: no consensus, not compared.
    assert (ana.agreement, ana.compared) == (1.0, 1)
    assert (bo.agreement, bo.compared) == (0.5, 2)
    assert (cy.agreement, cy.compared) == (None, 0)
    assert ana.today == 4 and len(figures.days) == DAYS_SHOWN
    assert figures.days[-1].day == "2026-03-02"
    assert figures.days[-1].by_annotator == {"ana": 4, "bo": 3, "cy": 1}
    # Twelve hours west of UTC it is midnight: every answer was yesterday.
    west = team_figures(events, now=NOW, offset=timedelta(hours=-12), resolution="resolution")
    assert (west.days[-1].day, west.days[-1].by_annotator) == ("2026-03-02", {})
    assert west.days[-2].by_annotator == {"ana": 4, "bo": 3, "cy": 1}
    assert west.people[0].today == 0
