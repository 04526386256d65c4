"""Multi-label end to end through the CLI (issue 26), on real SemEval-2014 restaurant reviews:
init --multi-label, ingest gold sets, rounds, a ``labels`` file, the terminal, status, export,
predict and suspects."""

from __future__ import annotations

import csv
import json

import pytest

from tests.test_multilabel_workspace import NAMES, semeval_slice
from textal.cli import main
from textal.workspace import Workspace

POOL = 150
LABELED = 80
NOISY = 8  # of the labeled, given a wrong set ("price" alone on reviews gold says are not)


def run(capsys, *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _csv(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow  # trains heads and runs cleanlab's cross-validation: ~25 s
def test_a_multi_label_workspace_end_to_end(capsys, tmp_path, monkeypatch):
    rows = semeval_slice(tmp_path / "reviews.csv", 0, POOL)
    gold = {r["id"]: frozenset(r["labels"].split(";")) for r in rows}
    ws = tmp_path / "ws"
    code, _, err = run(capsys, "init", "--workspace", ws, "--multi-label", "--labels", "a;b,c")
    assert code == 2 and err.startswith("error:") and "may not hold ';'" in err
    assert not ws.exists()
    code, out, _ = run(
        capsys, "init", "--workspace", ws, "--store", "memory", "--multi-label",
        "--labels", ",".join(NAMES),
    )  # fmt: skip
    assert code == 0 and "multi-label" in out
    code, out, err = run(
        capsys, "ingest", "--workspace", ws, "--data", tmp_path / "reviews.csv",
        "--id-column", "id", "--label-column", "labels", "--multi-label",
    )  # fmt: skip
    assert code == 0, err
    assert f"{POOL} added" in out

    # A cold-start round: a batch file with an empty labels column and one p_ column per label.
    code, out, err = run(capsys, "round", "--workspace", ws, "--batch-size", 10)
    assert code == 0 and "cold-start batch of 10" in out, err
    first = _csv(ws / "batches" / "round-1.csv")
    assert list(first[0])[:4] == ["id", "labels", "text", "predicted"]
    assert [c for c in first[0] if c.startswith("p_")] == [f"p_{n}" for n in NAMES]
    code, _, err = run(capsys, "round", "--workspace", ws, "--strategy", "margin")
    assert code == 2 and "not one for a multi-label workspace" in err

    # The gold sets of LABELED reviews as a labels file, like a filled-in batch, but NOISY wrong.
    noisy = [r["id"] for r in rows[:LABELED] if "price" not in gold[r["id"]]][:NOISY]
    labels_file = tmp_path / "labels.csv"
    with labels_file.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "labels"])
        writer.writerows(
            [r["id"], "price" if r["id"] in noisy else r["labels"]] for r in rows[:LABELED]
        )
    code, out, err = run(capsys, "label", "--workspace", ws, labels_file, "--annotator", "ana")
    assert code == 0 and f"{LABELED} labels recorded" in out, err

    code, out, err = run(capsys, "round", "--workspace", ws, "--batch-size", 10)
    assert code == 0 and "adaptive batch of 10" in out, err
    second = _csv(ws / "batches" / "round-2.csv")
    for row in second:
        assert {n for n in row["predicted"].split(";") if n} <= set(NAMES)
        assert all(0 <= float(row[f"p_{n}"]) <= 1 for n in NAMES)
    picks = json.loads((ws / "batches" / "round-2.jsonl").read_text().splitlines()[0])
    assert set(picks) >= {"labels", "predicted", *(f"p_{n}" for n in NAMES)}

    # The terminal: toggle 1 and 2, untoggle 2, submit; "none of these"; ambiguous; quit.
    keys, prompts = iter(["12", "2", "", "n", "a", "q"]), []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or next(keys))
    code, out, _ = run(capsys, "label", "--workspace", ws, "--interactive", "--annotator", "bo")
    assert code == 0 and "3 recorded" in out
    assert prompts[1].startswith("[x] 1 food  [x] 2 service  [ ] 3 price")  # after "12"
    assert prompts[2].startswith("[x] 1 food  [ ] 2 service")
    with Workspace.open(ws, create=False) as opened:
        batch = [s.item_id for s in opened.ledger.selections(2)]
        sets = opened.current_label_sets()
        assert sets[batch[0]] == {"food"} and sets[batch[1]] == frozenset()
        assert opened.ledger.ambiguous_items() == {batch[2]}
    labeled = LABELED + 2

    code, out, _ = run(capsys, "status", "--workspace", ws)
    assert code == 0 and f"labeled     {labeled} (label sets)" in out
    food = sum("food" in s for s in sets.values())
    assert f"  food                 {food}" in out and "(none of these)      1" in out

    export = tmp_path / "export.csv"
    code, out, _ = run(capsys, "export", "--workspace", ws, export)
    assert code == 0 and f"wrote {labeled} rows" in out
    exported = {r["id"]: r for r in _csv(export)}
    for item_id in [r["id"] for r in rows[:LABELED] if r["id"] not in noisy]:
        assert frozenset(exported[item_id]["labels"].split(";")) == gold[item_id]
    assert exported[noisy[0]]["labels"] == "price"
    assert exported[batch[1]]["labels"] == ";"  # none of these, as a label file reads it
    lines = [json.loads(line) for line in export.with_suffix(".jsonl").read_text().splitlines()]
    assert {line["id"]: line["labels"] for line in lines}[batch[0]] == ["food"]
    code, out, err = run(capsys, "label", "--workspace", ws, export)  # an export re-imports
    assert code == 0 and f"0 labels recorded, {labeled} unchanged" in out, err

    code, out, err = run(
        capsys, "predict", "--workspace", ws, "--text", "The waiter was rude and slow."
    )
    assert code == 0, err
    (predicted,) = list(csv.DictReader(out.splitlines()))
    assert set(predicted) >= {"labels", *(f"p_{n}" for n in NAMES)}
    assert float(predicted["p_service"]) > float(predicted["p_price"])

    # Suspects: cleanlab's multi-label finder on out-of-fold probabilities finds planted errors.
    code, out, err = run(capsys, "suspects", "--workspace", ws)
    assert code == 0, err
    assert "fill the labels column" in out
    found = _csv(ws / "suspects" / "suspects.csv")
    assert list(found[0])[:5] == ["id", "labels", "given", "suggested", "confidence"]
    ranked = [r["id"] for r in found]
    # Most planted errors are among the first 2 * NOISY suspects, most likely wrong first.
    assert len(set(ranked[: 2 * NOISY]) & set(noisy)) >= NOISY // 2, (ranked, noisy)
    assert all(r["given"] == "price" for r in found if r["id"] in noisy)
