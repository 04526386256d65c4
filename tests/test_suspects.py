"""Suspect labels and annotator agreement on real reviews, the real model, and both stores."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from tests.realdata import AMAZON, require_data
from textal.ledger import AMBIGUOUS, UNLABEL, Ledger, NewLabel
from textal.quality.agreement import annotator_agreement, confirmed_items, labels_by_annotator
from textal.workspace import Workspace

OTHER = {"negative": "positive", "positive": "negative"}
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def label_with_noise(ws: Workspace, n: int = 200, flips: int = 10, seed: int = 0) -> set[str]:
    """Label ``n`` random stored reviews with their gold label, ``flips`` of them with the other
    one, as annotator "ana"; returns the ids given a wrong label."""
    gold = {}
    for chunk in ws.store.iterate(with_metadata=True):
        gold.update((i, m["gold"]) for i, m in zip(chunk.ids, chunk.metadata, strict=True))
    rng = random.Random(seed)
    chosen = rng.sample(sorted(gold), n)
    flipped = set(rng.sample(chosen, flips))
    ws.add_labels(
        [(i, OTHER[gold[i]] if i in flipped else gold[i]) for i in chosen], annotator="ana"
    )
    return flipped


@pytest.mark.slow
def test_flipped_labels_are_top_suspects_and_no_label_changes(workspace_dir):
    with Workspace.open(workspace_dir) as ws:
        flipped = label_with_noise(ws)
        labels = ws.ledger.current_labels()
        history = ws.ledger.history()

        suspects = ws.suspects()
        top = suspects[:10]
        found = [s for s in top if s.item_id in flipped]
        assert len(found) >= 4, [(s.item_id in flipped, s.confidence) for s in top]  # random: 0.5
        assert ws.ledger.history() == history  # suspects changes nothing
        for s in suspects:
            assert s.given == labels[s.item_id] and s.suggested == OTHER[s.given]
            assert s.annotator == "ana" and s.labeled_at
            assert 0.5 < s.confidence <= 1
            assert all(n.label != s.given and n.text for n in s.neighbours)
        assert [s.confidence for s in suspects] == sorted(
            (s.confidence for s in suspects), reverse=True
        )
        assert ws.status().suspects == len(suspects)  # cached for this ledger state

        # A second person confirms the first suspect's label, and corrects the second one.
        confirmed, corrected = suspects[0], suspects[1]
        ws.add_labels([(confirmed.item_id, confirmed.given)], annotator="bo", confirm=True)
        ws.add_labels([(corrected.item_id, corrected.suggested)], annotator="bo")
        assert ws.status().suspects is None  # labels changed since the count
        again = {s.item_id for s in ws.suspects()}
        assert confirmed.item_id not in again and corrected.item_id not in again
        events = ws.ledger.history(corrected.item_id)
        assert [(e.label, e.annotator) for e in events] == [
            (corrected.given, "ana"),
            (corrected.suggested, "bo"),
        ]  # the correction is a new event; the wrong label stays in the history


def test_confirm_records_a_second_person_only():
    with Ledger(":memory:") as ledger:
        ledger.add_labels([NewLabel("a", "pos")], annotator="ana", source="t")
        assert ledger.add_labels([NewLabel("a", "pos")], annotator="bo", source="t") == (0, 1)
        assert ledger.add_labels(
            [NewLabel("a", "pos")], annotator="bo", source="t", confirm=True
        ) == (1, 0)
        for who in ("ana", "bo"):  # each has already said so
            assert ledger.add_labels(
                [NewLabel("a", "pos")], annotator=who, source="t", confirm=True
            ) == (0, 1)
        by_item = labels_by_annotator(ledger.history())
        assert by_item == {"a": {"ana": "pos", "bo": "pos"}}
        assert confirmed_items(by_item, ledger.current_labels()) == {"a"}


def test_kappa_per_pair_matches_sklearn():
    ana = ["pos", "pos", "neg", "neg", "pos", "neu", "neg", "pos", "neu", "pos"]
    bo_ = ["pos", "neg", "neg", "neg", "pos", "neu", "pos", "pos", "neg", "pos"]
    with Ledger(":memory:") as ledger:
        items = [f"item-{k}" for k in range(len(ana))]
        # bo first says the opposite of his final answer everywhere: only his latest counts.
        ledger.add_labels([NewLabel(i, "neu") for i in items], annotator="bo", source="t")
        ledger.add_labels([NewLabel(i, a) for i, a in zip(items, ana, strict=True)],
                          annotator="ana", source="t", confirm=True)  # fmt: skip
        ledger.add_labels([NewLabel(i, b) for i, b in zip(items, bo_, strict=True)],
                          annotator="bo", source="t", confirm=True)  # fmt: skip
        # cy labels two items, then takes one back and marks the other ambiguous: no labels.
        ledger.add_labels([NewLabel("item-0", "neg"), NewLabel("item-1", "neg")],
                          annotator="cy", source="t")  # fmt: skip
        ledger.add_labels([NewLabel("item-0", None, UNLABEL), NewLabel("item-1", None, AMBIGUOUS)],
                          annotator="cy", source="t")  # fmt: skip
        report = annotator_agreement(labels_by_annotator(ledger.history()), ledger.current_labels())
    [pair] = report.pairs
    assert (pair.first, pair.second, pair.items) == ("ana", "bo", 10)
    assert pair.agreed == sum(a == b for a, b in zip(ana, bo_, strict=True)) == 7
    assert pair.kappa == pytest.approx(cohen_kappa_score(ana, bo_))
    differ = [f"item-{k}" for k in range(10) if ana[k] != bo_[k]]
    assert [d.item_id for d in report.disagreements] == differ
    assert report.disagreements[0].labels == {"ana": "pos", "bo": "neg"}


def test_kappa_is_undefined_when_everyone_gives_one_class():
    with Ledger(":memory:") as ledger:
        for who in ("ana", "bo"):
            ledger.add_labels([NewLabel("a", "pos"), NewLabel("b", "pos")], annotator=who,
                              source="t", confirm=True)  # fmt: skip
        report = annotator_agreement(labels_by_annotator(ledger.history()), {})
    assert [(p.items, p.agreed, p.kappa) for p in report.pairs] == [(2, 2, None)]
    assert report.disagreements == []


@pytest.mark.slow
def test_suspects_command_writes_formula_safe_files(tmp_path):
    require_data(AMAZON)
    evil = tmp_path / "evil.csv"
    evil.write_text(
        'text,label\n"=HYPERLINK(""http://x"") I love this phone, great sound, works perfectly",'
        "positive\n",
        encoding="utf-8",
    )
    root = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": REPO, "HF_HUB_OFFLINE": "1"}

    def textal(*argv) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "textal", *map(str, argv)],
            capture_output=True, text=True, env=env, cwd=tmp_path,
        )  # fmt: skip

    amazon = AMAZON
    for data in (amazon, evil):
        done = textal("ingest", "--workspace", root, "--store", "memory", "--data", data,
                      "--label-column", "label")  # fmt: skip
        assert done.returncode == 0, done.stderr
    with Workspace.open(root, create=False) as ws:
        flipped = label_with_noise(ws, n=150, flips=8, seed=1)
        [evil_id] = [i.id for i in ws.store.get(_all_ids(ws)) if i.text.startswith("=HYPER")]
        ws.add_labels([(evil_id, "negative")], annotator="=mallory")  # a wrong label
        history = ws.ledger.history()

    out = tmp_path / "out" / "suspects.csv"
    done = textal("suspects", "--workspace", root, "--output", out, "--limit", "30")
    assert done.returncode == 0, done.stderr
    assert "suspect labels among 151" in done.stdout
    with open(out, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    jsonl = [json.loads(line) for line in out.with_suffix(".jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in jsonl] and 0 < len(rows) <= 30
    assert {r["id"] for r in rows} & flipped
    [bad] = [r for r in rows if r["id"] == evil_id]
    assert bad["text"].startswith("'=HYPERLINK") and bad["annotator"] == "'=mallory"
    assert bad["given"] == "negative" and bad["suggested"] == "positive" and bad["label"] == ""
    assert next(r for r in jsonl if r["id"] == evil_id)["text"].startswith("=HYPERLINK")
    for row in rows:
        assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row.values())

    done = textal("status", "--workspace", root)
    assert done.returncode == 0 and "suspects    " in done.stdout
    with Workspace.open(root, create=False) as ws:
        assert ws.ledger.history() == history  # nothing labeled by `suspects`
        assert ws.status().suspects is not None and ws.status().suspects >= len(rows)

    # The reviewer confirms the first row and corrects the evil one through the suspects file.
    confirmed = next(r for r in rows if r["id"] != evil_id)
    confirmed["label"] = confirmed["given"]
    bad["label"] = "positive"
    with open(out, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = textal("label", "--workspace", root, out, "--annotator", "bo", "--confirm")
    assert done.returncode == 0 and "2 labels recorded" in done.stdout, done.stderr
    done = textal("status", "--workspace", root)
    assert "annotators  =mallory / bo: 0 of 1 agree" in done.stdout
    assert "ana / bo: 1 of 1 agree, Cohen's kappa n/a" in done.stdout  # one class: no kappa
    export = tmp_path / "export.csv"
    assert textal("export", "--workspace", root, export).returncode == 0
    with open(export, encoding="utf-8", newline="") as f:
        exported = {r["id"]: r for r in csv.DictReader(f)}
    assert json.loads(exported[evil_id]["annotators"]) == {"=mallory": "negative", "bo": "positive"}
    assert exported[evil_id]["label"] == "positive"


def _all_ids(ws: Workspace) -> list[str]:
    return [i for chunk in ws.store.iterate() for i in chunk.ids]


def test_detector_needs_two_labels_in_two_classes():
    from textal.quality.suspects import rank_label_issues

    X = np.random.default_rng(0).normal(size=(41, 16))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    assert rank_label_issues(X[:3], np.array(["a", "b", "b"])) == []
    issues = rank_label_issues(X[:41], np.array(["a"] + ["b", "c"] * 20))
    assert len(issues) == 40 and all(i.index != 0 and i.suggested != "a" for i in issues)


def test_suspects_output_must_be_a_csv(tmp_path, capsys):
    from textal.cli import main

    target = tmp_path / "mine.jsonl"
    target.write_text("not textal's\n", encoding="utf-8")
    assert main(["suspects", "--workspace", str(tmp_path / "ws"), "--output", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output") and err.count("\n") == 1
    assert target.read_text(encoding="utf-8") == "not textal's\n"
    assert not (tmp_path / "ws").exists()
