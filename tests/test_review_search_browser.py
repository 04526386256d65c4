"""Issue 23 in headless Chromium, from login to the ledger event: a reviewer works through the
suspects queue (keeping one label, correcting another), and an admin searches with filters and
pages and labels selected results in bulk, all through the one label-write path."""

from __future__ import annotations

import shutil

import pytest

from tests.browser import http_session, text_of, wait
from tests.test_suspects import label_with_noise
from textal.ledger import LABEL, Ledger
from textal.ledger.annotators import add_annotator
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # a real server, Chromium and cross-validated suspects


def _events_by(root, name: str) -> list[tuple[str, str, str | None, str]]:
    with Ledger(root / LEDGER_NAME) as ledger:
        return [
            (e.item_id, e.kind, e.label, e.source) for e in ledger.history() if e.annotator == name
        ]


def _log_in(driver, url: str, token: str, page: str) -> None:
    driver.get(f"{url}/login#token={token}")
    wait(driver, lambda d: "/login" not in d.current_url)
    driver.get(f"{url}{page}")


def _key(driver, key: str) -> None:
    driver.find_element("tag name", "body").send_keys(key)


def test_a_reviewer_keeps_one_suspect_and_corrects_another(
    amazon_template, tmp_path, start_server, new_browser
):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        label_with_noise(ws, n=200, flips=10)
        reviewer = add_annotator(ws.ledger, "rev", role="reviewer")
        annotator = add_annotator(ws.ledger, "bo")
    server = start_server(root)
    assert http_session(server.url, annotator).get("/review").status_code == 403
    driver = new_browser()
    _log_in(driver, server.url, reviewer, "/review")
    wait(driver, lambda d: d.find_elements("css selector", "#suspects > li"))
    rows = driver.find_elements("css selector", "#suspects > li")
    assert "suspects, most likely wrong first" in text_of(driver, "review-status")
    first, second = rows[0], rows[1]
    given = first.find_element("css selector", ".given").text
    suggested = first.find_element("css selector", ".suggested").text
    assert given != suggested and first.find_element("css selector", ".review").text
    _key(driver, "c")  # the first row is current: take its suggestion
    wait(driver, lambda d: first.get_attribute("data-done") == "corrected")
    assert "current" in second.get_attribute("class")
    kept = second.find_element("css selector", ".given").text
    _key(driver, "y")  # keep the second one's label: a confirmation
    wait(driver, lambda d: second.get_attribute("data-done") == "kept")
    assert (
        second.find_element("css selector", ".outcome").text == f"Kept {kept} (your confirmation)"
    )
    server.stop()
    assert _events_by(root, "rev") == [
        (first.get_attribute("data-id"), LABEL, suggested, "web"),
        (second.get_attribute("data-id"), LABEL, kept, "web"),
    ]


def test_search_filters_pages_and_bulk_labels(amazon_template, tmp_path, start_server, new_browser):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        gold = {}
        for chunk in ws.store.iterate(with_metadata=True):
            gold.update((i, m["gold"]) for i, m in zip(chunk.ids, chunk.metadata, strict=True))
        token = add_annotator(ws.ledger, "ana", admin=True)
    server = start_server(root)
    driver = new_browser()
    _log_in(driver, server.url, token, "/search")

    def results() -> list[str]:  # read at once: the list is replaced when a page arrives
        return driver.execute_script(
            "return Array.from(document.querySelectorAll('#results > li'), li => li.dataset.id)"
        )

    driver.find_element("id", "keyword").send_keys("the")
    driver.find_element("id", "filter").send_keys('gold == "negative"')
    driver.find_element("css selector", "#status option[value='unlabeled']").click()
    driver.find_element("css selector", "#keyword-form button").click()
    wait(driver, lambda d: len(results()) == 50)
    first_page = results()
    assert {gold[i] for i in first_page} == {"negative"}
    # Select three results with the keyboard and label them in one go.
    for key in ["x", "j", "x", "j", "x"]:
        _key(driver, key)
    assert text_of(driver, "selected-count") == "3 selected"
    _key(driver, "1")  # the first label: negative
    wait(driver, lambda d: "3 reviews" in text_of(d, "search-status"))
    assert text_of(driver, "search-status") == "Labeled negative: 3 reviews"
    assert driver.find_element("id", "next-page").is_displayed()
    _key(driver, "n")
    wait(driver, lambda d: results() and results()[0] not in first_page)
    assert not set(first_page) & set(results()) and text_of(driver, "page") == "page 2"
    # Labeled items leave an "unlabeled only" search.
    driver.find_element("css selector", "#keyword-form button").click()
    wait(driver, lambda d: results() and results()[0] == first_page[3])
    assert results()[:47] == first_page[3:]
    server.stop()
    assert _events_by(root, "ana") == [(i, LABEL, "negative", "web") for i in first_page[:3]]
