"""Which classifier heads earn a place in AutoClassifier? Held-out balanced accuracy, real data.

For each dataset, labeled-set size and seed: draw random labels, fit every candidate, record its
stratified-CV balanced accuracy on the labels and its held-out balanced accuracy on (up to 3,000
of) the rest; then compare candidate pools by the held-out score of the CV-picked head. This is
how the pool was chosen (README, "How a round chooses"). About 2 minutes on 2 cores once the
embeddings are cached (tests/fixtures_data.py caches them under .cache/). Usage::

    python scripts/bench_candidates.py

``--full-data NAME ...`` instead fits, on every label of a simulation cache of
``scripts/run_reference.sh`` (``textal-workspace/simulations/NAME-all-MiniLM-L6-v2``), each
single C and the ``AutoClassifier`` pick, and prints their test macro-F1 and accuracy: the check
that the full-data head is within 0.5 points of the best single C. With ``--sizes 50 100 ...``
it does the same on that many random labels (mean of 5 seeds). For numeric (ordered) labels it
adds an ordinal head (Frank & Hall cumulative logits, :class:`OrdinalFrankHall`).
"""

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier, NearestCentroid
from sklearn.svm import SVC, LinearSVC
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures_data import load_embedded  # the cached real embeddings

DATASETS = [
    "uci_sentiment_labelled/yelp.csv",
    "uci_sentiment_labelled/amazon.csv",
    "uci_sentiment_labelled/imdb.csv",
    "sst2/validation.csv",
    "cr_customer_reviews/all.csv",
    "trec/train.csv",
    "ag_news/train_subset.csv",
]
SIZES = [20, 50, 100, 200, 500]
SEEDS = range(5)
LR = [f"lr C={c}{b}" for c in [0.1, 1, 10, 100] for b in ["", " bal"]]
POOLS = {
    "fixed lr C=1 bal": ["lr C=1 bal"],
    "lr bal C=1,10,100 (kept)": ["lr C=1 bal", "lr C=10 bal", "lr C=100 bal"],
    "lr grid 8": LR,
    "lr 8 + svc-rbf": [*LR, "svc-rbf C=10"],
    "lr 8 + ridge": [*LR, "ridge a=1", "ridge a=10"],
    "lr 8 + linsvc": [*LR, "linsvc C=0.1", "linsvc C=1"],
    "lr 8 + knn/centroid": [*LR, "knn k=5", "knn k=15", "centroid"],
}


def candidates() -> dict:
    found = {}
    for c in [0.1, 1, 10, 100]:
        for weight in [None, "balanced"]:
            name = f"lr C={c}{' bal' if weight else ''}"
            found[name] = LogisticRegression(C=c, class_weight=weight, max_iter=1000, tol=1e-3)
    for c in [0.1, 1]:
        found[f"linsvc C={c}"] = LinearSVC(C=c, class_weight="balanced")
    for a in [1, 10]:
        found[f"ridge a={a}"] = RidgeClassifier(alpha=a, class_weight="balanced")
    for k in [5, 15]:
        found[f"knn k={k}"] = KNeighborsClassifier(k, weights="distance", metric="cosine")
    found["centroid"] = NearestCentroid()
    found["svc-rbf C=10"] = SVC(C=10, kernel="rbf", class_weight="balanced")
    return found


def one(name: str, n: int, seed: int) -> list[dict]:
    _, X, y = load_embedded(name)
    perm = np.random.default_rng(seed).permutation(len(y))
    labeled, rest = perm[:n], perm[n:][:3000]
    _, counts = np.unique(y[labeled], return_counts=True)
    if len(counts) < 2:
        return []
    folds = min(5, counts.min())
    rows = []
    with threadpool_limits(1):
        for cand, est in candidates().items():
            if cand.startswith("knn") and est.n_neighbors > n:
                continue
            cv = np.nan
            if folds >= 2:
                split = StratifiedKFold(folds, shuffle=True, random_state=0)
                cv = cross_val_score(
                    est, X[labeled], y[labeled], cv=split, scoring="balanced_accuracy"
                ).mean()
            est.fit(X[labeled], y[labeled])
            held_out = balanced_accuracy_score(y[rest], est.predict(X[rest]))
            rows.append(dict(ds=name, n=n, seed=seed, cand=cand, cv=cv, ho=held_out))
    return rows


FULL_DATA = {  # name: (pool file, test file or None for a stratified 20% of the pool)
    "uci-amazon": ("uci_sentiment_labelled/amazon.csv", None),
    "uci-yelp": ("uci_sentiment_labelled/yelp.csv", None),
    "uci-imdb": ("uci_sentiment_labelled/imdb.csv", None),
    "sst2": ("sst2/train.csv", "sst2/validation.csv"),
    "trec": ("trec/train.csv", "trec/test.csv"),
    "trec-fine": ("trec/train_fine.csv", "trec/test_fine.csv"),
    "ag_news": ("ag_news/train_subset.csv", "ag_news/test.csv"),
    "cr": ("cr_customer_reviews/all.csv", None),
    "imdb-stars": ("DERIVED/imdb-stars/pool.csv", "DERIVED/imdb-stars/test.csv"),
    "ag-rare": ("DERIVED/ag-rare/pool.csv", "DERIVED/ag-rare/test.csv"),
}


