"""Name probes (textal.strategy.probes): a declared class with no label is asked for by the review
nearest its name, on real TREC questions, SemEval restaurant reviews and a real Amazon
workspace."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest

from tests.workspaces import gold_labels
from textal.cli import main
from textal.embed import Encoder
from textal.ledger import Answer, Selection
from textal.round.multilabel import plan_multilabel_round
from textal.round.plan import plan_round
from textal.store.memory import MemoryStore
from textal.strategy.probes import PROBE_DEPTH, choose_probes, probe_slots, probe_text
from textal.web.why import PROBE, reason
from textal.workspace import Workspace
from textal.workspace.guidelines import Guidelines, save_guidelines

# TREC's rare fine classes whose names find their questions (4 to 9 of 5,452 each)
RARE = ["ENTY:religion", "NUM:code", "NUM:speed", "NUM:temp"]


def test_probe_text_reads_label_names_as_words():
    assert probe_text("freeze_account") == "freeze account"
    assert probe_text("ENTY:religion") == "ENTY religion"
    assert probe_text("Sci/Tech", "Science and technology news") == (
        "Sci Tech: Science and technology news"
    )
    assert probe_text("::") == "::"  # nothing but separators: the name as it is


def test_choose_probes_takes_the_nearest_free_item_most_name_like_first():
    hits = [
        [("a", 0.9), ("b", 0.8), ("c", 0.7)],  # x: a is labeled; b, but y is nearer it: c
        [("b", 0.85), ("e", 0.5)],  # y: b (its offer, 0.85, is the best of all)
        [("d", 0.3)],
        [("a", 0.95)],  # w: its only hit is labeled: nothing to ask for it
    ]
    chosen = choose_probes(["x", "y", "z", "w"], hits, {"a"}, slots=3)
    assert chosen == [("b", "y"), ("c", "x"), ("d", "z")]
    assert choose_probes(["x", "y", "z", "w"], hits, {"a"}, slots=1) == [("b", "y")]
    assert probe_slots(20) == 4 and probe_slots(1) == 1


@pytest.fixture(scope="module")
def trec(embedded_dataset, dataset_labels):
    texts, X, _ = embedded_dataset("trec/train.csv")
    fine = dataset_labels("trec/train_fine.csv")
    store = MemoryStore(X.shape[1])
    ids = [f"q{k}" for k in range(len(X))]
    store.add(ids, X, texts, [{} for _ in ids])
    classes = sorted(set(fine.tolist()))
    names = Encoder().encode([probe_text(c) for c in classes])
    return store, ids, fine, dict(zip(classes, names, strict=True))


@pytest.mark.slow  # TREC's 5,452 questions or SemEval's 800 reviews
def test_a_class_with_no_label_is_asked_for_by_its_name(trec):
    store, ids, fine, probes = trec
    rng = np.random.default_rng(0)
    allowed = [k for k in range(len(ids)) if fine[k] not in RARE]
    labels = {ids[k]: str(fine[k]) for k in rng.choice(allowed, 600, replace=False)}
    missing = set(probes) - set(labels.values())
    assert set(RARE) <= missing

    plan = plan_round(store, labels, batch_size=25, seed=1, probes=probes)
    asked = [p for p in plan.picks if p.probe is not None]
    assert 0 < len(asked) <= probe_slots(25)
    assert {p.probe for p in asked} <= missing
    gold = {ids[k]: str(fine[k]) for k in range(len(ids))}
    found = {gold[p.item_id] for p in plan.picks} & missing
    # the same labels and seed without probes: the ranked picks alone reach fewer of them
    plain = plan_round(store, labels, batch_size=25, seed=1)
    assert all(p.probe is None for p in plain.picks)
    assert len(found) >= 2 and len(found) > len({gold[p.item_id] for p in plain.picks} & missing)
    # a strategy that does not compose probes ignores them
    dense = plan_round(store, labels, strategy="margin-density", batch_size=25, probes=probes)
    assert all(p.probe is None for p in dense.picks)


@pytest.mark.slow  # TREC's 5,452 questions or SemEval's 800 reviews
def test_once_every_class_has_a_label_probes_change_nothing(trec):
    store, ids, fine, probes = trec
    labels = {ids[k]: str(fine[k]) for k in range(0, len(ids), 3)}
    first = {str(fine[k]): ids[k] for k in range(len(ids))}  # one of every class
    labels.update({i: c for c, i in first.items()})
    assert set(labels.values()) == set(probes)
    with_probes = plan_round(store, labels, batch_size=20, seed=2, probes=probes)
    without = plan_round(store, labels, batch_size=20, seed=2)
    assert [p.item_id for p in with_probes.picks] == [p.item_id for p in without.picks]


@pytest.mark.slow  # TREC's 5,452 questions or SemEval's 800 reviews
def test_a_name_that_finds_nothing_stops_costing_questions(trec):
    store, ids, fine, probes = trec
    labels = {ids[k]: str(fine[k]) for k in range(0, len(ids), 5)}
    absent = {"NUM:code": probes["NUM:code"]}
    labels = {i: c for i, c in labels.items() if c != "NUM:code"}
    # label the name's nearest stored items with what they are (none is NUM:code here)
    nearest = [i for i, _ in store.search(absent["NUM:code"][None], PROBE_DEPTH)[0]]
    labels.update({i: "NUM:other" for i in nearest})
    plan = plan_round(store, labels, batch_size=20, seed=3, probes=absent)
    assert all(p.probe is None for p in plan.picks)


@pytest.fixture
def amazon(amazon_template, tmp_path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    return root


def test_a_workspace_round_asks_for_a_declared_label_by_its_description(amazon):
    description = "The review is about how long the battery lasts."
    with Workspace.open(amazon, labels=["battery"]) as ws:
        save_guidelines(ws.path, Guidelines(labels={"battery": description}))
        ids = [i for chunk in ws.store.iterate(4096) for i in chunk.ids][:60]
        ws.write_answers([Answer(i, gold) for i, gold in gold_labels(ws, ids)])
        result = ws.round(batch_size=20)
        asked = [s for s in result.selections if s.probe is not None]
        assert [s.probe for s in asked] == ["battery"]
        texts = {item.id: item.text for item in ws.store.get([asked[0].item_id])}
        assert "batter" in texts[asked[0].item_id].lower()
        # the ledger keeps why it was asked, and the label page says it
        stored = ws.ledger.selections(result.round.round)
        assert [s.probe for s in stored] == [s.probe for s in result.selections]
        why = reason(asked[0], result.round)
        assert why.kind == PROBE and "battery" in why.text
        assert reason(Selection(1, "x", 0.1, "positive"), result.round).kind != PROBE


@pytest.mark.slow  # TREC's 5,452 questions or SemEval's 800 reviews
def test_the_first_batch_asks_for_declared_classes_by_name(trec):
    store, ids, fine, probes = trec
    rare = {c: probes[c] for c in RARE}
    plan = plan_round(store, {}, batch_size=20, seed=4, probes=rare)
    assert plan.report.cold_start and len(plan.picks) == 20
    asked = [p for p in plan.picks[: probe_slots(20)] if p.probe is not None]
    assert len(asked) == len(RARE)  # first, one per name
    gold = {ids[k]: str(fine[k]) for k in range(len(ids))}
    assert sum(gold[p.item_id] == p.probe for p in asked) >= 2
    assert len({p.item_id for p in plan.picks}) == 20
    plain = plan_round(store, {}, batch_size=20, seed=4)
    assert all(p.probe is None for p in plain.picks)
    assert not {gold[p.item_id] for p in plain.picks} & set(RARE)


@pytest.mark.slow  # TREC's 5,452 questions or SemEval's 800 reviews
def test_a_multi_label_round_asks_for_a_label_no_answer_holds(embedded_dataset):
    _, X, cells = embedded_dataset("semeval2014_restaurant_aspects/test.csv")
    names = ["ambience", "anecdotes/miscellaneous", "food", "price", "service"]
    store = MemoryStore(X.shape[1])
    ids = [f"s{k}" for k in range(len(X))]
    store.add(ids, X, ids, [{} for _ in ids])
    gold = {i: set(str(c).split(";")) for i, c in zip(ids, cells, strict=True)}
    labels = {i: gold[i] for i in ids[:300] if "price" not in gold[i]}
    vector = Encoder().encode([probe_text("price", "What the meal or the drinks cost.")])[0]
    plan = plan_multilabel_round(store, labels, names, batch_size=20, probes={"price": vector})
    asked = [p for p in plan.picks if p.probe is not None]
    assert [p.probe for p in asked] == ["price"] and "price" in gold[asked[0].item_id]
    plain = plan_multilabel_round(store, labels, names, batch_size=20)
    assert all(p.probe is None for p in plain.picks)


def test_the_round_command_says_which_labels_it_asked_for(amazon, capsys):
    with Workspace.open(amazon, labels=["battery"]) as ws:
        ids = [i for chunk in ws.store.iterate(4096) for i in chunk.ids][:60]
        ws.write_answers([Answer(i, gold) for i, gold in gold_labels(ws, ids)])
    assert main(["round", "--workspace", str(amazon), "--batch-size", "20"]) == 0
    out = capsys.readouterr().out
    assert "asked for labels nobody has given yet, by their names: battery" in out
    with open(amazon / "batches" / "round-1.csv", encoding="utf-8", newline="") as f:
        whys = [row["why"] for row in csv.DictReader(f)]
    assert sum(why.startswith("asked for battery: no label yet | ") for why in whys) == 1
    assert main(["status", "--workspace", str(amazon)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.split()[:2] == ["battery", "0"] and "no label yet" in line for line in lines)
