"""Multi-label lower layers (issue 26): label-set cells, the head, the scores, the round.

The head and the round run on real embeddings of the SemEval-2014 restaurant aspect sentences
(``semeval2014_restaurant_aspects/test.csv``, 800 rows, 5 labels).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.realdata import DATA_DIR, require_data
from textal.data.label_sets import (
    canonical_label_cell,
    join_label_set,
    label_matrix,
    label_sets_of,
    parse_label_set,
)
from textal.data.readers import read_records
from textal.errors import TextalError
from textal.model.multilabel import (
    DEFAULT_THRESHOLD,
    MultiLabelHead,
    best_thresholds,
    fit_on_label_sets,
    iterative_folds,
)
from textal.round.multilabel import plan_multilabel_round
from textal.store.memory import MemoryStore
from textal.strategy.multilabel import (
    STRATEGIES,
    STRATEGY,
    binary_minimum,
    binary_uncertainty,
    committee_votes,
    exploration_share,
    mean_margin,
)

SEMEVAL = "semeval2014_restaurant_aspects/test.csv"
NAMES = ["ambience", "anecdotes/miscellaneous", "food", "price", "service"]


@pytest.fixture(scope="module")
def semeval(embedded_dataset):
    """(ids, X (800, 384), Y (800, 5) bool) of the SemEval test sentences."""
    texts, X, cells = embedded_dataset(SEMEVAL)
    Y = label_matrix([parse_label_set(c) for c in cells], NAMES)
    return [f"r{k}" for k in range(len(texts))], X, Y


# -- label sets -------------------------------------------------------------------------------


def test_label_set_cells_round_trip_and_are_canonical():
    assert parse_label_set(" service ;food;;") == frozenset({"food", "service"})
    assert join_label_set({"service", "food"}) == "food;service"
    assert join_label_set(set()) == "" and parse_label_set("") == frozenset()
    assert canonical_label_cell("service; food") == "food;service"
    Y = label_matrix([frozenset({"b"}), frozenset(), frozenset({"a", "b"})], ["a", "b"])
    assert Y.tolist() == [[False, True], [False, False], [True, True]]
    assert label_sets_of(Y, ["a", "b"]) == [{"b"}, set(), {"a", "b"}]
    with pytest.raises(TextalError, match="'c' is not one of a, b"):
        label_matrix([frozenset({"c"})], ["a", "b"])


def test_reader_gives_canonical_gold_label_sets(tmp_path):
    path = tmp_path / "sets.csv"
    path.write_text('text,labels\nfirst,service;food\nsecond,"food "\nthird,\n', encoding="utf-8")
    records = list(read_records(path, label_column="labels", multi_label=True))
    assert [r.gold for r in records] == ["food;service", "food", None]
    plain = list(read_records(path, label_column="labels"))
    assert plain[0].gold == "service;food"  # single-label reading is unchanged


# -- head -------------------------------------------------------------------------------------


def test_iterative_folds_spread_every_label_over_the_folds():
    rng = np.random.default_rng(0)
    Y = rng.random((200, 4)) < [0.5, 0.2, 0.05, 0.02]
    fold = iterative_folds(Y, 5, rng)
    assert sorted(set(fold.tolist())) == [0, 1, 2, 3, 4]
    assert np.bincount(fold).max() - np.bincount(fold).min() <= 2
    per_fold = np.array([Y[fold == f].sum(axis=0) for f in range(5)])
    # each label's positives are dealt evenly: at most one apart between folds
    assert (per_fold.max(axis=0) - per_fold.min(axis=0)).max() <= 1


def test_best_thresholds_maximise_each_labels_f1():
    proba = np.array([[0.9, 0.2], [0.8, 0.1], [0.3, 0.6], [0.2, 0.4]])
    Y = np.array([[1, 0], [1, 0], [0, 0], [1, 0]], dtype=bool)
    thresholds, f1 = best_thresholds(proba, Y)
    assert thresholds[0] == pytest.approx(0.2)  # all four positive: F1 6/7 beats 4/5
    assert f1[0] == pytest.approx(6 / 7)
    assert thresholds[1] == DEFAULT_THRESHOLD and np.isnan(f1[1])  # no positive: no evidence
    thresholds, _ = best_thresholds(np.array([[0.9], [0.7], [0.1]]), np.array([[1], [1], [0]]))
    assert thresholds[0] == pytest.approx(0.4)  # the midpoint between 0.7 and 0.1


def test_head_fit_contract_shapes_and_thresholds(semeval):
    _, X, Y = semeval
    head = MultiLabelHead(label_names=NAMES, random_state=0)
    assert head.fit(X[:300], Y[:300]) is head
    assert list(head.classes_) == NAMES and head.C_ in (1.0, 10.0, 100.0)
    assert head.predict_proba(X[300:]).shape == (500, 5)
    predicted = head.predict(X[300:])
    assert predicted.dtype == bool
    assert (predicted == (head.predict_proba(X[300:]) >= head.thresholds_)).all()
    assert head.thresholds_.shape == (5,)
    assert ((head.thresholds_ > 0) & (head.thresholds_ < 1)).all()
    assert head.committee_proba(X[:7]).shape == (3, 7, 5)
    assert head.n_cv_folds_ >= 2 and len(head.leaderboard_) == 3
    assert 0.5 < head.cv_score_ <= 1 and 0.5 < head.cv_micro_f1_ <= 1
    assert head.oof_proba_.shape == (300, 5) and not np.isnan(head.oof_proba_).any()
    # the out-of-fold thresholds are better on held-out data than 0.5 everywhere
    proba = head.predict_proba(X[300:])
    from sklearn.metrics import f1_score

    tuned = f1_score(Y[300:], proba >= head.thresholds_, average="macro")
    assert tuned > 0.6
    # deterministic given the seed
    again = MultiLabelHead(label_names=NAMES, random_state=0).fit(X[:300], Y[:300])
    assert np.array_equal(again.predict_proba(X[:20]), head.predict_proba(X[:20]))


def test_fit_on_label_sets_cold_start_and_constant_labels(semeval):
    _, X, _ = semeval
    assert fit_on_label_sets(X[:5], np.zeros((5, 5), dtype=bool)) is None
    assert fit_on_label_sets(X[:0], np.zeros((0, 5), dtype=bool)) is None
    few = np.zeros((3, 2), dtype=bool)
    few[0, 0] = True  # label 0 varies, label 1 never seen
    head = fit_on_label_sets(X[:3], few, seed=1)
    assert head is not None and np.isnan(head.cv_score_)
    proba = head.predict_proba(X[:10])
    assert (proba[:, 1] == 0).all() and ((proba[:, 0] > 0) & (proba[:, 0] < 1)).all()
    with pytest.raises(ValueError, match="shape"):
        MultiLabelHead().fit(X[:4], few)


# -- scores -----------------------------------------------------------------------------------


def test_scores_on_known_values():
    proba = np.array([[0.5, 0.0], [0.9, 0.1], [0.75, 0.5], [1.0, 1.0]])
    expected = [[1.0, 0.0], [0.2, 0.2], [0.5, 1.0], [0.0, 0.0]]
    np.testing.assert_allclose(binary_uncertainty(proba), expected)
    assert mean_margin(proba).tolist() == pytest.approx([0.5, 0.2, 0.75, 0.0])
    assert binary_minimum(proba).tolist() == pytest.approx([1.0, 0.2, 1.0, 0.0])
    # a threshold of 0.2: 0.1 is half-way to certain absence, 0.6 half-way to certain presence
    t = np.array([0.2, 0.2])
    np.testing.assert_allclose(binary_uncertainty(np.array([[0.1, 0.6]]), t), [[0.5, 0.5]])
    with pytest.raises(ValueError):
        mean_margin(proba, np.array([0.5]))


def test_committee_votes_order_split_votes_first():
    members = np.array(
        [
            [[0.9, 0.1], [0.6, 0.1], [0.9, 0.1]],
            [[0.9, 0.1], [0.4, 0.1], [0.8, 0.1]],
            [[0.9, 0.1], [0.4, 0.1], [0.7, 0.1]],
        ]
    )  # (3 members, 3 items, 2 labels)
    scores = committee_votes(members)
    split = -(1 / 3 * np.log2(1 / 3) + 2 / 3 * np.log2(2 / 3)) / 2
    assert scores[1] == pytest.approx(split, abs=1e-5)
    assert scores[0] < 1e-5 and scores[2] < 1e-5
    assert scores[2] > scores[0]  # both unanimous: the less certain consensus first


def test_registry_and_adaptive_share(semeval):
    _, X, Y = semeval
    assert STRATEGY.default in STRATEGIES and "random" in STRATEGIES
    good = fit_on_label_sets(X[:400], Y[:400], seed=0)
    assert good is not None and exploration_share(good) == 0.0
    shuffled = fit_on_label_sets(X[:400], np.random.default_rng(0).permutation(Y[:400]), seed=0)
    assert shuffled is not None and exploration_share(shuffled) > 0.5


# -- round ------------------------------------------------------------------------------------


def _store(ids, X) -> MemoryStore:
    store = MemoryStore(X.shape[1])
    store.add(ids, X, [f"text {i}" for i in ids], [{}] * len(ids))
    return store


@pytest.mark.parametrize("strategy", ["adaptive", "committee", "random"])
def test_plan_multilabel_round_on_real_embeddings(semeval, strategy):
    ids, X, Y = semeval
    store = _store(ids, X)
    labeled = {ids[k]: frozenset(label_sets_of(Y[k : k + 1], NAMES)[0]) for k in range(60)}
    plan = plan_multilabel_round(store, labeled, NAMES, strategy=strategy, batch_size=10, seed=3)
    assert plan.report.selected_by == strategy and plan.model is not None
    assert plan.report.label_counts == {n: int(Y[:60, j].sum()) for j, n in enumerate(NAMES)}
    assert len(plan.picks) == 10 and not {p.item_id for p in plan.picks} & set(labeled)
    for pick in plan.picks:
        assert [c.label for c in pick.top2] == NAMES
        row = X[ids.index(pick.item_id)][None]
        expected = label_sets_of(plan.model.predict(row), NAMES)[0]
        assert pick.predicted == join_label_set(expected)
    assert plan.report.cv_score is not None and len(plan.report.leaderboard) == 3
    assert plan.stop_predictions and all(
        v == canonical_label_cell(v) for v in plan.stop_predictions.values()
    )
    again = plan_multilabel_round(store, labeled, NAMES, strategy=strategy, batch_size=10, seed=3)
    assert [p.item_id for p in again.picks] == [p.item_id for p in plan.picks]


def test_plan_multilabel_round_uncertainty_beats_random_on_margin(semeval):
    ids, X, Y = semeval
    store = _store(ids, X)
    labeled = {ids[k]: label_sets_of(Y[k : k + 1], NAMES)[0] for k in range(80)}
    margins = {}
    for strategy in ("mean-margin", "random"):
        plan = plan_multilabel_round(store, labeled, NAMES, strategy=strategy, batch_size=20)
        assert plan.model is not None
        picked = X[[ids.index(p.item_id) for p in plan.picks]]
        margins[strategy] = mean_margin(plan.model.predict_proba(picked), plan.model.thresholds_)
    assert margins["mean-margin"].mean() > margins["random"].mean() + 0.1


def test_plan_multilabel_round_cold_start_and_unknown_label(semeval):
    ids, X, _ = semeval
    store = _store(ids[:200], X[:200])
    plan = plan_multilabel_round(store, {ids[0]: frozenset({"food"})}, NAMES, batch_size=5)
    assert plan.report.selected_by == "cold-start" and len(plan.picks) == 5
    assert plan.report.label_counts["food"] == 1 and plan.model is None
    with pytest.raises(TextalError, match="drinks"):
        plan_multilabel_round(store, {ids[0]: frozenset({"drinks"})}, NAMES)


def test_semeval_reads_as_label_sets():
    path = DATA_DIR / SEMEVAL
    require_data(path)
    golds = [r.gold for r in read_records(path, label_column="labels", multi_label=True)]
    assert len(golds) == 800 and all(g and g == canonical_label_cell(g) for g in golds)
    assert {n for g in golds for n in parse_label_set(g)} == set(NAMES)


# -- suspects ---------------------------------------------------------------------------------


def test_suspect_label_sets_find_corrupted_sets(semeval):
    from textal.quality.multilabel import rank_label_set_issues

    _, X, Y = semeval
    X, Y = X[:400], Y[:400].copy()
    rng = np.random.default_rng(0)
    corrupted = rng.choice(len(Y), 20, replace=False)
    for i in corrupted:  # the gold set replaced by one other label
        wrong = [j for j in range(Y.shape[1]) if not Y[i, j]]
        Y[i] = False
        Y[i, rng.choice(wrong)] = True
    issues = rank_label_set_issues(X, Y, NAMES, seed=0)
    assert sorted(i.index for i in issues) == list(range(400))
    top = {i.index for i in issues[:40]}
    assert len(top & set(corrupted.tolist())) >= 10  # 20 of 400: 2 expected by chance
    flagged = [i for i in issues if i.flagged]
    assert flagged and len({i.index for i in flagged} & set(corrupted.tolist())) >= 5
    first = issues[0]
    assert len(first.proba) == 5 and first.given == label_sets_of(Y[first.index][None], NAMES)[0]
    assert 0 <= first.confidence <= 1
    assert rank_label_set_issues(X[:3], Y[:3], NAMES) == []


# -- simulation -------------------------------------------------------------------------------


def _simulation(ids, X, Y, where):
    from textal.simulate.dataset import SimulationData

    cells = [join_label_set(s) for s in label_sets_of(Y, NAMES)]
    store = _store(ids[:600], X[:600])
    oracle = dict(zip(ids[:600], cells[:600], strict=True))
    test = np.array(cells[600:], dtype=str)
    return SimulationData(where, "test", store, oracle, X[600:], test, NAMES, label_names=NAMES)


@pytest.mark.slow
def test_multilabel_simulation_curves(semeval, tmp_path):
    from textal.simulate.multilabel import run_all_multilabel, simulate_multilabel_run
    from textal.simulate.oracle import Protocol
    from textal.simulate.report import write_results

    ids, X, Y = semeval
    data = _simulation(ids, X, Y, tmp_path)
    protocol = Protocol(init=20, batch_size=20, rounds=3)
    run = simulate_multilabel_run(data, "adaptive", 0, protocol)
    assert [p.labels for p in run] == [20, 40, 60, 80]
    assert all(sum(p.labeled.values()) >= p.labels for p in run)  # every sentence has a label
    last = run[-1]
    assert last.micro_f1 is not None and last.micro_f1 > 0.6 and last.macro_f1 > 0.5
    assert 0 < last.accuracy < last.micro_f1 and set(last.recall) == set(NAMES)
    runs, reference = run_all_multilabel(data, ["adaptive", "random"], [0], protocol, workers=1)
    assert [p.micro_f1 for p in runs[0]] == [p.micro_f1 for p in run]  # deterministic
    assert reference.labels == 600 and reference.micro_f1 is not None
    assert reference.micro_f1 > last.micro_f1 - 0.05
    settings = {"protocol": {"init": 20, "rounds": 3, "batch_size": 20}}
    table = write_results(tmp_path / "out", "t", settings, runs, reference, NAMES, True)
    assert "AULC micro-F1" in table and "| random |" in table
    header = (tmp_path / "out" / "curves.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("strategy,seed,round,labels,accuracy,macro_f1,model,micro_f1,")


@pytest.mark.slow
def test_simulate_command_multi_label(tmp_path, capsys):
    from textal.cli import main

    source = DATA_DIR / SEMEVAL
    require_data(source)
    rows = source.read_text(encoding="utf-8").splitlines(keepends=True)
    pool, test = tmp_path / "pool.csv", tmp_path / "test.csv"
    pool.write_text("".join(rows[:301]), encoding="utf-8")
    test.write_text(rows[0] + "".join(rows[301:401]), encoding="utf-8")
    args = ["--workspace", str(tmp_path / "ws"), "simulate", "--data", str(pool)]
    args += ["--test", str(test), "--label-column", "labels", "--multi-label", "--seeds", "1"]
    args += ["--init", "20", "--batch-size", "20", "--rounds", "2", "--workers", "1"]
    args += ["--strategies", "default,random", "--out", str(tmp_path / "out")]
    main(args)
    out = capsys.readouterr().out
    assert "AULC macro-F1" in out and "subset accuracy" in out
    document = (tmp_path / "out" / "curves.json").read_text(encoding="utf-8")
    assert '"multi_label": true' in document
