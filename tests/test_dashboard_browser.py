"""Issue 22 in a real browser: an admin uploads new reviews from the dashboard and watches them
stored; a bad file gets the same one-line error as ``textal ingest`` and stores nothing."""

from __future__ import annotations

import csv
import shutil

import pytest

from tests.browser import http_session
from tests.hardening import YELP
from textal.ledger.annotators import add_annotator
from textal.workspace import Workspace

pytestmark = pytest.mark.slow  # a real server and Chromium

WAIT_S = 300


def _wait(driver, condition, timeout_s: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.2).until(condition)


def test_an_admin_uploads_reviews_from_the_dashboard(
    amazon_template, tmp_path, start_server, new_browser
):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=5)
        token = add_annotator(ws.ledger, "ana", admin=True)
        before = ws.store.count()
    with open(YELP, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:25]
    good = tmp_path / "today.csv"
    with open(good, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows([(f"today-{k}", row["text"]) for k, row in enumerate(rows)])
    bad = tmp_path / "bad.csv"
    bad.write_text("id,body\nx-1,no text column here\n", encoding="utf-8")

    server = start_server(root)
    driver = new_browser()
    driver.get(f"{server.url}/login#token={token}")
    _wait(driver, lambda d: "/login" not in d.current_url)
    driver.get(f"{server.url}/dashboard")
    state = lambda d: d.find_element("id", "upload-state").text  # noqa: E731

    chooser = driver.find_element("id", "upload-file")
    chooser.send_keys(str(bad))
    driver.find_element("css selector", "#upload-form button").click()
    _wait(driver, lambda d: state(d).startswith("bad.csv:"))
    assert "text" in state(driver) and "column" in state(driver), state(driver)

    chooser.send_keys(str(good))
    driver.find_element("css selector", "#upload-form button").click()
    _wait(driver, lambda d: "added" in state(d))
    assert state(driver) == "today.csv: 25 added, 0 already stored."
    server.kill()
    with Workspace.open(root, create=False) as ws:
        assert ws.store.count() == before + 25
        assert len(ws.store.existing_ids([f"today-{k}" for k in range(25)])) == 25
        assert not ws.store.existing_ids(["x-1"])


def test_the_leads_figures_from_two_annotators(
    amazon_template, tmp_path, start_server, new_browser
):
    """Two people answer the same six reviews (overlap 2) over HTTP, then the lead reads the
    dashboard: answers per person and per day, their agreement, what is left, the verdict."""
    empty = tmp_path / "empty"
    with Workspace.open(empty, store_uri="memory", labels=["negative", "positive"]) as ws:
        token = add_annotator(ws.ledger, "lead", admin=True)
    server = start_server(empty)
    driver = new_browser()
    driver.get(f"{server.url}/login#token={token}")
    _wait(driver, lambda d: "/login" not in d.current_url)
    driver.get(f"{server.url}/dashboard")
    _wait(driver, lambda d: d.find_element("id", "empty-state").is_displayed())
    assert "No reviews stored yet" in driver.find_element("id", "empty-state").text
    server.stop()

    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=6)
        token = add_annotator(ws.ledger, "lead", admin=True)
        tokens = {name: add_annotator(ws.ledger, name) for name in ("ana", "bo")}
        stored = ws.store.count()
    server = start_server(root)
    lead = http_session(server.url, token)
    settings = {"overlap": 2, "batch_size": 6, "goal_total": 20, "goal_per_class": 4}
    assert lead.post("/api/admin/settings", json=settings).is_success
    for annotator in tokens.values():
        client = http_session(server.url, annotator)
        state = client.post("/api/next", json={}).json()
        for _ in range(6):
            state = client.post(
                "/api/label", json={"id": state["item"]["id"], "label": "positive"}
            ).json()
    driver.get(f"{server.url}/login#token={token}")  # the label page leases the lead a review
    _wait(driver, lambda d: "/login" not in d.current_url)
    driver.get(f"{server.url}/dashboard")
    _wait(driver, lambda d: len(d.find_elements("css selector", "#team tbody tr")) == 2)
    team = [
        [td.text for td in tr.find_elements("tag name", "td")]
        for tr in driver.find_elements("css selector", "#team tbody tr")
    ]
    assert [(r[0], r[1], r[2], r[5]) for r in team] == [
        ("ana", "6", "6", "100% of 6"),
        ("bo", "6", "6", "100% of 6"),
    ]
    today = driver.find_elements("css selector", "#days tbody tr")[-1]
    assert [td.text for td in today.find_elements("tag name", "td")][1:] == ["6", "6", "12"]
    left = driver.find_element("id", "left-list").text
    assert f"{stored - 6} of {stored} stored reviews have no answer yet" in left
    assert "0 disagreements to resolve" in left
    # The finished batch started round 2 by itself; its six reviews are what is left.
    _wait(
        driver,
        lambda d: "6 reviews of round 2 still open" in d.find_element("id", "left-list").text,
    )
    assert driver.find_element("id", "goal-text").text == "Goal: 6 of 20 labels (30%)"
    classes = driver.find_element("id", "goal-classes").text.splitlines()
    assert classes == ["negative: 0 of 4", "positive: 6 of 4 (reached)"]
    assert driver.find_element("id", "verdict").text == "still changing"
    assert driver.find_elements("css selector", "#chart line.threshold")
    assert not driver.find_element("id", "empty-state").is_displayed()
