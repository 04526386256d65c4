"""Options declared once: the choices or bounds of a setting, its default and its check.

The layer that owns a setting declares it (the strategy names in :mod:`textal.strategy.scores`,
the candidate modes in :mod:`textal.round.candidates`, ...); the Python API checks values with
it and the CLI builds its arguments from it (:mod:`textal.cli_args`), so a default or a bound is
written in one place. The style of scikit-learn's ``StrOptions`` and ``Interval`` constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

Number = TypeVar("Number", int, float)


@dataclass(frozen=True)
class StrOptions:
    """One of ``choices``; ``default`` is one of them."""

    choices: tuple[str, ...]
    default: str

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not among {self.choices}")

    def check(self, value: str, name: str) -> str:
        """``value``, or a ``ValueError`` naming ``name`` and the choices."""
        if value not in self.choices:
            raise ValueError(f"{name} must be one of {', '.join(self.choices)}: {value!r}")
        return value


@dataclass(frozen=True)
class Interval(Generic[Number]):
    """A number of type ``kind`` from ``low`` to ``high`` (``None``: unbounded), the ends
    included unless ``low_open``/``high_open``, with its ``default``."""

    kind: type[Number]
    default: Number
    low: Number | None = None
    high: Number | None = None
    low_open: bool = False
    high_open: bool = False

    def __post_init__(self) -> None:
        if self.problem(self.default) is not None:
            raise ValueError(f"default {self.default!r} is not {self.describe()}")

    def problem(self, value: Number) -> str | None:
        """Why ``value`` is out of bounds (``"must be at least 1"``), or ``None``. NaN is out of
        any bounds."""
        low, high = self.low, self.high
        if value != value:  # NaN
            return f"must be {self.describe()}"
        below = low is not None and (value <= low if self.low_open else value < low)
        above = high is not None and (value >= high if self.high_open else value > high)
        return f"must be {self.describe()}" if below or above else None

    def describe(self) -> str:
        """The bounds in words: ``at least 1``, ``from 0 to 65535``, ``in (0, 1]``."""
        low, high = self.low, self.high
        if high is None and low is None:
            return "any number"
        if high is None:
            return f"{'above' if self.low_open else 'at least'} {low}"
        if low is None:
            return f"{'below' if self.high_open else 'at most'} {high}"
        if not (self.low_open or self.high_open):
            return f"from {low} to {high}"
        return f"in {'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"

    def check(self, value: Number, name: str) -> Number:
        """``value``, or a ``ValueError`` naming ``name`` and the bounds."""
        problem = self.problem(value)
        if problem is not None:
            raise ValueError(f"{name} {problem}, got {value!r}")
        return value


POSITIVE = Interval(int, 1, low=1)  # a count of at least 1
