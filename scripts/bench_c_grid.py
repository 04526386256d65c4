"""Which C grid and selection rule should AutoClassifier use? Test macro-F1 of each rule's pick.

For each set of ``scripts/run_reference.sh``'s workspace (``--full-data`` names of
``scripts/bench_candidates.py``), each labeled-set size (0: every pool label) and seed: deal the
labels over AutoClassifier's folds (``singleton_folds``, the folds reaching ``MAX_SCORED``),
score every balanced and unbalanced logistic regression with C in 0.1 to 1000 (half-decade
steps) on the same folds by pooled out-of-fold macro-F1, refit each on all the labels and score
it on the test set. Each rule (a grid, argmax or a one-standard-error rule toward small C, with
or without class weighting) then picks from those CV scores; the table gives the mean test
macro-F1 of its picks and the gap to the best single balanced C of the decade grid 0.1-1000 (the
reference of docs/results.md). For every pool label (size 0) the last column gives the kept rule's
gap to that best C with its 95% paired bootstrap interval over the test items (1,000 resamples),
which says whether a test set that size can tell the two heads apart. Usage::

    python scripts/bench_c_grid.py --workspace WS --sets uci-amazon cr --sizes 0 100 300 --seeds 5
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_candidates import FULL_DATA

from textal.model.automl import MAX_SCORED, _macro_f1, singleton_folds
from textal.simulate.dataset import Source, TestSpec, open_simulation_data
from textal.simulate.metrics import score_predictions

CS = (0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0, 1000.0)
DECADES = (0.1, 1.0, 10.0, 100.0, 1000.0)
Key = tuple[float, bool]  # (C, balanced)
Scores = dict[
    Key, tuple[float, float, int, float]
]  # (CV macro-F1, its std over folds, folds, test)
Predictions = dict[Key, np.ndarray]  # each head's test predictions
KEPT = "1/10/100, unweighted if 1 SE better (kept)"
BOOTSTRAP = 1000


def load(name: str, workspace: Path, data: Path) -> tuple[np.ndarray, ...]:
    """(X, y, test X, test y) of a set's simulation cache."""
    pool_file, test_file = (
        None
        if f is None
        else Path(str(data / f).replace(f"{data}/DERIVED", str(workspace / "derived")))
        for f in FULL_DATA[name]
    )
    test = TestSpec(source=Source(path=test_file)) if test_file else TestSpec(fraction=0.2)
    with open_simulation_data(workspace, Source(path=pool_file), test, name=name) as sim:
        ids = [i for chunk in sim.store.iterate() for i in chunk.ids]
        y = np.array([sim.oracle[i] for i in ids])
        return sim.store.get_vectors(ids), y, sim.test_vectors, sim.test_labels


def score_all(
    X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seed: int
) -> tuple[Scores, Predictions]:
    """CV and test macro-F1 of every (C, balanced) on AutoClassifier's folds of seed ``seed``,
    and each one's test predictions."""
    names, y_enc = np.unique(y, return_inverse=True)
    fold = singleton_folds(
        y_enc, int(min(5, np.bincount(y_enc).max())), np.random.default_rng(seed)
    )
    sizes = np.bincount(fold[fold >= 0])
    n_folds = min(max(2, int(np.searchsorted(np.cumsum(sizes), MAX_SCORED)) + 1), len(sizes))
    held = [np.flatnonzero(fold == f) for f in range(n_folds)]
    truth = y_enc[np.concatenate(held)]
    test_classes = sorted(set(yt.tolist()))
    out: Scores = {}
    predicted: Predictions = {}
    for balanced in (True, False):
        for C in CS:

            def model(C: float = C, balanced: bool = balanced) -> LogisticRegression:
                weight = "balanced" if balanced else None
                return LogisticRegression(C=C, class_weight=weight, tol=1e-3, max_iter=1000)

            preds = [
                model().fit(X[fold != f], y_enc[fold != f]).predict(X[fold == f])
                for f in range(n_folds)
            ]
            per_fold = [_macro_f1(y_enc[r], p) for r, p in zip(held, preds, strict=True)]
            predicted[(C, balanced)] = names[model().fit(X, y_enc).predict(Xt)]
            test = score_predictions(yt, predicted[(C, balanced)], test_classes)
            cv = _macro_f1(truth, np.concatenate(preds))
            out[(C, balanced)] = (cv, float(np.std(per_fold)), n_folds, test.macro_f1)
    return out, predicted


def bootstrap_gap(yt: np.ndarray, best: np.ndarray, pick: np.ndarray) -> tuple[float, float]:
    """95% interval of macro-F1(best) - macro-F1(pick) over test items drawn with replacement
    (the same draws for both heads)."""
    classes = sorted(set(yt.tolist()))
    rng = np.random.default_rng(0)
    gaps = []
    for _ in range(BOOTSTRAP):
        k = rng.integers(len(yt), size=len(yt))
        gaps.append(
            score_predictions(yt[k], best[k], classes).macro_f1
            - score_predictions(yt[k], pick[k], classes).macro_f1
        )
    low, high = np.quantile(gaps, [0.025, 0.975])
    return float(low), float(high)


