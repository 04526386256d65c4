"""Measure `textal predict`: throughput against bare encoding, and whether the promise holds.

    nice -n 19 python scripts/bench_predict.py throughput [--texts 10000]
    nice -n 19 python scripts/bench_predict.py promise [--sets uci-amazon,cr,...] [--seeds 3]
    nice -n 19 python scripts/bench_predict.py api [--requests 100]

``throughput``: the first N texts of SST-2's train file, written as a CSV; then, side by side
and alternating (best of ``--repeats``), (a) bare encoding of the texts in predict's chunks with
the same Encoder, and (b) the whole of `textal predict` on the file: check the file, read it,
embed, predict, route, write the CSV. Also the peak RSS of reading and checking a file of
1,000,000 rows (what predict does before embedding; embedding keeps one chunk).

``api``: a memory workspace of UCI Amazon with 300 gold labels, served by `textal serve`; the
latency of ``POST /api/v1/predict`` with a service token, for 1 text and for 1,000 (SST-2 train
texts), after a first call that trains the model; p50 and p95 over ``--requests`` calls each
(a tenth of them for 1,000 texts).

``promise``: per dataset (the splits of scripts/run_reference.sh) and seed, an active-learning
run to 500 labels (25 random, then 19 batches of 25 chosen by the default strategy with gold
labels as the oracle, as `textal simulate` does), then the predict model trained on those labels
(reference reviews: a sample of the unlabeled pool, as in a workspace). On the test split: the
precision the auto share reaches at --min-precision 0.9 and 0.95 and its coverage (with the
estimates), and the expected calibration error of the head's confidence before and after
calibration. With ``--first-run``, also what the auto share reaches when the threshold is the
end of the first run of thresholds (from the top) whose bound keeps the promise, instead of the
lowest threshold anywhere whose bound does (fixed-sequence testing, as in Learn-then-Test).
"""

from __future__ import annotations

import argparse
import csv
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from textal.embed import Encoder
from textal.model.calibration import expected_calibration_error
from textal.model.predictor import EmbeddingSpec, Predictor, TrainedModel, train_model
from textal.model.routing import UNREACHABLE, Route
from textal.round.candidates import sample_unlabeled
from textal.round.plan import plan_round
from textal.simulate.dataset import Source, TestSpec, open_simulation_data
from textal.workspace.predict_files import (
    CHUNK,
    file_reviews,
    header,
    predict_reviews,
    write_predictions,
)

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SETS = {
    "uci-amazon": (DATA / "uci_sentiment_labelled/amazon.csv", None),
    "uci-yelp": (DATA / "uci_sentiment_labelled/yelp.csv", None),
    "uci-imdb": (DATA / "uci_sentiment_labelled/imdb.csv", None),
    "cr": (DATA / "cr_customer_reviews/all.csv", None),
    "trec": (DATA / "trec/train.csv", DATA / "trec/test.csv"),
    "ag_news": (DATA / "ag_news/train_subset.csv", DATA / "ag_news/test.csv"),
    "sst2": (DATA / "sst2/train.csv", DATA / "sst2/validation.csv"),
}
TARGETS = (0.9, 0.95)
INIT, BATCH, ROUNDS = 25, 25, 19  # 25 + 19 x 25 = 500 labels