class OrdinalFrankHall:
    """Frank & Hall (2001) ordinal head: one balanced LR per threshold for P(y > k), differenced.

    Tried for ordered (numeric) labels such as star ratings; see the module docstring's verdict.
    """

    def __init__(self, C: float) -> None:
        self.C = C

    def fit(self, X: np.ndarray, y: np.ndarray) -> "OrdinalFrankHall":
        self.classes_ = np.array(sorted(set(y.tolist()), key=float))
        rank = np.searchsorted(self.classes_.astype(float), y.astype(float))
        self.models_ = [
            LogisticRegression(C=self.C, class_weight="balanced", max_iter=1000, tol=1e-3).fit(
                X, rank > k
            )
            for k in range(len(self.classes_) - 1)
        ]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        above = np.column_stack([m.predict_proba(X)[:, 1] for m in self.models_])
        above = np.minimum.accumulate(above, axis=1)  # P(y > k) must fall with k
        cumulative = np.column_stack([np.ones(len(X)), above, np.zeros(len(X))])
        return np.clip(cumulative[:, :-1] - cumulative[:, 1:], 0, None)

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _heads(numeric: bool) -> dict:
    from textal.model.automl import AutoClassifier

    heads: dict = {
        f"lr C={c:g} bal": LogisticRegression(C=c, class_weight="balanced", max_iter=1000, tol=1e-3)
        for c in [0.1, 1, 10, 100, 1000]
    }
    if numeric:
        heads.update({f"ordinal C={c:g}": OrdinalFrankHall(c) for c in [1, 10, 100]})
    heads["AutoClassifier"] = AutoClassifier()
    return heads


def full_data(names: list[str], workspace: Path, data: Path, sizes: list[int]) -> None:
    """Full-data heads (``sizes`` empty) or the mean over 5 seeds of ``n`` random labels."""
    from textal.simulate.dataset import Source, TestSpec, open_simulation_data
    from textal.simulate.metrics import score_predictions

    derived = workspace / "derived"
    print("| dataset | labels | head | macro-F1 | accuracy | fit s |")
    print("|---|---|---|---|---|---|")
    for name in names:
        pool_file, test_file = (
            None if f is None else Path(str(data / f).replace(f"{data}/DERIVED", str(derived)))
            for f in FULL_DATA[name]
        )
        test = TestSpec(source=Source(path=test_file)) if test_file else TestSpec(fraction=0.2)
        with open_simulation_data(workspace, Source(path=pool_file), test, name=name) as sim:
            ids = [i for chunk in sim.store.iterate() for i in chunk.ids]
            X = sim.store.get_vectors(ids)
            y = np.array([sim.oracle[i] for i in ids])
            classes = sorted(set(sim.test_labels.tolist()))
            numeric = all(c.lstrip("-").isdigit() for c in classes)
            for n in sizes or [len(y)]:
                seeds = range(5) if n < len(y) else range(1)
                scores: dict = {}
                for seed in seeds:
                    rows = np.random.default_rng(seed).permutation(len(y))[:n]
                    with threadpool_limits(1):
                        for head, est in _heads(numeric).items():
                            started = time.perf_counter()
                            est.fit(X[rows], y[rows])
                            seconds = time.perf_counter() - started
                            s = score_predictions(
                                sim.test_labels, est.predict(sim.test_vectors), classes
                            )
                            if head == "AutoClassifier":
                                head = f"AutoClassifier -> {est.best_name_}"
                            if seed:
                                head = "AutoClassifier" if "->" in head else head
                            scores.setdefault(head.split(" -> ")[0], []).append(
                                (s.macro_f1, s.accuracy, seconds, head)
                            )
                for head, runs in scores.items():
                    f1, acc, sec = (np.mean([r[i] for r in runs]) for i in range(3))
                    shown = runs[0][3] if len(runs) == 1 else head
                    print(f"| {name} | {n} | {shown} | {f1:.3f} | {acc:.3f} | {sec:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-data", nargs="+", choices=sorted(FULL_DATA), metavar="NAME")
    parser.add_argument("--workspace", type=Path, default=Path("textal-workspace"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    parser.add_argument("--sizes", type=int, nargs="*", default=[], help="labeled-set sizes")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.full_data:
        full_data(args.full_data, args.workspace, args.data, args.sizes)
        return
    for name in DATASETS:
        load_embedded(name)
    jobs = (delayed(one)(d, n, s) for d in DATASETS for n in SIZES for s in SEEDS)
    df = pd.DataFrame([row for rows in Parallel(n_jobs=2)(jobs) for row in rows])
    picked = []
    for (ds, n, seed), group in df.groupby(["ds", "n", "seed"]):
        group = group.set_index("cand")
        for policy, pool in POOLS.items():
            sub = group.loc[[c for c in pool if c in group.index]]
            best = sub.cv.idxmax() if sub.cv.notna().any() else sub.index[0]
            picked.append(dict(ds=ds, n=n, seed=seed, policy=policy, ho=sub.loc[best, "ho"]))
    table = pd.DataFrame(picked).pivot_table(index="policy", columns="n", values="ho")
    print("held-out balanced accuracy of the CV-picked head (mean over 7 datasets x 5 seeds)")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
