"""Label sets of multi-label data: the ``labels`` cell format and the (n, k) boolean matrix.

A cell holds the label names sorted and joined by :data:`SEP` (``"food;service"``); the empty
string is the empty set ("none of these"). In Python a label set is ``frozenset[str]`` and many
of them are a matrix ``Y (n, k) bool`` whose columns follow ``label_names``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from textal.errors import TextalError, show_value

#: Joins the names of a label set in one cell.
SEP = ";"
#: The empty set ("none of these") in a CSV file textal writes: a lone ``;``, since in a label
#: file an empty cell is an answer not given yet (the untouched rows of a batch). Label files
#: read it back as the empty set, so an export re-imports exactly.
NONE_CELL = SEP


def parse_label_set(cell: str) -> frozenset[str]:
    """The set in a ``labels`` cell: names split on ``;`` and stripped; empty parts dropped."""
    return frozenset(name for part in cell.split(SEP) if (name := part.strip()))


def join_label_set(labels: Iterable[str]) -> str:
    """The ``labels`` cell of a set: its names sorted and joined by ``;`` (``""``: empty set)."""
    return SEP.join(sorted(set(labels)))


def canonical_label_cell(cell: str) -> str:
    """``cell`` as :func:`join_label_set` writes it: ``"service; food"`` -> ``"food;service"``."""
    return join_label_set(parse_label_set(cell))


def label_matrix(sets: Sequence[frozenset[str]], label_names: Sequence[str]) -> np.ndarray:
    """``Y (n, k) bool``: ``Y[i, j]`` is whether ``sets[i]`` holds ``label_names[j]``.

    Raises :class:`TextalError` naming a label outside ``label_names``.
    """
    column = {name: j for j, name in enumerate(label_names)}
    Y = np.zeros((len(sets), len(label_names)), dtype=bool)
    for i, labels in enumerate(sets):
        for name in labels:
            if name not in column:
                raise TextalError(
                    f"label {show_value(name)} is not one of {', '.join(label_names)}"
                )
            Y[i, column[name]] = True
    return Y


def label_sets_of(Y: np.ndarray, label_names: Sequence[str]) -> list[frozenset[str]]:
    """The rows of ``Y (n, k) bool`` as label sets: the inverse of :func:`label_matrix`."""
    return [frozenset(label_names[int(j)] for j in np.flatnonzero(row)) for row in np.asarray(Y)]
