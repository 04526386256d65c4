"""Issue 22: ``textal serve`` runs the whole loop. The CLI's commands work while it serves (they
go through its API with the local credential), and a script does the same with a service token,
all through a real uvicorn process on loopback."""

from __future__ import annotations

import csv
import shutil
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.hardening import YELP, child_env, textal_command
from tests.workspaces import gold_labels
from textal.ledger import Ledger
from textal.ledger.annotators import add_annotator
from textal.workspace import Workspace
from textal.workspace.holder import CREDENTIAL_NAME
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # a real server and CLI processes on real embeddings


def _cli(root: Path, *argv: object) -> subprocess.CompletedProcess[str]:
    found = subprocess.run(
        textal_command(*argv, "--workspace", root),
        capture_output=True,
        text=True,
        env=child_env(),
        timeout=600,
    )
    return found


def _yelp_file(path: Path, start: int, stop: int) -> Path:
    with open(YELP, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[start:stop]
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([(f"yelp-{start + k}", row["text"]) for k, row in enumerate(rows)])
    return path


def _wait(client: httpx.Client, job: dict) -> dict:
    deadline = time.monotonic() + 300
    while job["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        job = client.get(f"/api/v1/jobs/{job['id']}").json()
    return job


@pytest.fixture
def served(amazon_template, tmp_path, start_server):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        tokens = {
            "boss": add_annotator(ws.ledger, "boss", admin=True),
            "feed": add_annotator(ws.ledger, "feed", role="service"),
            "ann": add_annotator(ws.ledger, "ann"),
        }
    server = start_server(root)
    return root, server, tokens


def test_the_cli_works_while_serving(served, tmp_path):
    root, server, _ = served
    assert (root / CREDENTIAL_NAME).stat().st_mode & 0o077 == 0
    status = _cli(root, "status")
    assert status.returncode == 0, status.stderr
    assert "items       990" in status.stdout or "items       1000" in status.stdout

    new = _yelp_file(tmp_path / "today.csv", 0, 40)
    ingest = _cli(root, "ingest", "--data", new, "--id-column", "id")
    assert ingest.returncode == 0, ingest.stderr
    assert "read 40 items: 40 added, 0 already stored" in ingest.stdout
    again = _cli(root, "ingest", "--data", new, "--id-column", "id")
    assert "0 added, 40 already stored" in again.stdout

    round_ = _cli(root, "round", "--batch-size", "6")
    assert round_.returncode == 0, round_.stderr
    assert "round 1: cold-start batch of 6 -> " in round_.stdout
    batch = Path(round_.stdout.split(" -> ")[1].split()[0])
    with open(batch, encoding="utf-8") as f:
        picked = [row["id"] for row in csv.DictReader(f)]
    labels = tmp_path / "labels.csv"
    labels.write_text(
        "id,label\n"
        + "".join(f"{i},{('negative', 'positive')[k % 2]}\n" for k, i in enumerate(picked)),
        encoding="utf-8",
    )
    label = _cli(root, "label", labels, "--annotator", "ana")
    assert label.returncode == 0, label.stderr
    assert f"{labels}: 6 labels recorded, 0 unchanged" in label.stdout

    export = tmp_path / "out.csv"
    exported = _cli(root, "export", export)
    assert exported.returncode == 0 and f"wrote 6 rows to {export}" in exported.stdout
    with open(export, encoding="utf-8") as f:
        assert sorted(row["id"] for row in csv.DictReader(f)) == sorted(picked)
    suspects = _cli(root, "suspects", "--output", tmp_path / "s.csv")
    assert suspects.returncode == 0, suspects.stderr
    assert "suspect labels among 6" in suspects.stdout

    refused = _cli(root, "label", tmp_path / "missing.csv")
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")
    assert refused.stderr.count("\n") == 1

    server.kill()  # what the CLI did went through the server and is in the ledger
    with Ledger(root / LEDGER_NAME) as ledger:
        assert sorted(ledger.current_labels()) == sorted(picked)
        assert {e.annotator for e in ledger.history()} == {"ana"}


def test_a_script_runs_the_loop_with_a_service_token(served, tmp_path):
    _, server, tokens = served
    feed = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tokens['feed']}"}, timeout=120
    )
    boss = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tokens['boss']}"}, timeout=120
    )
    records = [
        {"id": f"api-{k}", "text": f"The delivery took {k + 2} weeks, awful."} for k in range(5)
    ]
    job = feed.post("/api/v1/items", json={"records": records})
    assert job.status_code == 202, job.text
    done = _wait(feed, job.json())
    assert done["state"] == "done" and done["result"]["report"]["added"] == 5
    assert done["progress"]["stored"] == 5

    upload = _yelp_file(tmp_path / "up.csv", 40, 70).read_bytes()
    job = feed.post(
        "/api/v1/items?id_column=id", content=upload, headers={"Content-Type": "text/csv"}
    )
    assert _wait(feed, job.json())["result"]["report"]["added"] == 30
    bad = feed.post(
        "/api/v1/items?text_column=body", content=upload, headers={"Content-Type": "text/csv"}
    )
    assert bad.status_code == 400 and "body" in bad.json()["error"]

    status = feed.get("/api/v1/status").json()
    assert status["items"] >= 1025 and status["rounds"] == 0
    assert feed.post("/api/v1/rounds", json={}).status_code == 403  # rounds: admins
    assert feed.post("/api/next", json={}).status_code == 403  # a service never labels
    started = boss.post("/api/v1/rounds", json={"batch_size": 4})
    assert started.status_code == 202, started.text
    assert _wait(boss, started.json())["state"] == "done"
    assert boss.post("/api/v1/rounds", json={"batch_size": True}).status_code == 400
    assert len(feed.get("/api/v1/rounds").json()) == 1

    exported = feed.get("/api/v1/labels", params={"format": "csv"})
    assert exported.status_code == 200 and exported.text.startswith("id,")
    assert feed.get("/api/v1/labels", params={"format": "xml"}).status_code == 400
    assert feed.post("/api/v1/exports", json={"path": str(tmp_path / "x.csv")}).status_code == 400

    spec = feed.get("/api/v1/openapi.json").json()
    assert {"/api/v1/items", "/api/v1/status", "/api/v1/jobs/{id}"} <= set(spec["paths"])
    wrong = httpx.get(f"{server.url}/api/v1/status", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and "error" in wrong.json()
    ann = httpx.get(
        f"{server.url}/api/v1/labels", headers={"Authorization": f"Bearer {tokens['ann']}"}
    )
    assert ann.status_code == 403


def test_predict_serves_the_last_model_and_swaps_it_whole(amazon_template, tmp_path, start_server):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        first = ws.round(batch_size=40)
        ws.add_labels(gold_labels(ws, [s.item_id for s in first.selections]), annotator="gold")
        ids = [c.ids for c in ws.store.iterate(200)][1]
        more = tmp_path / "more.csv"
        more.write_text(
            "id,label\n" + "".join(f"{i},{g}\n" for i, g in gold_labels(ws, list(ids))), "utf-8"
        )
        tokens = {
            "boss": add_annotator(ws.ledger, "boss", admin=True),
            "feed": add_annotator(ws.ledger, "feed", role="service"),
            "ann": add_annotator(ws.ledger, "ann"),
        }
    server = start_server(root)
    auth = {name: {"Authorization": f"Bearer {t}"} for name, t in tokens.items()}
    feed = httpx.Client(base_url=server.url, headers=auth["feed"], timeout=300)
    texts = ["Battery died after two days, returned it.", "Works great, love this headset!"]
    answer = feed.post("/api/v1/predict", json={"texts": texts})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [p["label"] for p in body["predictions"]] == ["negative", "positive"]
    assert all(p["route"] in ("auto", "review") for p in body["predictions"])
    assert all(abs(sum(p["probabilities"].values()) - 1) < 1e-6 for p in body["predictions"])
    for bad in (
        {"texts": []},
        {"texts": ["x"] * 1001},
        {"texts": [3]},
        {"texts": ["a"], "min_precision": True},
    ):
        refused = feed.post("/api/v1/predict", json=bad)
        assert refused.status_code == 400 and "error" in refused.json(), bad
    assert (
        httpx.post(
            f"{server.url}/api/v1/predict", json={"texts": texts}, headers=auth["ann"]
        ).status_code
        == 403
    )

    seen: list[tuple[str, tuple[float, ...]]] = []
    stop = threading.Event()

    def keep_asking() -> None:
        with httpx.Client(base_url=server.url, headers=auth["feed"], timeout=300) as client:
            while not stop.is_set():
                got = client.post("/api/v1/predict", json={"texts": texts}).json()
                probabilities = tuple(
                    v for p in got["predictions"] for v in sorted(p["probabilities"].values())
                )
                seen.append((got["model"]["trained_on"], probabilities))

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        boss = httpx.Client(base_url=server.url, headers=auth["boss"], timeout=300)
        imported = boss.post(
            "/api/v1/labels?annotator=gold&filename=more.csv",
            content=more.read_bytes(),
            headers={"Content-Type": "text/csv"},
        )
        assert imported.status_code == 200, imported.text
        started = boss.post("/api/v1/rounds", json={"batch_size": 10})
        assert _wait(boss, started.json())["state"] == "done"
        deadline = time.monotonic() + 120
        while len({m for m, _ in seen}) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(1)
    finally:
        stop.set()
        asker.join(300)
    models = [m for m, _ in seen]
    assert len(set(models)) == 2, "the round's model was never served"
    swap = models.index(models[-1])
    assert set(models[:swap]) == {models[0]} and set(models[swap:]) == {models[-1]}  # no way back
    for model in set(models):  # one model, one answer: never a mix of two
        assert len({p for m, p in seen if m == model}) == 1


def test_filters_and_metadata_go_through_the_server(served, tmp_path):
    root, server, tokens = served
    today = tmp_path / "today.csv"
    with open(YELP, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:30]
    with open(today, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text", "source"])
        writer.writerows([(f"t-{k}", r["text"], "app-store") for k, r in enumerate(rows)])
    ingest = _cli(root, "ingest", "--data", today, "--id-column", "id", "--meta-column", "source")
    assert ingest.returncode == 0, ingest.stderr
    round_ = _cli(root, "round", "--batch-size", "5", "--filter", 'source == "app-store"')
    assert round_.returncode == 0, round_.stderr
    batch = Path(round_.stdout.split(" -> ")[1].split()[0])
    with open(batch, encoding="utf-8") as f:
        picked = [row["id"] for row in csv.DictReader(f)]
    assert len(picked) == 5 and all(i.startswith("t-") for i in picked)
    bad = _cli(root, "round", "--filter", "source ==")
    assert bad.returncode == 2 and bad.stderr.startswith("error: filter ")
    boss = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {tokens['boss']}"}, timeout=300
    )
    refused = boss.post("/api/v1/rounds", json={"filter": "source =="})
    assert refused.status_code == 400 and "filter" in refused.json()["error"]


def test_a_multi_label_workspace_ingests_gold_sets_through_the_server(tmp_path, start_server):
    """The CLI's ``ingest --multi-label`` while serving: the server reads the gold cells as
    label sets (stored canonical, sorted), as a local ingest does."""
    root = tmp_path / "ws"
    names = ["food", "service", "price"]
    with Workspace.open(root, store_uri="memory", labels=names, multi_label=True):
        pass
    reviews = tmp_path / "sets.csv"
    reviews.write_text(
        "id,text,labels\n"
        "r1,The waiter was slow but the pasta was great.,service;food\n"
        "r2,Too expensive for what you get.,price\n",
        encoding="utf-8",
    )
    server = start_server(root)
    done = _cli(root, "ingest", "--data", reviews, "--id-column", "id",
                "--label-column", "labels", "--multi-label")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 added" in done.stdout
    server.stop()
    with Workspace.open(root) as ws:
        gold = {item.id: item.metadata["gold"] for item in ws.store.get(["r1", "r2"])}
    assert gold == {"r1": "food;service", "r2": "price"}
