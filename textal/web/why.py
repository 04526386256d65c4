"""Why the label page shows a review, in words a support person reads at a glance.

The numbers (score, probabilities, similarities) stay on the page behind a toggle; these
sentences come first. Each follows from what the round recorded: a cold-start round has no
model; an explored pick (``adaptive``) has a prediction but no score; a probe names the class it
was asked for (``Selection.probe``); a ranked pick has both.
A multi-label pick (``Selection.probabilities`` set) is read per label: the labels whose
presence probability is nearest 50% are the ones the model is unsure about.
"""

from __future__ import annotations

from dataclasses import dataclass

from textal.ledger import RoundRecord, Selection
from textal.strategy import multilabel
from textal.strategy.scores import STRATEGIES

#: Top-two probabilities closer than this read as "torn between" rather than "leans to".
TORN_GAP = 0.3
#: A label's presence probability within this of 50% reads as "unsure about" (multi-label).
UNSURE_BAND = 0.25
UNSURE_SHOWN = 3

COLD_START, EXPLORED, PROBE, TORN, LEANS, RANDOM, OUTSIDE = (
    "cold-start",
    "explored",
    "probe",
    "torn",
    "leans",
    "random",
    "outside",
)


@dataclass(frozen=True)
class Reason:
    """``kind`` (one of the constants above, for tests and styling) and the sentence shown."""

    kind: str
    text: str


def _uses(strategy: str | None, step: str, *, multi_label: bool = False) -> bool:
    """Whether the built-in ``strategy`` composes ``step`` (``density`` or ``explore``)."""
    registry = multilabel.STRATEGIES if multi_label else STRATEGIES
    builtin = registry.get(strategy or "")
    return builtin is not None and bool(getattr(builtin, step))


def _percent(p: float) -> str:
    return f"{round(100 * p)}%"


def reason(selection: Selection, record: RoundRecord | None) -> Reason:
    """Why ``selection`` of round ``record`` is asked (``record`` ``None``: no round yet)."""
    strategy = record.report.selected_by if record is not None else None
    if selection.rank == 0 or record is None:
        return Reason(OUTSIDE, "Shown again for your undo; it is not in this round's batch.")
    top = selection.top2
    sure = f" (it says {top[0].label}, {_percent(top[0].probability)} sure)" if top else ""
    if selection.probe is not None:
        return Reason(
            PROBE,
            f"Asked because it reads like {selection.probe}, a label nobody has given yet: "
            "the model cannot predict a label it has never seen, so the reviews nearest the "
            f"label's name and description are asked first{sure}.",
        )
    if record.report.cold_start or selection.predicted is None:
        return Reason(
            COLD_START,
            "Picked to cover the range of reviews: there are no labels of two different "
            "classes yet, so the first reviews are spread over every kind in the data.",
        )
    if selection.probabilities:
        return _multi_label_reason(selection, strategy)
    if strategy == "random":
        return Reason(RANDOM, f"Picked at random: this round samples reviews uniformly{sure}.")
    if selection.score is None and _uses(strategy, "explore"):
        return Reason(
            EXPLORED,
            f"Picked to explore, not because the model is unsure{sure}: part of each batch is "
            "drawn at random (never a near copy of a labeled review), so the model also learns "
            "where it may be wrongly sure.",
        )
    if len(top) < 2:
        return Reason(LEANS, f"One of the reviews the model is least sure about{sure}.")
    first, second = top[0], top[1]
    if first.probability - second.probability < TORN_GAP:
        return Reason(
            TORN,
            f"The model is torn between {first.label} ({_percent(first.probability)}) and "
            f"{second.label} ({_percent(second.probability)}): your answer settles it.",
        )
    leans = (
        f"The model leans to {first.label} ({_percent(first.probability)}) over "
        f"{second.label} ({_percent(second.probability)})"
    )
    if _uses(strategy, "density"):
        return Reason(
            LEANS,
            f"{leans}, and many unlabeled reviews are like this one: your answer teaches it "
            "about all of them.",
        )
    return Reason(LEANS, f"{leans}, less sure than about most reviews.")


def _multi_label_reason(selection: Selection, strategy: str | None) -> Reason:
    """:func:`reason` for a multi-label pick: what the model says (its predicted set) and the
    labels it is unsure about."""
    said = (selection.predicted or "").replace(";", ", ") or "none of the labels"
    if strategy == "random":
        return Reason(
            RANDOM, f"Picked at random: this round samples reviews uniformly (it says {said})."
        )
    if selection.score is None and _uses(strategy, "explore", multi_label=True):
        return Reason(
            EXPLORED,
            f"Picked to explore, not because the model is unsure (it says {said}): part of each "
            "batch is drawn at random, so the model also learns where it may be wrongly sure.",
        )
    unsure = sorted(
        (p for p in selection.probabilities if abs(p.probability - 0.5) < UNSURE_BAND),
        key=lambda p: abs(p.probability - 0.5),
    )[:UNSURE_SHOWN]
    if unsure:
        about = " or ".join(f"{p.label} ({_percent(p.probability)})" for p in unsure)
        return Reason(
            TORN,
            f"The model is unsure whether this review is about {about}: your answer settles it.",
        )
    return Reason(LEANS, f"The model says {said}, less sure than about most reviews.")
