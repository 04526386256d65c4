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
    reviews = tmp_path / "amazon300.csv"  # 300 real reviews: every command, a third of the work
    with open(AMAZON, encoding="utf-8") as f:
        reviews.write_text("".join(f.readlines()[:301]), encoding="utf-8")
    code, out, _ = run(
        capsys, "ingest", "--workspace", ws, "--data", reviews, "--store", "memory",
        "--label-column", "label",
    )  # fmt: skip
    assert code == 0 and "added" in out
    code, out, _ = run(capsys, "ingest", "--workspace", ws, "--data", reviews)
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
    code, _, _ = run(capsys, "export", "--workspace", ws, exported, "--predictions")
    assert code == 0
    with open(exported, encoding="utf-8", newline="") as f:
        predicted = list(csv.DictReader(f))
    with Workspace.open(ws) as opened:  # every stored review, with who labeled the labeled ones
        assert len(predicted) == opened.store.count() > len(gold)
    assert {r["annotator"] for r in predicted if r["id"] in gold} == {"ana"}
    assert all(r["labeled_at"] for r in predicted if r["id"] in gold)
    assert {r["annotator"] + r["labeled_at"] for r in predicted if r["id"] not in gold} == {""}


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
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt="": prompts.append(prompt) or next(keys))
    assert run(capsys, "label", "--workspace", ws, "--interactive")[0] == 0
    assert len(prompts) == 5 and all("then Enter" in p for p in prompts)  # keys are lines
    with Workspace.open(ws) as opened:
        first, second = (s.item_id for s in opened.ledger.selections(1)[:2])
        assert opened.ledger.current_labels() == {first: "neg"}
        assert opened.ledger.ambiguous_items() == {second}
        assert len(opened.open_batch()) == 2  # resumes at the third review


def test_common_options_go_anywhere_and_the_environment_is_read_when_run(
    capsys, tmp_path, monkeypatch
):
    """``--workspace`` before the command, after it, or after a nested action's arguments;
    ``$TEXTAL_WORKSPACE`` for ``annotators`` too. Only the ledger is opened here, so the config
    is written directly (no model is loaded)."""
    from textal.workspace.config import WorkspaceConfig, write_config

    ws = tmp_path / "ws"
    ws.mkdir()
    write_config(ws, WorkspaceConfig(model="all-MiniLM-L6-v2", dim=384, store_uri="memory"))
    code, out, err = run(capsys, "annotators", "add", "ana", "--workspace", ws)
    assert (code, err) == (0, "") and "annotator ana added" in out
    assert run(capsys, "annotators", "--workspace", ws, "add", "bo", "--admin")[0] == 0
    code, out, _ = run(capsys, "--workspace", ws, "annotators", "list")
    assert code == 0 and [line.split()[:2] for line in out.splitlines()] == [
        ["ana", "annotator"],
        ["bo", "admin"],
    ]
    monkeypatch.setenv("TEXTAL_WORKSPACE", str(ws))
    assert run(capsys, "annotators", "remove", "ana")[0] == 0
    assert run(capsys, "annotators", "list")[1].split()[0] == "bo"

    # The Milvus URI default is read when the command runs, not when the parser is built.
    from textal.cli import build_parser

    parser = build_parser()
    monkeypatch.setenv("TEXTAL_MILVUS_URI", "tcp://milvus.example:19530")
    assert parser.parse_args(["status"]).milvus_uri is None
    code, _, err = run(capsys, "status", "--workspace", ws)
    assert code == 2 and err.startswith("error: store URI tcp://... is not supported")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["round", "--batch-size", "0"], "argument --batch-size: must be from 1 to 500"),
        (["round", "--batch-size", "501"], "argument --batch-size: must be from 1 to 500"),
        (["round", "--strategy", "best"], "argument --strategy: invalid choice: 'best'"),
        (["round", "--candidates", "some"], "argument --candidates: invalid choice: 'some'"),
        (["round", "--max-class-share", "0"], "argument --max-class-share: must be in (0, 1]"),
        (["serve", "--port", "70000"], "argument --port: must be from 0 to 65535"),
        (["simulate", "--data", "x.csv", "--test-fraction", "0.2", "--label-noise", "1"],
         "argument --label-noise: must be in [0, 1)"),
    ],
)  # fmt: skip
def test_options_are_checked_by_their_declaration(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
