"""The peer to beat: small-text's BreakingTies with a plain C=10 logistic head, beside textal.

Runs the peer on a ``textal simulate`` cache (the same embeddings) with the same seeds, the same
initial labels (:func:`textal.simulate.oracle.initial_labels`) and the same batches of the
protocol, then compares it, paired by seed, with the strategies of that simulation's
``curves.json``. The peer is exactly small-text's pool-based loop: fit
``LogisticRegression(C=10)`` on the labels, query the ``batch`` unlabeled items with the smallest
margin p1 - p2 (``small_text.BreakingTies``: no diversity, no density), reveal them, repeat.

Bench-only: needs the ``bench`` extra (``pip install -e .[bench]``: small-text). Usage, after
the simulation whose cache and results it reads::

    python scripts/bench_peer.py --workspace textal-workspace --name trec-fine \\
        --data ../shared/data/trec/train_fine.csv --test ../shared/data/trec/test_fine.csv \\
        --seeds 10 [--results DIR]   # DIR: the simulation's results (default: its cache folder)

Prints one markdown table row per textal strategy and writes ``peer.json`` into the results folder.
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression
from small_text import BreakingTies, SklearnClassifier, SklearnDataset
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from textal.simulate.dataset import Source, TestSpec, open_simulation_data
from textal.simulate.metrics import area_under_curve, paired_difference, score_predictions
from textal.simulate.oracle import Protocol, initial_labels

PEER = "breaking-ties C=10 (small-text)"


def peer_curve(
    X: np.ndarray, y: np.ndarray, start: np.ndarray, protocol: Protocol, test: tuple, classes: list
) -> list[tuple[int, float]]:
    """(labels, macro-F1) after each round of the peer, from the labeled rows ``start``."""
    test_X, test_y = test
    names, y_enc = np.unique(y, return_inverse=True)
    dataset = SklearnDataset(X, y_enc)
    labeled = np.array(sorted(start))
    points = []
    for round_ in range(protocol.rounds + 1):
        seen = np.unique(y_enc[labeled])
        if len(seen) < 2:  # small-text needs two classes: guess the only one seen
            predicted = np.full(len(test_y), names[seen[0]])
            clf = None
        else:
            clf = SklearnClassifier(LogisticRegression(C=10, max_iter=1000), len(names))
            clf.fit(dataset[labeled])
            predicted = names[clf.model.predict(test_X)]
        points.append((len(labeled), score_predictions(test_y, predicted, classes).macro_f1))
        if round_ == protocol.rounds:
            break
        unlabeled = np.setdiff1d(np.arange(len(y)), labeled)
        if clf is None:
            picked = np.random.default_rng(round_).choice(unlabeled, protocol.batch_size, False)
        else:
            picked = BreakingTies().query(
                clf, dataset, unlabeled, labeled, y_enc[labeled], n=protocol.batch_size
            )
        labeled = np.union1d(labeled, picked)
    return points


def compare(path: Path, peer_aulc: list, peer_final: list, n_seeds: int) -> dict:
    """Print textal's strategies of ``path`` (a curves.json) against the peer, paired by seed."""
    if not path.exists():
        print(f"no {path}: run the simulation first to compare")
        return {}
    document = json.loads(path.read_text(encoding="utf-8"))
    textal: dict[str, dict[int, list]] = {}
    for p in document["points"]:
        textal.setdefault(p["strategy"], {}).setdefault(p["seed"], []).append(p)
    print("| strategy | AULC macro-F1 | Δ vs peer | final macro-F1 | Δ final vs peer |")
    print("|---|---|---|---|---|")
    rows = {}
    for strategy, by_seed in textal.items():
        seeds = sorted(set(by_seed) & set(range(n_seeds)))
        aulc = [
            area_under_curve([p["labels"] for p in by_seed[s]], [p["macro_f1"] for p in by_seed[s]])
            for s in seeds
        ]
        final = [by_seed[s][-1]["macro_f1"] for s in seeds]
        d_aulc = paired_difference(aulc, [peer_aulc[s] for s in seeds])
        d_final = paired_difference(final, [peer_final[s] for s in seeds])
        rows[strategy] = {"seeds": seeds, "aulc": aulc, "final": final}
        print(
            f"| {strategy} | {np.mean(aulc):.3f} | {d_aulc.mean:+.3f} ± {d_aulc.std:.3f} "
            f"{d_aulc.verdict} | {np.mean(final):.3f} | {d_final.mean:+.3f} ± {d_final.std:.3f} "
            f"{d_final.verdict} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", type=Path, default=Path("textal-workspace"))
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--test", type=Path)
    parser.add_argument("--test-fraction", type=float)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--init", type=int, default=25)
    parser.add_argument("--batch-size", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--results", type=Path, help="folder of the simulation's curves.json")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    test = (
        TestSpec(source=Source(path=args.test))
        if args.test
        else TestSpec(fraction=args.test_fraction)
    )
    protocol = Protocol(init=args.init, batch_size=args.batch_size, rounds=args.rounds)
    with open_simulation_data(args.workspace, Source(path=args.data), test, name=args.name) as data:
        ids, chunks = [], []
        for chunk in data.store.iterate():
            ids.extend(chunk.ids)
            chunks.append(np.array(chunk.vectors))
        X = np.concatenate(chunks)
        y = np.array([data.oracle[i] for i in ids])
        row = {item_id: k for k, item_id in enumerate(ids)}
        test_classes = sorted(set(data.test_labels.tolist()))
        curves = {}
        with threadpool_limits(limits=1):
            for seed in range(args.seeds):
                start = [row[i] for i in initial_labels(data, protocol, seed)]
                test_set = (data.test_vectors, data.test_labels)
                curves[seed] = peer_curve(X, y, np.array(start), protocol, test_set, test_classes)
        results = args.results or data.directory
    peer_aulc = [area_under_curve(*zip(*curves[s], strict=True)) for s in range(args.seeds)]
    peer_final = [curves[s][-1][1] for s in range(args.seeds)]
    print(
        f"{args.name}: {PEER} AULC macro-F1 {np.mean(peer_aulc):.3f}, "
        f"final {np.mean(peer_final):.3f} ({args.seeds} seeds)"
    )
    rows = compare(results / "curves.json", peer_aulc, peer_final, args.seeds)
    peer = {"aulc": peer_aulc, "final": peer_final, "curves": curves}
    (results / "peer.json").write_text(json.dumps({"peer": peer, "textal": rows}, indent=1))


if __name__ == "__main__":
    main()