def _rows(path: Path, n: int) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return [row for _, row in zip(range(n), csv.DictReader(f), strict=False)]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(args: argparse.Namespace) -> None:
    rows = _rows(DATA / "sst2/train.csv", args.texts + 2000)
    pool = [r["text"] for r in rows[: args.texts]]
    labeled = rows[args.texts : args.texts + 500]
    encoder = Encoder(backend=args.backend)
    model = train_model(
        encoder.encode([r["text"] for r in labeled]),
        [r["label"] for r in labeled],
        encoder.encode([r["text"] for r in rows[args.texts + 500 :]]),
        embedding=EmbeddingSpec(encoder.model_id, encoder.backend, encoder.dim),
    )
    predictor = Predictor(model, encoder)
    work = Path(tempfile.mkdtemp(prefix="bench-predict-"))
    source = work / "reviews.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text"])
        writer.writerows([t] for t in pool)
    bare, full = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        for s in range(0, len(pool), CHUNK):
            encoder.encode(pool[s : s + CHUNK])
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        found = file_reviews(source)
        rows = predict_reviews(predictor, found.reviews())
        write_predictions(rows, header(predictor, ids=False), work / "out.csv", total=found.count)
        full.append(time.perf_counter() - started)
    b, p = min(bare), min(full)
    print(f"backend {encoder.backend} on {encoder.device}, {len(pool)} SST-2 texts")
    print(f"bare encoding   {len(pool) / b:8.1f} texts/s  ({b:.1f} s; runs {bare})")
    print(f"textal predict  {len(pool) / p:8.1f} texts/s  ({p:.1f} s; runs {full})")
    print(f"predict / bare  {p / b:.3f} of the time ({100 * (p / b - 1):+.1f}%)")
    print(f"peak RSS so far {_peak_rss_mb():.0f} MB")
    big = work / "million.csv"
    with big.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        for k in range(1_000_000):
            writer.writerow([f"r{k}", pool[k % len(pool)]])
    before = _peak_rss_mb()
    started = time.perf_counter()
    found = file_reviews(big)
    read = sum(1 for _ in found.reviews())
    print(
        f"1,000,000-row file: checked and read {found.count} + {read} rows in "
        f"{time.perf_counter() - started:.0f} s; peak RSS {before:.0f} MB before, "
        f"{_peak_rss_mb():.0f} MB after"
    )


def _run_to_500(data, seed: int) -> dict[str, str]:
    ids = sorted(data.oracle)
    first = np.random.default_rng(seed).choice(len(ids), INIT, replace=False)
    labels = {ids[k]: data.oracle[ids[k]] for k in sorted(first)}
    for r in range(ROUNDS):
        plan = plan_round(data.store, labels, batch_size=BATCH, seed=seed * 1000 + r + 1)
        labels.update((p.item_id, data.oracle[p.item_id]) for p in plan.picks)
    return labels


def _first_run(model: TrainedModel, target: float) -> TrainedModel:
    """``model`` routed at the lowest threshold of the first run, from the top, of thresholds
    whose bound reaches ``target``."""
    curve = model.curve
    passing = [k for k, b in enumerate(curve.bound) if b >= target]
    if not passing:
        return replace(model, route=Route(target, UNREACHABLE, 0.0, float("nan")))
    k = passing[0]
    while k + 1 < len(curve.bound) and curve.bound[k + 1] >= target:
        k += 1
    route = Route(target, curve.thresholds[k], curve.coverage[k], curve.precision[k])
    return replace(model, route=route)


