"""Label noise for simulations and benchmarks: wrong labels drawn reproducibly from a seed.

Two kinds. ``uniform``: a wrong label is any other class, equally likely. ``class``
(class-conditional): every class is confused with one fixed other class, the one whose mean
embedding is most similar to its own (people mistake a question about a place for one about a
person more often than for one about a number). With two classes both kinds give the same labels.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from textal.options import StrOptions

NOISE_KIND = StrOptions(("uniform", "class"), default="uniform")


def confusable_classes(X: np.ndarray, y: np.ndarray) -> dict[str, str]:
    """``{class: the other class whose mean embedding (of X (n, d), labels y (n,)) is closest}``."""
    y = np.asarray(y).astype(str)
    classes = np.unique(y)
    centroids = np.stack([X[y == c].mean(axis=0) for c in classes])
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    sims = centroids @ centroids.T
    np.fill_diagonal(sims, -np.inf)
    return {str(c): str(classes[int(np.argmax(sims[i]))]) for i, c in enumerate(classes)}


def wrong_labels(
    given: Sequence[str],
    classes: Sequence[str],
    rng: np.random.Generator,
    *,
    kind: str = NOISE_KIND.default,
    targets: Mapping[str, str] | None = None,
) -> list[str]:
    """A wrong label for each of ``given``: another of ``classes`` at random (``uniform``), or
    ``targets[label]`` (``class``, see :func:`confusable_classes`)."""
    if NOISE_KIND.check(kind, "noise kind") == "class":
        if targets is None:
            raise ValueError("class-conditional noise needs the confusable class of each class")
        return [targets[g] for g in given]
    ordered = sorted(classes)
    wrong = []
    for g in given:
        others = [c for c in ordered if c != g]
        wrong.append(others[int(rng.integers(len(others)))])
    return wrong


def flip_exact(
    y: np.ndarray,
    n_flip: int,
    rng: np.random.Generator,
    *,
    kind: str = NOISE_KIND.default,
    targets: Mapping[str, str] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_flip`` random rows of ``y`` given a wrong label: (noisy copy of y, flipped rows)."""
    y = np.asarray(y).astype(str)
    flipped = np.sort(rng.choice(len(y), n_flip, replace=False))
    noisy = y.astype(object)
    noisy[flipped] = wrong_labels(
        y[flipped].tolist(), np.unique(y).tolist(), rng, kind=kind, targets=targets
    )
    return noisy.astype(str), flipped


def noisy_oracle(
    oracle: Mapping[str, str],
    rate: float,
    seed: int,
    *,
    kind: str = NOISE_KIND.default,
    targets: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The oracle's answers with each one wrong with probability ``rate``, drawn once per item
    (asking again gives the same answer) from ``seed`` and the sorted ids: reproducible."""
    if not 0 <= rate < 1:
        raise ValueError(f"label noise must be in [0, 1), got {rate}")
    ids = sorted(oracle)
    rng = np.random.default_rng([seed, 0x401CE])
    flip = rng.random(len(ids)) < rate
    chosen = [i for i, f in zip(ids, flip, strict=True) if f]
    classes = sorted(set(oracle.values()))
    wrong = wrong_labels([oracle[i] for i in chosen], classes, rng, kind=kind, targets=targets)
    answers = dict(oracle)
    answers.update(zip(chosen, wrong, strict=True))
    return answers
