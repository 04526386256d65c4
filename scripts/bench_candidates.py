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
that the full-data head is within 0.5 points of the best single C.
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
    "trec": ("trec/train.csv", "trec/test.csv"),
    "trec-fine": ("trec/train_fine.csv", "trec/test_fine.csv"),
    "ag_news": ("ag_news/train_subset.csv", "ag_news/test.csv"),
    "cr": ("cr_customer_reviews/all.csv", None),
    "imdb-stars": ("DERIVED/imdb-stars/pool.csv", "DERIVED/imdb-stars/test.csv"),
    "ag-rare": ("DERIVED/ag-rare/pool.csv", "DERIVED/ag-rare/test.csv"),
}


def full_data(names: list[str], workspace: Path, data: Path) -> None:
    from textal.model.automl import AutoClassifier
    from textal.simulate.dataset import Source, TestSpec, open_simulation_data
    from textal.simulate.metrics import score_predictions

    derived = workspace / "derived"
    print("| dataset | head | macro-F1 | accuracy | fit s |")
    print("|---|---|---|---|---|")
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
            heads = {
                f"lr C={c:g} bal": LogisticRegression(
                    C=c, class_weight="balanced", max_iter=1000, tol=1e-3
                )
                for c in [0.1, 1, 10, 100, 1000]
            }
            heads["AutoClassifier"] = AutoClassifier()
            with threadpool_limits(1):
                for head, est in heads.items():
                    started = time.perf_counter()
                    est.fit(X, y)
                    seconds = time.perf_counter() - started
                    s = score_predictions(sim.test_labels, est.predict(sim.test_vectors), classes)
                    if head == "AutoClassifier":
                        head = f"AutoClassifier -> {est.best_name_}"
                    print(
                        f"| {name} | {head} | {s.macro_f1:.3f} | {s.accuracy:.3f} | {seconds:.1f} |"
                    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-data", nargs="+", choices=sorted(FULL_DATA), metavar="NAME")
    parser.add_argument("--workspace", type=Path, default=Path("textal-workspace"))
    parser.add_argument("--data", type=Path, default=Path("../shared/data"))
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    if args.full_data:
        full_data(args.full_data, args.workspace, args.data)
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
