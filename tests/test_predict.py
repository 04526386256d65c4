"""Putting the model to work: calibration, routing, ``textal predict`` and ``export --model``.

Real embeddings of real reviews (../shared/data), the real embedding model, real workspaces on
the memory store and on Milvus Lite (slow lane).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.hardening import run_cli
from tests.workspaces import gold_labels
from textal.model.calibration import (
    Calibration,
    choose_calibration,
    expected_calibration_error,
    fit_map,
)
from textal.model.export import MODEL_JSON, WEIGHTS, load, read_model, save
from textal.model.predictor import EmbeddingSpec, LinearHead, train_model
from textal.model.routing import UNREACHABLE, routing_curve, wilson_lower
from textal.workspace import Workspace

YELP = "uci_sentiment_labelled/yelp.csv"
SPEC = EmbeddingSpec("sentence-transformers/all-MiniLM-L6-v2", "torch", 384)
LABELS = 200


def _split(X, y, seed=0):
    order = np.random.default_rng(seed).permutation(len(y))
    return order[:300], order[300:600], order[600:]


def test_linear_head_matches_scikit_learn(embedded_dataset):
    from sklearn.linear_model import LogisticRegression

    _, X, y = embedded_dataset("trec/train.csv")
    for classes in (["DESC", "HUM"], sorted(set(y))):
        rows = np.isin(y, classes)
        lr = LogisticRegression(C=10).fit(X[rows][:1500], y[rows][:1500])
        head = LinearHead(tuple(lr.classes_), lr.coef_, lr.intercept_)
        np.testing.assert_allclose(head.proba(X[:500]), lr.predict_proba(X[:500]), atol=1e-6)


def test_calibration_maps_and_ece(embedded_dataset):
    _, X, y = embedded_dataset(YELP)
    lab, ref, test = _split(X, y)
    model = train_model(X[lab], y[lab], X[ref], embedding=SPEC)
    conf = model.head.proba(X[test]).max(axis=1)
    correct = np.asarray(model.head.classes)[model.head.proba(X[test]).argmax(axis=1)] == y[test]
    # an ECE that can fail: a constant confidence of 1 has ECE = the error rate
    assert expected_calibration_error(np.ones(len(test)), correct) == pytest.approx(
        1 - correct.mean()
    )
    for method in ("sigmoid", "isotonic"):
        mapped = fit_map(method, conf, correct)(conf)
        assert np.all((mapped >= 0) & (mapped <= 1))
        # fitted on these points, each map is better calibrated on them than the raw confidence
        assert expected_calibration_error(mapped, correct) < expected_calibration_error(
            conf, correct
        )
    choice = choose_calibration(conf, correct)
    assert set(choice.brier) == {"none", "sigmoid", "isotonic"}
    assert choice.brier[choice.calibration.method] == min(choice.brier.values())
    assert Calibration()(conf) is not None and np.array_equal(Calibration()(conf), conf)
    card = model.card
    assert card.ece_before is not None and card.ece_after is not None
    assert card.label_counts == {c: int((y[lab] == c).sum()) for c in ("negative", "positive")}


def test_routing_picks_the_lowest_threshold_that_keeps_the_promise():
    conf = np.array([0.99, 0.98, 0.9, 0.8, 0.7, 0.6, 0.55, 0.5] * 25)
    correct = np.array([1, 1, 1, 1, 1, 0, 1, 0] * 25, dtype=bool)
    reference = np.linspace(0.5, 1.0, 101)
    curve = routing_curve(conf, correct, reference, np.zeros(101, dtype=bool))
    route = curve.threshold_for(0.9)
    above = conf >= route.threshold
    assert wilson_lower(correct[above].sum(), above.sum()) >= 0.9
    lower = conf >= max(c for c in set(conf) if c < route.threshold)
    assert wilson_lower(correct[lower].sum(), lower.sum()) < 0.9  # the next one breaks it
    assert route.threshold == 0.7
    assert route.coverage == pytest.approx((reference >= 0.7).mean())
    assert curve.threshold_for(0.9999).coverage == 0.0  # unreachable: everything to people


@pytest.mark.parametrize("name", [YELP, "cr_customer_reviews/all.csv"])
def test_promised_precision_holds_on_held_out_reviews(embedded_dataset, name):
    """The auto share of reviews the model never saw reaches the promise (minus 0.01), or is
    empty when the labels cannot back it (CR: about one in ten of even the most confident
    out-of-fold predictions is wrong, so 95% is never promised)."""
    _, X, y = embedded_dataset(name)
    lab, ref, test = _split(X, y, seed=1)
    model = train_model(X[lab], y[lab], X[ref], embedding=SPEC, seed=1)
    shares = []
    for target in (0.9, 0.95):
        found = model.with_min_precision(target).predict_vectors(X[test])
        auto = found.auto
        shares.append(auto.mean())
        if auto.any():
            precision = (np.asarray(found.labels)[auto] == y[test][auto]).mean()
            assert precision >= target - 0.01, (target, precision)
        if found.route.threshold >= UNREACHABLE:  # even a float32 probability of 1 stays out
            assert not auto.any() and found.route.coverage == 0
            unsure = [found.reason(k) for k in range(len(auto))]
            assert any("the labels back no confidence" in r for r in unsure)
        assert abs(auto.mean() - found.route.coverage) < 0.1  # the coverage estimate holds
    assert shares[0] >= shares[1]
    if name == YELP:
        assert shares[0] > 0.3  # and it is of use


def test_saved_model_loads_without_pickle_and_predicts_the_same(embedded_dataset, tmp_path):
    _, X, y = embedded_dataset(YELP)
    lab, ref, test = _split(X, y)
    model = train_model(X[lab], y[lab], X[ref], embedding=SPEC)
    save(model, tmp_path / "m")
    with np.load(tmp_path / "m" / WEIGHTS, allow_pickle=False) as weights:
        assert all(weights[k].dtype != object for k in weights.files)
    again = read_model(tmp_path / "m")
    a, b = model.predict_vectors(X[test]), again.predict_vectors(X[test])
    assert a.labels == b.labels and np.array_equal(a.proba, b.proba)
    assert np.array_equal(a.confidence, b.confidence) and np.array_equal(a.auto, b.auto)
    assert again.route == model.route and again.curve == model.curve
    card = (tmp_path / "m" / "README.md").read_text()
    assert "negative" in card and "textal.model.load" in card and model.card.created in card
    save(again, tmp_path / "m")  # replacing a model directory is allowed
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(Exception, match="holds no textal model"):
        save(model, tmp_path / "other")
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def _labeled_workspace(root: Path, n: int = LABELS) -> Workspace:
    ws = Workspace.open(root, create=False)
    ids = [c for chunk in ws.store.iterate() for c in chunk.ids][:n]
    ws.add_labels(gold_labels(ws, ids), annotator="ana")
    return ws


def _reviews_file(path: Path) -> list[dict[str, str]]:
    rows = [
        {"id": "r1", "text": "Great phone, the battery lasts for days."},
        {"id": "r2", "text": '=HYPERLINK("http://x") broke after a week, total junk'},
        {"id": "r3", "text": "It is a phone."},
        {"id": "r4", "text": "   "},
    ]
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["id", "text"])
        writer.writeheader()
        writer.writerows(rows)
    return rows


def test_workspace_predict_export_and_load_agree(workspace_dir, tmp_path, capsys):
    with _labeled_workspace(workspace_dir) as ws:
        predictor = ws.predictor()
        texts = [item.text for item in ws.store.get(ws.store.sample(50, 3).ids)]
        mine = predictor.predict(texts)
        assert predictor.model.card.trained_on  # tagged with the labels' fingerprint
        assert ws.predictor().model.card.created == predictor.model.card.created  # reused
        other = ws.predictor(min_precision=0.8)
        assert other.route.threshold <= predictor.route.threshold
    code, out, err = run_cli(
        capsys, "export", "--workspace", workspace_dir, "--model", tmp_path / "m"
    )
    assert code == 0, err
    assert "auto-routes an estimated" in out
    loaded = load(tmp_path / "m")
    theirs = loaded.predict(texts)  # loads its own embedding model: no workspace
    assert mine.labels == theirs.labels
    np.testing.assert_allclose(mine.proba, theirs.proba, atol=1e-6)
    assert np.array_equal(mine.auto, theirs.auto)

    code, out, _ = run_cli(capsys, "status", "--workspace", workspace_dir)
    assert code == 0 and "predict     auto-routes an estimated" in out
    assert "trained before" not in out


def test_predict_cli_routes_a_file_safely(workspace_dir, tmp_path, capsys):
    _labeled_workspace(workspace_dir).close()
    reviews = _reviews_file(tmp_path / "new.csv")
    code, out, err = run_cli(capsys, "predict", "--workspace", workspace_dir, tmp_path / "new.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]  # the blank review is skipped
    assert rows[0]["label"] == "positive" and rows[1]["label"] == "negative"
    assert rows[1]["text"].startswith("'=HYPERLINK")  # formula neutralised
    for r in rows:
        assert r["route"] in ("auto", "review")
        assert float(r["p_negative"]) + float(r["p_positive"]) == pytest.approx(1, abs=1e-3)
        assert (r["reason"] == "") == (r["route"] == "auto")
    assert "auto-routes an estimated" in err and "predicted 3 reviews" in err

    out_jsonl = tmp_path / "out.jsonl"
    code, _, err = run_cli(
        capsys, "predict", "--workspace", workspace_dir, tmp_path / "new.csv",
        "--output", out_jsonl, "--min-precision", "0.9",
    )  # fmt: skip
    assert code == 0, err
    lines = [json.loads(line) for line in out_jsonl.read_text().splitlines()]
    assert lines[1]["text"] == reviews[1]["text"]  # JSONL verbatim
    assert lines[0]["row"] == 2 and 0 <= lines[0]["confidence"] <= 1

    code, out, err = run_cli(
        capsys, "predict", "--workspace", workspace_dir, "--text", "Terrible, it broke."
    )
    assert code == 0, err
    (row,) = csv.DictReader(io.StringIO(out))
    assert row["label"] == "negative" and "id" not in row


def test_predict_reads_stdin(workspace_dir, capsys, monkeypatch):
    _labeled_workspace(workspace_dir).close()
    monkeypatch.setattr("sys.stdin", io.StringIO("love it\n\nworst purchase ever\n"))
    code, out, err = run_cli(capsys, "predict", "--workspace", workspace_dir, "-")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [(r["row"], r["label"]) for r in rows] == [("1", "positive"), ("3", "negative")]


def test_bad_input_is_one_error_line(workspace_dir, tmp_path, capsys):
    def refused(*argv: object) -> str:
        code, _, err = run_cli(capsys, "predict", "--workspace", workspace_dir, *argv)
        assert code == 2 and err.startswith("error: ") and err.count("\n") == 1, err
        return err

    _reviews_file(tmp_path / "new.csv")
    assert "no trained model" in refused(tmp_path / "new.csv")  # no labels yet
    before = sorted(p.name for p in workspace_dir.iterdir())
    _labeled_workspace(workspace_dir).close()
    assert "no such file" in refused(tmp_path / "missing.csv")
    assert "no column 'body'" in refused(tmp_path / "new.csv", "--text-column", "body")
    for bad in ("1.5", "0", "high"):
        assert "--min-precision" in refused(tmp_path / "new.csv", "--min-precision", bad)
    assert ".csv or .jsonl" in refused(tmp_path / "new.csv", "--output", tmp_path / "o.txt")
    assert "not a textal model directory" in refused("--model", tmp_path, tmp_path / "new.csv")
    assert "model" not in before  # the failed first predict trained and saved nothing
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / MODEL_JSON).write_text("{not json")
    assert "cannot be read" in refused("--model", tmp_path / "m", tmp_path / "new.csv")


def test_queue_puts_the_review_share_first_in_the_next_round(workspace_dir, tmp_path, capsys):
    with _labeled_workspace(workspace_dir) as ws:
        before = ws.round(batch_size=5)  # an open round: asked again, it would be re-exported
        count = ws.store.count()
    reviews = _reviews_file(tmp_path / "new.csv")
    code, out, err = run_cli(
        capsys, "predict", "--workspace", workspace_dir, tmp_path / "new.csv", "--queue",
        "--min-precision", "0.999",
    )  # fmt: skip
    assert code == 0, err
    routed = list(csv.DictReader(io.StringIO(out)))
    queued = [r["id"] for r in routed if r["route"] == "review"]
    assert queued == ["r1", "r2", "r3"] and "queued 3 for review" in err
    with Workspace.open(workspace_dir, create=False) as ws:
        assert ws.store.count() == count + 3
        assert [i.text for i in ws.store.get(queued)] == [r["text"] for r in reviews[:3]]
        first = ws.round(batch_size=5)
        assert not first.reused and first.round.round == before.round.round + 1
        assert [s.item_id for s in first.selections][:3] == queued
        assert len(first.selections) == 5 and first.round.params.batch_size == 5
        assert first.selections[0].predicted in ("negative", "positive")
        ws.add_labels([("r1", "positive"), ("r2", "negative")], annotator="ana")
        ws.mark("r3", "ambiguous", annotator="ana", source="test")
        after = ws.round(batch_size=5)
        assert not {"r1", "r2", "r3"} & {s.item_id for s in after.selections}


@pytest.mark.slow
def test_a_moved_exported_model_predicts_on_its_own(workspace_dir, tmp_path, capsys):
    with _labeled_workspace(workspace_dir) as ws:
        ws.predictor()
    run_cli(capsys, "export", "--workspace", workspace_dir, "--model", tmp_path / "m")
    shutil.move(tmp_path / "m", tmp_path / "elsewhere")
    shutil.rmtree(workspace_dir)  # no workspace left at all
    _reviews_file(tmp_path / "new.csv")
    code, out, err = run_cli(
        capsys, "predict", "--model", tmp_path / "elsewhere", tmp_path / "new.csv"
    )
    assert code == 0, err
    assert [r["label"] for r in csv.DictReader(io.StringIO(out))][:2] == ["positive", "negative"]
