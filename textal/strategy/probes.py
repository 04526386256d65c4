"""Name probes: ask for a declared class that has no label yet by the review nearest its name.

A class with no label cannot be predicted, so no ambiguity score ever points at it, and a rare
one can stay unasked for the whole budget (on TREC's 50 fine classes, 2.3 of them on average
after 525 labels). Its name is the one thing known about it: embedded with the same model as the
reviews (with the label's guideline description when there is one), its nearest stored reviews
are the likeliest members. Each round asks, for each such class, the nearest unlabeled review
among the name's :data:`PROBE_DEPTH` nearest stored ones, so a name that finds nothing costs at
most that many questions, and a class stops being probed once it has a label.
"""

from __future__ import annotations

import re
from collections.abc import Container, Sequence

import numpy as np

PROBE_DEPTH = 5  # a name's nearest stored reviews that may be asked for it
PROBE_SHARE = 0.2  # the most of a batch that goes to names without a label


def probe_text(label: str, description: str = "") -> str:
    """What is embedded for ``label``: its words (``_ : / -`` read as spaces, so
    ``freeze_account`` reads "freeze account"), then its guideline description if any."""
    words = re.sub(r"[_:/-]+", " ", label).strip() or label
    return f"{words}: {description}" if description else words


def probe_slots(batch_size: int) -> int:
    """The most picks of a ``batch_size`` batch that probes may take."""
    return int(np.ceil(PROBE_SHARE * batch_size))


def choose_probes(
    classes: Sequence[str],
    hits: Sequence[Sequence[tuple[str, float]]],
    skip: Container[str],
    slots: int,
) -> list[tuple[str, str]]:
    """``(item_id, class)`` pairs to ask, most name-like first, at most ``slots`` of them.

    ``hits[k]`` are the stored reviews nearest ``classes[k]``'s name, best first (a store's
    ``search``); a class offers its nearest one not in ``skip`` (labeled or excluded). Classes
    take their offers from the most name-like down; one whose review another class took takes
    its next. Ties break by class name, so the choice is deterministic.
    """
    offers = []
    for name, row in zip(classes, hits, strict=True):
        free = [(similarity, item_id) for item_id, similarity in row if item_id not in skip]
        if free:
            offers.append((-free[0][0], name, [item_id for _, item_id in free]))
    chosen: list[tuple[str, str]] = []
    taken: set[str] = set()
    for _, name, nearest in sorted(offers):
        item_id = next((i for i in nearest if i not in taken), None)
        if item_id is not None and len(chosen) < slots:
            taken.add(item_id)
            chosen.append((item_id, name))
    return chosen
