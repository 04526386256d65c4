"""Does the routing keep its precision promise? Per random split of a labeled file: the head's
pick, the threshold chosen for each promise, the estimated and the reached coverage, and the
precision reached on the held-out reviews (the check of ``tests/test_predict.py``, over many
splits instead of one).

Each split draws ``--labels`` reviews to train on (``train_model``, as ``textal predict``'s model
is made), the next ``--labels`` as the unlabeled reference reviews, and scores the rest. Run it
on two versions of the head to compare them. Usage::

    python scripts/bench_routing.py --data ../shared/data/cr_customer_reviews/all.csv --splits 8
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.embed import Encoder
from textal.model.predictor import EmbeddingSpec, train_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="CSV with text,label columns")
    parser.add_argument("--splits", type=int, default=8)
    parser.add_argument("--labels", type=int, default=300)
    parser.add_argument("--promises", type=float, nargs="+", default=[0.9, 0.95])
    args = parser.parse_args()
    with args.data.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    y = np.array([r["label"] for r in rows])
    encoder = Encoder()
    X = encoder.encode([r["text"] for r in rows])
    spec = EmbeddingSpec(encoder.model_id, encoder.backend, encoder.dim)
    print(
        "| split | head | "
        + " | ".join(f"{p:g}: coverage est. / reached, precision" for p in args.promises)
        + " |"
    )
    print("|---|---|" + "---|" * len(args.promises))
    for seed in range(args.splits):
        order = np.random.default_rng(seed).permutation(len(y))
        n = args.labels
        lab, ref, test = order[:n], order[n : 2 * n], order[2 * n :]
        model = train_model(X[lab], y[lab], X[ref], embedding=spec, seed=seed)
        cells = []
        for promise in args.promises:
            found = model.with_min_precision(promise).predict_vectors(X[test])
            auto = found.auto
            if not auto.any():
                cells.append("nothing routed")
                continue
            precision = (np.asarray(found.labels)[auto] == y[test][auto]).mean()
            miss = " **miss**" if precision < promise - 0.01 else ""
            cells.append(f"{found.route.coverage:.2f} / {auto.mean():.2f}, {precision:.3f}{miss}")
        print(f"| {seed} | {model.card.head} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
