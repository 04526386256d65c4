"""The annotation app in a real browser (headless Chromium through Selenium) against
``textal serve`` in its own uvicorn process, on real amazon reviews and the real model."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from tests.browser import require_chromium
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

FIRST_BATCH = 6
WAIT_S = 300  # a round trains AutoML on a loaded machine

HOSTILE = {
    "x-script": "<script>document.title='pwned';window.pwned=1</script> great phone",
    "x-img": "<img src=x onerror=\"document.title='pwned';window.pwned=2\"> bad battery",
    "x-link": '<a href="javascript:window.pwned=3">click me</a> fine',
    "x-bidi": "refund \u202eetaerc\u202c now \x1b[31mred\x1b[0m",
}


def _prepare(template: Path, root: Path, *, batch: int = FIRST_BATCH) -> dict[str, str]:
    """Copy the workspace, record a first batch, add accounts; returns their tokens."""
    shutil.copytree(template, root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=batch)
        return {
            "ana": add_annotator(ws.ledger, "ana", admin=True),
            "bo": add_annotator(ws.ledger, "bo"),
        }


def _wait(driver, condition, timeout_s: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)


def _state(driver) -> tuple[str, str]:
    return driver.execute_script(
        "const s = document.getElementById('labeler');"
        "return s ? [s.dataset.state, document.getElementById('item').dataset.id] : ['', ''];"
    )


def _log_in(driver, url: str, token: str) -> str:
    """Open the login link; returns the first item's id once the label page shows it."""
    driver.get(f"{url}/login#token={token}")
    _wait(driver, lambda d: _state(d)[0] == "item")
    assert "token" not in driver.current_url
    return _state(driver)[1]


def _press(driver, key: str, shown: str) -> str:
    """Press ``key`` on the item ``shown``; returns the next state's item id ('' when none)."""
    driver.find_element("tag name", "body").send_keys(key)
    _wait(driver, lambda d: _state(d)[1] != shown)
    return _state(driver)[1]


@pytest.mark.parametrize("store", ["memory", "lite"])
def test_label_a_whole_batch_by_keyboard_and_get_the_next_round_without_reload(
    amazon_template, tmp_path, start_server, new_browser, store
):
    require_chromium()
    root = tmp_path / "ws"
    tokens = _prepare(amazon_template(store), root)
    server = start_server(root)
    driver = new_browser()
    shown = _log_in(driver, server.url, tokens["bo"])
    driver.execute_script("window.sameDocument = 'yes';")  # gone if the page reloads
    assert driver.find_element("id", "round").text == "Round 1"
    answered = []
    keys = ["1", "2", "a", "1", "2", "1"]
    for key in keys:
        answered.append((shown, key))
        shown = _press(driver, key, shown)
        if not shown:
            break
    assert len(answered) == FIRST_BATCH and shown == ""
    assert _state(driver)[0] == "waiting"
    # The batch is done: a round runs in the background and its batch appears in this page.
    _wait(driver, lambda d: _state(d)[0] == "item")
    assert driver.find_element("id", "round").text == "Round 2"
    assert driver.execute_script("return window.sameDocument") == "yes"
    assert driver.find_element("id", "predicted").text in ("negative", "positive")
    with Ledger(root / LEDGER_NAME) as ledger:
        events = [(e.item_id, e.kind, e.label, e.annotator) for e in ledger.history()]
    names = {"1": "negative", "2": "positive"}
    assert events == [
        (item, LABEL, names[k], "bo") if k != "a" else (item, "ambiguous", None, "bo")
        for item, k in answered
    ]


def test_two_annotators_get_disjoint_items(amazon_template, tmp_path, start_server, new_browser):
    require_chromium()
    root = tmp_path / "ws"
    tokens = _prepare(amazon_template("memory"), root, batch=10)
    server = start_server(root)
    ana, bo = new_browser(), new_browser()
    seen = {"ana": [_log_in(ana, server.url, tokens["ana"])]}
    seen["bo"] = [_log_in(bo, server.url, tokens["bo"])]
    for _ in range(3):
        for name, driver in (("ana", ana), ("bo", bo)):
            seen[name].append(_press(driver, "1", seen[name][-1]))
    assert not set(seen["ana"]) & set(seen["bo"]), seen
    assert len(set(seen["ana"])) == len(set(seen["bo"])) == 4


def test_requests_without_session_or_csrf_are_refused(
    amazon_template, tmp_path, start_server, new_browser
):
    require_chromium()
    root = tmp_path / "ws"
    tokens = _prepare(amazon_template("memory"), root)
    server = start_server(root)
    stranger, member = new_browser(), new_browser()
    shown = _log_in(member, server.url, tokens["bo"])
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
    shown = _log_in(driver, server.url, token)
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
        shown = _press(driver, "s", shown)
    # The search page renders the same texts as results, inert as well.
    driver.get(f"{server.url}/search")
    driver.find_element("id", "keyword").send_keys("pwned\n")
    _wait(driver, lambda d: len(d.find_elements("css selector", "#results li")) == 3)
    texts = [
        e.get_attribute("textContent") for e in driver.find_elements("css selector", ".review")
    ]
    assert sorted(texts) == sorted(HOSTILE[k] for k in ("x-script", "x-img", "x-link"))
    assert driver.execute_script("return window.pwned") is None and driver.title != "pwned"