def promise(args: argparse.Namespace) -> None:
    work = Path(args.workspace)
    print("| set | seed | labels | calibration | ECE before | ECE after | "
          + " | ".join(f"@{t}: reached / est. prec. / coverage / est. cov." for t in TARGETS)
          + "".join(f" | @{t} first run: reached / coverage" for t in TARGETS if args.first_run)
          + " |")  # fmt: skip
    print("|---|---|---|---|---|---|" + "---|" * len(TARGETS) * (2 if args.first_run else 1))
    for name in args.sets.split(","):
        pool_path, test_path = SETS[name]
        test = TestSpec(source=Source(test_path)) if test_path else TestSpec(fraction=0.2)
        with open_simulation_data(work, Source(pool_path), test, name=name) as data:
            for seed in range(args.seeds):
                labels = _run_to_500(data, seed)
                ids = list(labels)
                reference = sample_unlabeled(data.store, set(ids), 20_000, seed)
                model = train_model(
                    data.store.get_vectors(ids),
                    [labels[i] for i in ids],
                    reference.vectors,
                    embedding=EmbeddingSpec(data.model_id, "torch", data.store.dim),
                    seed=seed,
                    labeled_share=len(ids) / data.store.count(),
                )
                truth = data.test_labels
                proba = model.head.proba(data.test_vectors)
                right = np.asarray(model.classes)[proba.argmax(axis=1)] == truth
                raw = proba.max(axis=1)
                cells = [
                    name, str(seed), str(len(ids)), model.calibration.method,
                    f"{expected_calibration_error(raw, right):.3f}",
                    f"{expected_calibration_error(model.calibration(raw), right):.3f}",
                ]  # fmt: skip
                for target in TARGETS:
                    found = model.with_min_precision(target).predict_vectors(data.test_vectors)
                    auto = found.auto
                    reached = right[auto].mean() if auto.any() else float("nan")
                    cells.append(
                        f"{reached:.3f} / {found.route.precision:.3f} / {auto.mean():.2f} / "
                        f"{found.route.coverage:.2f}"
                    )
                for target in TARGETS if args.first_run else ():
                    auto = _first_run(model, target).predict_vectors(data.test_vectors).auto
                    reached = right[auto].mean() if auto.any() else float("nan")
                    cells.append(f"{reached:.3f} / {auto.mean():.2f}")
                print("| " + " | ".join(cells) + " |", flush=True)


def api(args: argparse.Namespace) -> None:
    import os
    import subprocess

    import httpx

    from textal.data.ids import content_id
    from textal.ledger.annotators import add_annotator
    from textal.workspace import Workspace

    amazon = DATA / "uci_sentiment_labelled/amazon.csv"
    gold = [(content_id(r["text"]), r["label"]) for r in _rows(amazon, 300)]
    texts = [r["text"] for r in _rows(DATA / "sst2/train.csv", 1000)]
    with tempfile.TemporaryDirectory(prefix="bench-predict-api-") as tmp:
        root = Path(tmp) / "ws"
        with Workspace.open(root, store_uri="memory", labels=["negative", "positive"]) as ws:
            ws.ingest(amazon, label_column="label")
            ws.add_labels(gold, annotator="gold")
            token = add_annotator(ws.ledger, "feed", role="service")
        repo = Path(__file__).resolve().parents[1]
        proc = subprocess.Popen(
            [sys.executable, "-m", "textal", "serve", "--workspace", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(repo)},
        )
        try:
            assert proc.stdout is not None
            url = proc.stdout.readline().split()[2]
            client = httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
            )
            started = time.perf_counter()
            client.post("/api/v1/predict", json={"texts": texts[:1]}).raise_for_status()
            print(f"first call (trains the model): {time.perf_counter() - started:.1f} s")
            for size, calls in ((1, args.requests), (1000, max(1, args.requests // 10))):
                seconds = []
                for k in range(calls):
                    batch = texts[:size] if size > 1 else texts[k % len(texts) : k % len(texts) + 1]
                    started = time.perf_counter()
                    client.post("/api/v1/predict", json={"texts": batch}).raise_for_status()
                    seconds.append(time.perf_counter() - started)
                ms = np.sort(np.asarray(seconds) * 1000)
                p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
                print(
                    f"{size:5d} text(s) x {calls} calls: p50 {np.median(ms):.1f} ms, "
                    f"p95 {p95:.1f} ms, {size * len(ms) / ms.sum() * 1000:.1f} texts/s"
                )
        finally:
            proc.terminate()
            proc.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="what", required=True)
    t = commands.add_parser("throughput")
    t.add_argument("--texts", type=int, default=10_000)
    t.add_argument("--repeats", type=int, default=2)
    t.add_argument("--backend", default="torch")
    p = commands.add_parser("promise")
    p.add_argument("--sets", default=",".join(SETS))
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workspace", default="textal-workspace", help="simulation caches go here")
    p.add_argument("--first-run", action="store_true", help="also the fixed-sequence threshold")
    a = commands.add_parser("api")
    a.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()
    {"throughput": throughput, "promise": promise, "api": api}[args.what](args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
