"""Does ``textal suspects`` find wrong labels? Injected noise on real data, precision at k.

For each dataset and seed: draw 500 labels, give 5% or 10% of them a wrong label (uniform: any
other class; class: the class confusable with it, see ``textal.quality.noise``; the class kind
only on multi-class sets, where it differs), rank the labels three ways and count the flipped
ones among the top k = number flipped (so precision at k equals recall at k):

* ``random``: a random order;
* ``model``: plain model disagreement, ascending out-of-fold probability of the given label;
* ``suspects``: the detector of ``textal suspects`` (out-of-fold model + labeled neighbours,
  confident learning), its full ranking (flagged first).

It also reports how many labels confident learning flags and the precision and recall of that
set (what ``textal suspects`` lists). Each dataset is embedded once, through the simulation
cache (``textal.simulate.dataset``), under ``.cache/bench-suspects/``: at most 1,200 rows each.
About 5 minutes on 2 cores once embedded. Usage::

    python scripts/bench_suspects.py [--seeds 5] [--out docs/bench-suspects.md]
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.quality.noise import confusable_classes, flip_exact
from textal.quality.suspects import out_of_fold_proba, rank_label_issues
from textal.simulate.dataset import Source, TestSpec, open_simulation_data

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CACHE = Path(__file__).resolve().parents[1] / ".cache" / "bench-suspects"
DATASETS = {  # name: (file, rows kept: a seeded sample when the file has more)
    "uci-amazon": ("uci_sentiment_labelled/amazon.csv", 1000),
    "uci-yelp": ("uci_sentiment_labelled/yelp.csv", 1000),
    "uci-imdb": ("uci_sentiment_labelled/imdb.csv", 1000),
    "sst2-validation": ("sst2/validation.csv", 872),
    "cr": ("cr_customer_reviews/all.csv", 1200),
    "trec": ("trec/train.csv", 1200),
    "ag-news": ("ag_news/train_subset.csv", 1200),
}
LABELED = 500
RATES = (0.05, 0.10)


def subset_file(name: str, file: str, rows: int) -> Path:
    """The dataset's first ``rows`` of a seeded shuffle, as a CSV in the cache (written once)."""
    out = CACHE / "data" / f"{name}.csv"
    if out.exists():
        return out
    with open(DATA / file, encoding="utf-8", newline="") as f:
        records = list(csv.DictReader(f))
    keep = np.sort(np.random.default_rng(0).permutation(len(records))[:rows])
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["text", "label"])
        writer.writeheader()
        writer.writerows({"text": records[k]["text"], "label": records[k]["label"]} for k in keep)
    tmp.replace(out)
    return out


def embedded(name: str, file: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of the dataset's pool, embedded once into the simulation cache."""
    source = Source(path=subset_file(name, file, rows))
    with open_simulation_data(CACHE, source, TestSpec(fraction=0.02), name=name) as data:
        ids, chunks = [], []
        for chunk in data.store.iterate():
            ids += chunk.ids
            chunks.append(np.array(chunk.vectors))
        return np.concatenate(chunks), np.array([data.oracle[i] for i in ids])


def hits_at_k(order: np.ndarray, flipped: np.ndarray) -> float:
    k = len(flipped)
    return len(set(order[:k].tolist()) & set(flipped.tolist())) / k


def one_run(X, y, rate, kind, seed, targets) -> dict[str, float]:
    rng = np.random.default_rng([seed, int(rate * 1000), kind == "class"])
    chosen = np.sort(rng.choice(len(y), LABELED, replace=False))
    Xs, ys = X[chosen], y[chosen]
    noisy, flipped = flip_exact(ys, round(rate * LABELED), rng, kind=kind, targets=targets)
    issues = rank_label_issues(Xs, noisy, seed=seed)
    _, enc = np.unique(noisy, return_inverse=True)
    p_model = out_of_fold_proba(Xs, noisy, seed=seed)[np.arange(len(noisy)), enc]
    flagged = {i.index for i in issues if i.flagged}
    truly = set(flipped.tolist())
    return {
        "random": hits_at_k(rng.permutation(len(noisy)), flipped),
        "model": hits_at_k(np.argsort(p_model, kind="stable"), flipped),
        "suspects": hits_at_k(np.array([i.index for i in issues]), flipped),
        "flagged": len(flagged),
        "flagged_precision": len(flagged & truly) / len(flagged) if flagged else 0.0,
        "flagged_recall": len(flagged & truly) / len(truly),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--out", type=Path, help="also write the markdown table here")
    args = parser.parse_args()
    lines = [
        "| dataset | noise | flipped k | random P@k | model P@k | suspects P@k "
        "| flagged | flagged precision | flagged recall |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    print("\n".join(lines), flush=True)
    for name in args.datasets.split(","):
        file, rows = DATASETS[name]
        X, y = embedded(name, file, rows)
        multi = len(set(y.tolist())) > 2
        targets = confusable_classes(X, y)
        for kind in ("uniform", "class") if multi else ("uniform",):
            for rate in RATES:
                with threadpool_limits(limits=1):
                    runs = [one_run(X, y, rate, kind, s, targets) for s in range(args.seeds)]

                def cell(key: str, runs=runs) -> str:
                    values = np.array([r[key] for r in runs])
                    return f"{values.mean():.2f} ± {values.std(ddof=1):.2f}"

                line = (
                    f"| {name} | {rate:.0%} {kind} | {round(rate * LABELED)} | {cell('random')} "
                    f"| {cell('model')} | **{cell('suspects')}** | {cell('flagged')} "
                    f"| {cell('flagged_precision')} | {cell('flagged_recall')} |"
                )
                lines.append(line)
                print(line, flush=True)
    if args.out:
        args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
