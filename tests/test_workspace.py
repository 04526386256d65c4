"""The Python API end to end on real reviews, the real model, and both stores."""

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.realdata import AMAZON
from tests.workspaces import gold_labels
from textal.errors import TextalError
from textal.ledger import COLD_START, RoundParams
from textal.round.plan import plan_round
from textal.round.stopping import agreement
from textal.strategy.scores import STRATEGIES
from textal.workspace import Workspace


def _mean_pairwise_similarity(vectors: np.ndarray) -> float:
    sims = vectors @ vectors.T
    n = len(vectors)
    return float((sims.sum() - np.trace(sims)) / (n * (n - 1)))


def _label_batch(ws: Workspace, result) -> None:
    ws.add_labels(gold_labels(ws, [s.item_id for s in result.selections]), annotator="oracle")


def test_ingest_twice_stores_each_item_once(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        before = ws.store.count()
        report, summary = ws.ingest(AMAZON, label_column="label")
        assert report.added == 0
        assert report.already_stored == before
        assert ws.store.count() == before
        assert before == summary.rows  # every distinct non-empty review, once


def test_cold_start_then_rounds(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        first = ws.round(batch_size=20)
        assert first.round.report.cold_start
        assert len({s.item_id for s in first.selections}) == 20
        _label_batch(ws, first)

        second = ws.round(batch_size=20, strategy="margin")
        ids = [s.item_id for s in second.selections]
        assert not second.round.report.cold_start
        assert second.round.report.model
        assert len(ids) == 20 and len(set(ids)) == 20
        assert not set(ids) & set(ws.ledger.current_labels())
        # The batch file people fill holds the same items, with their text and a why.
        with open(second.csv_path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        assert [r["id"] for r in rows] == ids
        assert all(r["text"] and r["why"] and r["predicted"] for r in rows)


def test_diverse_batch_is_less_redundant_than_top_margin(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        _label_batch(ws, ws.round(batch_size=20))
        labels = ws.ledger.current_labels()
        plan = plan_round(ws.store, labels, strategy="margin", batch_size=20)
        chosen = ws.store.get_vectors([p.item_id for p in plan.picks])
        # The same number of top-margin items with no diversity at all:
        ids, vectors, margins = [], [], []
        for chunk in ws.store.iterate(4096):
            keep = [k for k, i in enumerate(chunk.ids) if i not in labels]
            ids += [chunk.ids[k] for k in keep]
            vectors.append(chunk.vectors[keep])
            margins.append(STRATEGIES["margin"](plan.model, chunk.vectors[keep], None))
        top = np.argsort(-np.concatenate(margins), kind="stable")[:20]
        top_vectors = np.concatenate(vectors)[top]
        assert _mean_pairwise_similarity(chosen) < _mean_pairwise_similarity(top_vectors)


def test_labels_survive_a_restart(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        result = ws.round(batch_size=10)
        _label_batch(ws, result)
        expected = ws.ledger.current_labels()
    with Workspace.open(workspace_dir) as ws:
        assert ws.ledger.current_labels() == expected
        assert len(expected) == 10


def test_rerunning_an_open_round_does_not_duplicate_it(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        first = ws.round(batch_size=10)
        again = ws.round(batch_size=10)
        assert again.reused and again.round.round == first.round.round
        assert [s.item_id for s in again.selections] == [s.item_id for s in first.selections]
        assert len(ws.ledger.rounds()) == 1


def test_bad_label_file_changes_nothing(workspace_dir, tmp_path):
    with Workspace.open(workspace_dir) as ws:
        result = ws.round(batch_size=5)
        ids = [s.item_id for s in result.selections]
        bad = tmp_path / "labels.csv"
        bad.write_text(
            f"id,label\n{ids[0]},positive\n{ids[1]},negative\n{ids[2]},maybe\n", encoding="utf-8"
        )
        with pytest.raises(TextalError, match=r"row 4.*unknown label 'maybe'"):
            ws.import_labels(bad)
        unknown = tmp_path / "unknown.csv"
        unknown.write_text(f"id,label\n{ids[0]},positive\nnope,negative\n", encoding="utf-8")
        with pytest.raises(TextalError, match=r"row 3.*unknown id 'nope'"):
            ws.import_labels(unknown)
        assert ws.ledger.history() == []


def test_filled_batch_file_imports(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        result = ws.round(batch_size=6)
        gold = dict(gold_labels(ws, [s.item_id for s in result.selections]))
        with open(result.csv_path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        for row in rows[:4]:  # people labeled four of six
            row["label"] = gold[row["id"]]
        with open(result.csv_path, "w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        first = ws.import_labels(result.csv_path, annotator="ana")
        assert (first.recorded, first.unchanged, first.overridden) == (4, 0, {})
        again = ws.import_labels(result.csv_path, annotator="ana")
        assert (again.recorded, again.unchanged, again.overridden) == (0, 4, {})
        assert ws.ledger.current_labels() == {r["id"]: gold[r["id"]] for r in rows[:4]}
        assert [s.item_id for s in ws.open_batch()] == [r["id"] for r in rows[4:]]


def test_another_model_is_refused(workspace_dir):
    with pytest.raises(TextalError, match="refusing --model"):
        Workspace.open(workspace_dir, model="sentence-transformers/all-mpnet-base-v2")


def test_status_counts_labels_per_class(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        result = ws.round(batch_size=10)
        _label_batch(ws, result)
        ws.round(batch_size=10)
        status = ws.status()
        assert status.items == ws.store.count()
        assert sum(status.label_counts.values()) == 10
        assert status.rounds == 2
        assert status.last_model is not None


def test_class_share_cap(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        _label_batch(ws, ws.round(batch_size=20))
        capped = ws.round(batch_size=10, strategy="entropy", max_class_share=0.5)
        predicted = [s.predicted for s in capped.selections]
        assert max(predicted.count(c) for c in set(predicted)) <= 5


def _store_density(ws: Workspace, ids: list[str]) -> np.ndarray:
    """Each item's mean similarity to its 10 nearest other stored items, by brute force."""
    all_vectors = np.concatenate([chunk.vectors for chunk in ws.store.iterate(4096)])
    sims = ws.store.get_vectors(ids) @ all_vectors.T
    return np.sort(sims, axis=1)[:, -11:-1].mean(axis=1)  # the largest is the item itself


def test_margin_density_asks_about_typical_reviews(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        _label_batch(ws, ws.round(batch_size=20))
        labels = ws.ledger.current_labels()
        plain = plan_round(ws.store, labels, strategy="margin", batch_size=20)
        dense = plan_round(ws.store, labels, strategy="margin-density", batch_size=20)
        dense_ids = [p.item_id for p in dense.picks]
        assert len(set(dense_ids)) == 20 and not set(dense_ids) & set(labels)
        density = _store_density(ws, dense_ids)
        # Each pick's score is its margin times its density in the store.
        margins = STRATEGIES["margin"](dense.model, ws.store.get_vectors(dense_ids), None)
        np.testing.assert_allclose([p.score for p in dense.picks], margins * density, rtol=1e-4)
        plain_density = _store_density(ws, [p.item_id for p in plain.picks])
        assert density.mean() > plain_density.mean() + 0.02, (density.mean(), plain_density.mean())


@pytest.fixture
def memory_workspace(amazon_template, tmp_path) -> Path:
    """A private copy of the ingested amazon workspace on the memory store."""
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    return root


BASE = {"batch_size": 10, "strategy": "margin", "max_class_share": None, "seed": 0}
CHANGED = {"batch_size": 12, "strategy": "entropy", "max_class_share": 0.5, "seed": 7}


@pytest.mark.parametrize("name", list(CHANGED))
def test_a_changed_setting_never_re_exports_a_batch_made_with_other_settings(
    memory_workspace, name
):
    with Workspace.open(memory_workspace) as ws:
        _label_batch(ws, ws.round(batch_size=20))
        first = ws.round(**BASE)
        asked = {**BASE, name: CHANGED[name]}
        second = ws.round(**asked)
        assert not second.reused and second.round.round == first.round.round + 1
        assert second.round.params == RoundParams(**asked)
        assert [s.item_id for s in second.selections] == [
            s.item_id for s in ws.ledger.selections(second.round.round)
        ]
        # The same settings again re-use the new round; the first stays, marked superseded.
        assert ws.round(**asked).reused
        assert ws.ledger.rounds()[first.round.round - 1].superseded_by == second.round.round
        assert [s.item_id for s in ws.ledger.selections(first.round.round)] == [
            s.item_id for s in first.selections
        ]
        picks = second.selections
        if name == "batch_size":
            assert len(picks) == 12
        if name == "max_class_share":  # at most ceil(0.5 * 10) = 5 per predicted class
            predicted = [s.predicted for s in picks]
            assert max(predicted.count(c) for c in set(predicted)) <= 5
        if name in ("seed", "strategy"):
            assert second.round.report.selected_by == asked["strategy"]


def test_a_cold_start_round_records_what_it_did_and_what_was_asked(memory_workspace):
    with Workspace.open(memory_workspace) as ws:
        first = ws.round(batch_size=5, strategy="entropy", seed=3)
        assert first.round.report.selected_by == COLD_START and first.round.report.cold_start
        assert first.round.params == RoundParams("entropy", 5, None, 3)
        assert all(s.score is None and s.top2 == () for s in first.selections)
        again = ws.round(batch_size=5, strategy="entropy", seed=4)
        assert not again.reused and again.round.params.seed == 4


@pytest.mark.slow
def test_rounds_on_the_same_labels_add_no_stopping_evidence(memory_workspace):
    """The faking of the issue: rounds of 21, 22, 23 with no new label must not say "stable"."""
    with Workspace.open(memory_workspace) as ws:
        result = ws.round(batch_size=20)
        for _ in range(4):  # 80 labels
            _label_batch(ws, result)
            result = ws.round(batch_size=20)
        before = ws.status()
        fakes = [ws.round(batch_size=size) for size in (21, 22, 23)]
        assert all(not f.reused and f.round.report.agreement is None for f in fakes)
        # Their models are the last one again: under the old rule this read as stable.
        last = ws.ledger.stop_predictions(result.round.round)
        assert all(agreement(last, ws.ledger.stop_predictions(f.round.round)) == 1.0 for f in fakes)
        status = ws.status()
        assert not status.stable
        assert (status.agreement, status.stable) == (before.agreement, before.stable)


def most_negative(proba: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """A scorer of one's own: ask first about what the model finds most negative."""
    assert vectors.shape == (len(proba), 384)
    return proba[:, 0]  # classes are sorted: negative, positive


def test_your_own_scorer_picks_the_batch(memory_workspace):
    with Workspace.open(memory_workspace) as ws:
        _label_batch(ws, ws.round(batch_size=20))
        result = ws.round(batch_size=10, scorer=most_negative)
        assert result.round.params.strategy == "custom:most_negative"
        assert all(s.predicted == "negative" for s in result.selections)
        for s in result.selections:  # the recorded score is the scorer's
            assert s.score == pytest.approx(
                dict((c.label, c.probability) for c in s.top2)["negative"], abs=1e-4
            )
        assert not ws.round(batch_size=10, scorer=most_negative).reused
        with pytest.raises(ValueError, match="not both"):
            ws.round(strategy="margin", scorer=most_negative)
