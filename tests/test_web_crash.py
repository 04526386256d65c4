"""``kill -9`` of ``textal serve`` while two annotators label: after a restart every label the
server acknowledged is in the ledger exactly once, and the items leased when it died come back."""

from __future__ import annotations

import shutil
import threading
from collections import Counter

import httpx
import pytest

from tests.browser import http_session
from textal.ledger import Ledger
from textal.ledger.annotators import add_annotator
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("store", ["memory", "lite"])
def test_kill_9_loses_no_acknowledged_label(amazon_template, tmp_path, start_server, store):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template(store), root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=40)
        tokens = {name: add_annotator(ws.ledger, name) for name in ("ana", "bo", "cy")}
    server = start_server(root)
    acknowledged: list[tuple[str, str, str]] = []
    shown: dict[str, str] = {}
    enough = threading.Event()

    def annotate(name: str) -> None:
        client = http_session(server.url, tokens[name])
        try:
            state = client.post("/api/next", json={}).json()
            while state["item"] is not None:
                item = state["item"]["id"]
                shown[name] = item
                label = "positive" if len(acknowledged) % 3 else "negative"
                state = client.post("/api/label", json={"id": item, "label": label}).json()
                acknowledged.append((item, label, name))  # the server answered: committed
                if len(acknowledged) >= 12:
                    enough.set()
        except httpx.HTTPError:
            return  # the server died under this request: not acknowledged

    threads = [threading.Thread(target=annotate, args=(name,)) for name in ("ana", "bo")]
    for thread in threads:
        thread.start()
    assert enough.wait(300), "the annotators did not get 12 labels acknowledged"
    server.kill()
    for thread in threads:
        thread.join(120)
    assert len(acknowledged) >= 12

    restarted = start_server(root)  # the dead server's serve.json does not stop it
    with Ledger(root / LEDGER_NAME) as ledger:
        events = Counter((e.item_id, e.label, e.annotator) for e in ledger.history())
    assert all(events[label] == 1 for label in acknowledged), (acknowledged, events)
    assert sum(events.values()) <= len(acknowledged) + 2  # at most the two requests in flight
    # The items leased at the crash and still unlabeled go to the next annotator at once.
    labeled = {item for item, _, _ in events}
    orphans = {item for item in shown.values() if item not in labeled}
    assert orphans
    cy = http_session(restarted.url, tokens["cy"])
    offered = []
    state = cy.post("/api/next", json={}).json()
    for _ in orphans:
        offered.append(state["item"]["id"])
        state = cy.post("/api/skip", json={"id": offered[-1]}).json()
    assert set(offered) == orphans
