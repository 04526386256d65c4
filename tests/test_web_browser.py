"""The annotation app in a real browser (headless Chromium through Selenium) against
``textal serve`` in its own uvicorn process, on real amazon reviews and the real model."""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.browser import (
    FIRST_BATCH,
    log_in,
    page_state,
    press,
    require_chromium,
    serve_prepared,
    text_of,
    wait,
)
from textal.ledger import LABEL, Ledger, Selection
from textal.ledger.annotators import add_annotator
from textal.ledger.records import (
    ClassProbability,
    Neighbor,
    RoundParams,
    RoundReport,
    labels_digest,
)
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow

HOSTILE = {
    "x-script": "<script>document.title='pwned';window.pwned=1</script> great phone",
    "x-img": "<img src=x onerror=\"document.title='pwned';window.pwned=2\"> bad battery",
    "x-link": '<a href="javascript:window.pwned=3">click me</a> fine',
    "x-bidi": "refund \u202eetaerc\u202c now \x1b[31mred\x1b[0m",
}


@pytest.mark.parametrize("store", ["memory", "lite"])
def test_label_a_whole_batch_by_keyboard_and_get_the_next_round_without_reload(
    amazon_template, tmp_path, start_server, new_browser, store
):
    root = tmp_path / "ws"
    tokens, server = serve_prepared(amazon_template(store), root, start_server)
    driver = new_browser()
    shown = log_in(driver, server.url, tokens["bo"])
    driver.execute_script("window.sameDocument = 'yes';")  # gone if the page reloads
    assert driver.find_element("id", "round").text == "Round 1"
    answered = []
    keys = ["1", "2", "a", "1", "2", "1"]
    for key in keys:
        answered.append((shown, key))
        shown = press(driver, key, shown)
        if not shown:
            break
    assert len(answered) == FIRST_BATCH and shown == ""
    assert page_state(driver)[0] == "waiting"
    # The batch is done: a round runs in the background and its batch appears in this page.
    wait(driver, lambda d: page_state(d)[0] == "item")
    assert driver.find_element("id", "round").text == "Round 2"
    assert driver.execute_script("return window.sameDocument") == "yes"
    assert text_of(driver, "predicted") in ("negative", "positive")
    with Ledger(root / LEDGER_NAME) as ledger:
        events = [(e.item_id, e.kind, e.label, e.annotator) for e in ledger.history()]
    names = {"1": "negative", "2": "positive"}
    assert events == [
        (item, LABEL, names[k], "bo") if k != "a" else (item, "ambiguous", None, "bo")
        for item, k in answered
    ]


def test_two_annotators_get_disjoint_items(amazon_template, tmp_path, start_server, new_browser):
    root = tmp_path / "ws"
    tokens, server = serve_prepared(amazon_template("memory"), root, start_server, batch=10)
    ana, bo = new_browser(), new_browser()
    seen = {"ana": [log_in(ana, server.url, tokens["ana"])]}
    seen["bo"] = [log_in(bo, server.url, tokens["bo"])]
    for _ in range(3):
        for name, driver in (("ana", ana), ("bo", bo)):
            seen[name].append(press(driver, "1", seen[name][-1]))
    assert not set(seen["ana"]) & set(seen["bo"]), seen
    assert len(set(seen["ana"])) == len(set(seen["bo"])) == 4


def test_requests_without_session_or_csrf_are_refused(
    amazon_template, tmp_path, start_server, new_browser
):
    root = tmp_path / "ws"
    tokens, server = serve_prepared(amazon_template("memory"), root, start_server)
    stranger, member = new_browser(), new_browser()
    shown = log_in(member, server.url, tokens["bo"])
    post = (
        "const [path, body, csrf, done] = arguments;"
        "const headers = {'Content-Type': 'application/json'};"
        "if (csrf) headers['X-CSRF-Token'] = document.querySelector("
        "'meta[name=\"csrf-token\"]').content;"
        "fetch(path, {method: 'POST', headers, body: JSON.stringify(body)})"
        ".then(r => done(r.status));"
    )
    body = {"id": shown, "label": "positive"}
    assert member.execute_async_script(post, "/api/label", body, False) == 403
    stranger.get(f"{server.url}/login")
    assert stranger.execute_async_script(post, "/api/label", body, False) == 401
    stranger.get(f"{server.url}/")
    assert stranger.current_url.endswith("/login")
    assert member.execute_async_script(post, "/api/admin/round", {}, True) == 403  # not admin
    with Ledger(root / LEDGER_NAME) as ledger:
        assert ledger.history() == []
    assert member.execute_async_script(post, "/api/label", body, True) == 200
    with Ledger(root / LEDGER_NAME) as ledger:
        assert [(e.item_id, e.label) for e in ledger.history()] == [(shown, "positive")]


def test_hostile_review_text_stays_inert(amazon_template, tmp_path, start_server, new_browser):
    require_chromium()
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    source = tmp_path / "hostile.jsonl"

    source.write_text(
        "".join(json.dumps({"id": k, "text": v}) + "\n" for k, v in HOSTILE.items()),
        encoding="utf-8",
    )
    with Workspace.open(root) as ws:
        ws.ingest(source, id_column="id")
        ws.add_labels([("x-bidi", "negative")], annotator="seed")
        # A batch of the hostile reviews, each explained by the hostile labeled one.
        ws.ledger.record_round(
            params=RoundParams("margin", 3),
            report=RoundReport(selected_by="margin", labeled=1),
            last_seq=ws.ledger.last_seq(),
            trained_on=labels_digest(ws.ledger.current_labels()),
            selections=[
                Selection(
                    rank,
                    item_id,
                    0.5,
                    "positive",
                    top2=(ClassProbability("positive", 0.5), ClassProbability("negative", 0.5)),
                    why=(Neighbor("x-bidi", "negative", 0.9),),
                )
                for rank, item_id in enumerate(["x-script", "x-img", "x-link"], start=1)
            ],
        )
        token = add_annotator(ws.ledger, "bo")
    server = start_server(root)
    driver = new_browser()
    shown = log_in(driver, server.url, token)
    title = driver.title
    for _ in range(3):
        text = driver.find_element("id", "text")
        assert text.get_attribute("textContent") == HOSTILE[shown]
        assert driver.execute_script("return arguments[0].children.length", text) == 0
        why = driver.find_element("id", "why").get_attribute("textContent")
        assert "refund etaerc now red" in why  # bidi controls and escape sequences removed
        assert not driver.find_elements("css selector", "main img, main script, #labeler a")
        time.sleep(0.3)  # a payload would have run by now
        assert driver.execute_script("return window.pwned") is None
        assert driver.title == title
        shown = press(driver, "s", shown)
    # The search page renders the same texts as results, inert as well.
    driver.get(f"{server.url}/search")
    driver.find_element("id", "keyword").send_keys("pwned\n")
    wait(driver, lambda d: len(d.find_elements("css selector", "#results li")) == 3)
    texts = [
        e.get_attribute("textContent") for e in driver.find_elements("css selector", ".review")
    ]
    assert sorted(texts) == sorted(HOSTILE[k] for k in ("x-script", "x-img", "x-link"))
    assert driver.execute_script("return window.pwned") is None and driver.title != "pwned"