def argmax(scores: Scores, keys: list[Key]) -> Key:
    """The best CV score; the earlier key on ties."""
    return max(keys, key=lambda k: (scores[k][0], -keys.index(k)))


def one_se(scores: Scores, keys: list[Key]) -> Key:
    """The first key (smallest C) within one standard error (over folds) of the best CV score."""
    cv, std, n_folds, _ = scores[argmax(scores, keys)]
    return next(k for k in keys if scores[k][0] >= cv - std / math.sqrt(n_folds))


def unweighted_if_clearly(scores: Scores, cs: tuple[float, ...]) -> Key:
    """The best balanced key, unless the best unweighted one beats it by more than its standard
    error (AutoClassifier's rule since issue 27)."""
    balanced, unweighted = argmax(scores, grid(cs)), argmax(scores, grid(cs, (False,)))
    cv, std, n_folds, _ = scores[balanced]
    return unweighted if scores[unweighted][0] > cv + std / math.sqrt(n_folds) else balanced


def grid(cs: tuple[float, ...], weights: tuple[bool, ...] = (True,)) -> list[Key]:
    return [(C, w) for C in cs for w in weights]


RULES: dict[str, Callable[[Scores], Key]] = {
    "1/10/100 (before)": lambda s: argmax(s, grid((1.0, 10.0, 100.0))),
    "decades 0.1-1000": lambda s: argmax(s, grid(DECADES)),
    "decades 1-1000": lambda s: argmax(s, grid(DECADES[1:])),
    "half 0.1-1000": lambda s: argmax(s, grid(CS)),
    "half 1-1000": lambda s: argmax(s, grid(CS[2:])),
    "half 1-1000, 1 SE": lambda s: one_se(s, grid(CS[2:])),
    "half 1-1000 + weighting": lambda s: argmax(s, grid(CS[2:], (True, False))),
    "decades 1-1000 + weighting": lambda s: argmax(s, grid(DECADES[1:], (True, False))),
    "half 1-100 + weighting": lambda s: argmax(s, grid(CS[2:7], (True, False))),
    "half 1-100 + weighting, 1 SE": lambda s: one_se(s, grid(CS[2:7], (True, False))),
    "1/10/100 + weighting": lambda s: argmax(s, grid((1.0, 10.0, 100.0), (True, False))),
    "1/10/100 + weighting, 1 SE": lambda s: one_se(s, grid((1.0, 10.0, 100.0), (True, False))),
    "decades 1-1000 + weighting, 1 SE": lambda s: one_se(s, grid(DECADES[1:], (True, False))),
    KEPT: lambda s: unweighted_if_clearly(s, (1.0, 10.0, 100.0)),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("textal-workspace"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sets", nargs="+", choices=sorted(FULL_DATA), required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[0], help="0: every pool label")
    parser.add_argument("--seeds", type=int, default=5, help="seeds per size below the pool")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    print(
        "| set | labels | best single C (decades) | "
        + " | ".join(RULES)
        + " | kept rule's gap, 95% bootstrap (every label) |"
    )
    print("|---|---|---|" + "---|" * (len(RULES) + 1))
    gaps: dict[str, list[float]] = {rule: [] for rule in RULES}
    for name in args.sets:
        X, y, Xt, yt = load(name, args.workspace, args.data)
        for n in args.sizes:
            runs, predictions = [], []
            for seed in range(1 if n == 0 else args.seeds):
                rows = (
                    np.random.default_rng(seed).permutation(len(y))[:n] if n else np.arange(len(y))
                )
                if len(set(y[rows])) >= 2:
                    with threadpool_limits(limits=1):
                        scores, predicted = score_all(X[rows], y[rows], Xt, yt, seed)
                    runs.append(scores)
                    predictions.append(predicted)
            single = {C: np.mean([r[(C, True)][3] for r in runs]) for C in DECADES}
            best = max(single, key=lambda C: single[C])
            cells = []
            for rule, pick in RULES.items():
                picks = [pick(r) for r in runs]
                mean = float(np.mean([r[k][3] for r, k in zip(runs, picks, strict=True)]))
                gaps[rule].append(single[best] - mean)
                shown = (
                    f" (C={picks[0][0]:g}{'' if picks[0][1] else ', unbalanced'})" if n == 0 else ""
                )
                cells.append(f"{mean:.3f}{shown}")
            if n == 0:
                kept = RULES[KEPT](runs[0])
                gap = single[best] - runs[0][kept][3]
                low, high = bootstrap_gap(yt, predictions[0][(best, True)], predictions[0][kept])
                cells.append(f"{100 * gap:+.1f} ({100 * low:+.1f} to {100 * high:+.1f})")
            else:
                cells.append("")
            print(
                f"| {name} | {n or len(y)} | C={best:g}: {single[best]:.3f} | "
                + " | ".join(cells)
                + " |"
            )
    print(
        "| mean gap to the best single C | | | "
        + " | ".join(f"{np.mean(g):+.4f}" for g in gaps.values())
        + " |"
    )
    print("| largest gap | | | " + " | ".join(f"{np.max(g):+.4f}" for g in gaps.values()) + " |")


if __name__ == "__main__":
    main()
