"""The multi-label peer: small-text's CVIRS with its one-vs-rest logistic head, beside textal.

Runs the peer on a ``textal simulate --multi-label`` cache (the same embeddings) with the same
seeds, the same initial labels (:func:`textal.simulate.oracle.initial_labels`) and the same
batches of the protocol, then compares it, paired by seed, with the strategies of that
simulation's ``curves.json`` on the AULC of micro- and macro-F1. The peer is small-text's
pool-based loop as its multi-label example runs it: fit ``SklearnClassifier(LogisticRegression(C=
10), multi_label=True)`` (scikit-learn's ``OneVsRestClassifier``, a label present at
probability > 0.5) on the labeled sets, query the ``batch`` unlabeled items ranked first by
``CategoryVectorInconsistencyAndRanking`` (Reyes et al. 2018: inconsistency of the predicted
label vector with the labeled ones times the per-label margin ranks; no diversity), reveal them,
repeat. Each point is scored with textal's multi-label metrics
(:func:`textal.simulate.multilabel.score_label_sets`).

Bench-only: needs the ``bench`` extra (``pip install -e .[bench]``: small-text). Usage, after the
simulation whose cache and results it reads::

    python scripts/bench_multilabel.py --workspace WS --name semeval \\
        --data ../shared/data/semeval2014_restaurant_aspects/train.csv \\
        --test ../shared/data/semeval2014_restaurant_aspects/test.csv --seeds 10 \\
        --results DIR   # the simulation's --out (default: its cache folder)

Prints one markdown table row per textal strategy and writes ``peer.json`` into the results
folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from sklearn.linear_model import LogisticRegression
from small_text import CategoryVectorInconsistencyAndRanking, SklearnClassifier, SklearnDataset
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.data.label_sets import label_matrix, parse_label_set
from textal.simulate.dataset import Source, TestSpec, open_simulation_data
from textal.simulate.metrics import area_under_curve, paired_difference
from textal.simulate.multilabel import score_label_sets
from textal.simulate.oracle import Protocol, initial_labels

PEER = "CVIRS + one-vs-rest LR C=10 (small-text)"
METRICS = ("micro_f1", "macro_f1")


def peer_curve(
    X: np.ndarray,
    Y: np.ndarray,
    start: np.ndarray,
    protocol: Protocol,
    test: tuple[np.ndarray, np.ndarray],
    names: list[str],
) -> list[dict]:
    """``{labels, micro_f1, macro_f1, subset_accuracy}`` after each round, from rows ``start``."""
    test_X, test_Y = test
    dataset = SklearnDataset(X, csr_matrix(Y.astype(np.int64)))
    labeled = np.array(sorted(start))
    strategy = CategoryVectorInconsistencyAndRanking(pbar=None)
    points = []
    for round_ in range(protocol.rounds + 1):
        clf = SklearnClassifier(LogisticRegression(C=10, max_iter=1000), len(names), True)
        clf.fit(dataset[labeled])
        predicted = clf.model.predict_proba(test_X) > 0.5
        scores = score_label_sets(test_Y, predicted, names)
        points.append(
            {
                "labels": len(labeled),
                "micro_f1": scores.micro_f1,
                "macro_f1": scores.macro_f1,
                "subset_accuracy": scores.subset_accuracy,
            }
        )
        if round_ == protocol.rounds:
            break
        unlabeled = np.setdiff1d(np.arange(len(Y)), labeled)
        y = dataset.y[labeled]
        picked = strategy.query(clf, dataset, unlabeled, labeled, y, n=protocol.batch_size)
        labeled = np.union1d(labeled, picked)
    return points


def _aulc(points: list[dict], metric: str) -> float:
    return area_under_curve([p["labels"] for p in points], [p[metric] for p in points])


def compare(path: Path, peer: dict[int, list[dict]], n_seeds: int) -> dict:
    """Print textal's strategies of ``path`` (a curves.json) against the peer, paired by seed."""
    if not path.exists():
        print(f"no {path}: run the simulation first to compare")
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    textal: dict[str, dict[int, list]] = {}
    for p in document["points"]:
        textal.setdefault(p["strategy"], {}).setdefault(p["seed"], []).append(p)
    print("| strategy | AULC micro-F1 | Δ vs peer | AULC macro-F1 | Δ vs peer |")
    print("|---|---|---|---|---|")
    rows: dict = {}
    for strategy, by_seed in textal.items():
        seeds = sorted(set(by_seed) & set(range(n_seeds)))
        cells = [strategy]
        rows[strategy] = {"seeds": seeds}
        for metric in METRICS:
            ours = [_aulc(by_seed[s], metric) for s in seeds]
            d = paired_difference(ours, [_aulc(peer[s], metric) for s in seeds])
            rows[strategy][metric] = ours
            cells += [f"{np.mean(ours):.3f}", f"{d.mean:+.3f} ± {d.std:.3f} {d.verdict}"]
        print("| " + " | ".join(cells) + " |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("textal-workspace"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--test", type=Path, required=True)
    parser.add_argument("--label-column", default="labels")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--init", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--results", type=Path, help="folder of the simulation's curves.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")  # OneVsRest on a label with no labeled positive yet

    def source(path: Path) -> Source:
        return Source(path=path, label_column=args.label_column, multi_label=True)

    test = TestSpec(source=source(args.test))
    protocol = Protocol(init=args.init, batch_size=args.batch_size, rounds=args.rounds)
    with open_simulation_data(args.workspace, source(args.data), test, name=args.name) as data:
        assert data.label_names is not None
        names = data.label_names
        ids, chunks = [], []
        for chunk in data.store.iterate():
            ids.extend(chunk.ids)
            chunks.append(np.array(chunk.vectors))
        X = np.concatenate(chunks)
        Y = label_matrix([parse_label_set(data.oracle[i]) for i in ids], names)
        test_Y = label_matrix([parse_label_set(c) for c in data.test_labels.tolist()], names)
        row = {item_id: k for k, item_id in enumerate(ids)}
        curves = {}
        with threadpool_limits(limits=1):
            for seed in range(args.seeds):
                start = np.array([row[i] for i in initial_labels(data, protocol, seed)])
                curves[seed] = peer_curve(X, Y, start, protocol, (data.test_vectors, test_Y), names)
        results = args.results or data.directory
    summary = {m: [_aulc(curves[s], m) for s in range(args.seeds)] for m in METRICS}
    print(
        f"{args.name}: {PEER} AULC micro-F1 {np.mean(summary['micro_f1']):.3f}, macro-F1 "
        f"{np.mean(summary['macro_f1']):.3f}; final micro-F1 "
        f"{np.mean([curves[s][-1]['micro_f1'] for s in curves]):.3f}, macro-F1 "
        f"{np.mean([curves[s][-1]['macro_f1'] for s in curves]):.3f} ({args.seeds} seeds)"
    )
    rows = compare(results / "curves.json", curves, args.seeds)
    peer = {"name": PEER, "aulc": summary, "curves": curves}
    (results / "peer.json").write_text(json.dumps({"peer": peer, "textal": rows}, indent=1))


if __name__ == "__main__":
    main()
