"""Every command, through the same entry point users run, on real reviews."""

import csv
import json
import subprocess
import sys

import pytest

from tests.realdata import AMAZON, DATA_DIR, require_data
from tests.workspaces import gold_labels
from textal.cli import main
from textal.workspace import Workspace


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_help_explains_the_loop():
    done = subprocess.run(
        [sys.executable, "-m", "textal", "--help"], capture_output=True, text=True, check=True
    )
    assert "typical loop" in done.stdout
    for command in ["ingest", "round", "label", "status", "export"]:
        assert command in done.stdout


def test_ingest_round_label_status_export(capsys, tmp_path):
    require_data(AMAZON)
    ws = tmp_path / "ws"
    code, out, _ = run(
        capsys, "ingest", "--workspace", ws, "--data", AMAZON, "--store", "memory",
        "--label-column", "label",
    )  # fmt: skip
    assert code == 0 and "added" in out
    code, out, _ = run(capsys, "ingest", "--workspace", ws, "--data", AMAZON)
    assert code == 0 and " 0 added" in out

    code, out, _ = run(capsys, "round", "--workspace", ws, "--batch-size", "8")
    assert code == 0 and "cold-start batch of 8" in out
    batch = ws / "batches" / "round-1.csv"
    with Workspace.open(ws) as opened:
        with open(batch, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        gold = dict(gold_labels(opened, [r["id"] for r in rows]))
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "id,label\n" + "".join(f"{i},{label}\n" for i, label in gold.items()), encoding="utf-8"
    )
    code, out, _ = run(capsys, "label", "--workspace", ws, labels, "--annotator", "ana")
    assert code == 0 and "8 labels recorded" in out

    code, out, _ = run(
        capsys, "round", "--workspace", ws, "--batch-size", "8", "--candidates", "index"
    )
    assert code == 0 and "adaptive batch of 8" in out  # the default strategy
    assert "candidates from the index" in out and "neighbours of" in out

    code, out, _ = run(capsys, "status", "--workspace", ws)
    assert code == 0
    assert "labeled     8" in out and "rounds      2" in out
    assert "last round  scored candidates from the index" in out
    assert "backend     torch\n" in out  # the default, recorded at ingest

    exported = tmp_path / "out.csv"
    code, _, _ = run(capsys, "export", "--workspace", ws, exported)
    assert code == 0
    with open(exported.with_suffix(".jsonl"), encoding="utf-8") as f:
        assert {json.loads(line)["id"] for line in f} == set(gold)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--data", "missing.csv"], "missing.csv"),
        (["--data", "AMAZON", "--text-column", "review"], "review"),
    ],
)
def test_bad_ingest_is_one_line_and_exit_2(capsys, tmp_path, argv, message):
    require_data(AMAZON)
    argv = [str(AMAZON) if a == "AMAZON" else a for a in argv]
    code, _, err = run(capsys, "ingest", "--workspace", tmp_path / "ws", "--store", "memory", *argv)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error:") and message in err


def test_commands_on_a_missing_workspace_fail_clearly(capsys, tmp_path):
    code, _, err = run(capsys, "round", "--workspace", tmp_path / "nothing")
    assert code == 2 and "no textal workspace" in err
    assert not (tmp_path / "nothing").exists()


def test_interactive_labeling_resumes(capsys, tmp_path, monkeypatch):
    require_data(AMAZON)
    ws = tmp_path / "ws"
    sample = tmp_path / "sample.csv"
    with open(DATA_DIR / "uci_sentiment_labelled" / "yelp.csv", encoding="utf-8") as f:
        sample.write_text("".join(f.readlines()[:60]), encoding="utf-8")
    assert (
        run(capsys, "init", "--workspace", ws, "--store", "memory", "--labels", "neg,pos")[0] == 0
    )
    assert run(capsys, "ingest", "--workspace", ws, "--data", sample)[0] == 0
    assert run(capsys, "round", "--workspace", ws, "--batch-size", "4")[0] == 0
    keys = iter(["1", "2", "u", "a", "q"])  # label, label, undo the second, ambiguous, quit
    monkeypatch.setattr("builtins.input", lambda prompt="": next(keys))
    assert run(capsys, "label", "--workspace", ws, "--interactive")[0] == 0
    with Workspace.open(ws) as opened:
        first, second = (s.item_id for s in opened.ledger.selections(1)[:2])
        assert opened.ledger.current_labels() == {first: "neg"}
        assert opened.ledger.ambiguous_items() == {second}
        assert len(opened.open_batch()) == 2  # resumes at the third review
