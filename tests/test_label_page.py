"""The traps a person labeling met on the label page (issue 23), each in headless Chromium against
``textal serve`` in its own uvicorn process, on real amazon reviews and the real model: a skip
that stalled the loop, Enter answering an unread review, a progress count from process state,
no history of one's answers, and a "why" only engineers could read."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from tests.browser import (
    Server,
    http_session,
    log_in,
    page_state,
    press,
    serve_prepared,
    text_of,
    wait,
)
from textal.cli import main
from textal.ledger import LABEL, Ledger, NewLabel, Selection
from textal.ledger.records import ClassProbability, Neighbor, RoundParams, RoundReport
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow

SETTLE_S = 0.5  # time for a stray key's request to reach the ledger, had it been sent


@pytest.fixture
def served(amazon_template, tmp_path, start_server) -> tuple[Path, dict[str, str], Server]:
    """A served copy of the amazon workspace with a first batch of 6; tokens of ana and bo."""
    root = tmp_path / "ws"
    return (root, *serve_prepared(amazon_template("memory"), root, start_server))


def _events(root) -> list[tuple[str, str, str | None, str]]:
    with Ledger(root / LEDGER_NAME) as ledger:
        return [(e.item_id, e.kind, e.label, e.annotator) for e in ledger.history()]


def _click(driver, css: str) -> None:
    driver.find_element("css selector", css).click()


def test_a_skipped_review_comes_back_and_the_next_round_starts(
    amazon_template, tmp_path, start_server, new_browser
):
    """Alone, skip one review and label the rest: the skipped one comes back (it used to wait
    for an admin's "Start a round now" forever); once it is answered a round runs by itself,
    and the page says so instead of promising a batch."""
    root = tmp_path / "ws"
    tokens, server = serve_prepared(amazon_template("memory"), root, start_server, batch=3)
    driver = new_browser()
    skipped = log_in(driver, server.url, tokens["bo"])
    shown = press(driver, "s", skipped)
    skip_said = text_of(driver, "message")
    shown = press(driver, "1", shown)
    shown = press(driver, "1", shown)
    assert shown == skipped, "the skipped review comes back once nothing else is left"
    assert driver.find_element("id", "returned").is_displayed()
    assert "comes back to you" in skip_said
    assert text_of(driver, "progress") == "· 2/3 done · 2 by you"
    press(driver, "2", shown)
    assert page_state(driver)[0] == "waiting"
    assert driver.find_element("id", "labeler").get_attribute("data-wait") == "round"
    assert "being computed" in text_of(driver, "waiting")
    wait(driver, lambda d: page_state(d)[0] == "item")
    assert text_of(driver, "round") == "Round 2"
    assert [(e[0], e[1]) for e in _events(root)][-1] == (skipped, LABEL)


def test_the_page_never_promises_a_batch_nobody_computes(
    amazon_template, tmp_path, start_server, new_browser
):
    """With two answers asked per review, the first person to finish is told the batch waits
    for another annotator, not that a batch is coming; the second person's answers end it."""
    root = tmp_path / "ws"
    tokens, server = serve_prepared(amazon_template("memory"), root, start_server, batch=2)
    ana, bo = new_browser(), new_browser()
    shown = log_in(ana, server.url, tokens["ana"])
    saved = ana.execute_async_script(
        "const done = arguments[0];"
        "textal.post('/api/admin/settings', {overlap: 2, batch_size: 2}).then(done, done);"
    )
    assert saved == {"overlap": 2, "batch_size": 2}
    shown = press(ana, "1", shown)
    press(ana, "1", shown)
    waiting = text_of(ana, "waiting")
    assert "wait for another annotator" in waiting and "as soon as" not in waiting
    assert ana.find_element("id", "labeler").get_attribute("data-wait") == "others"
    first = log_in(bo, server.url, tokens["bo"])
    press(bo, "1", press(bo, "1", first))
    # Both answered both: the round starts by itself and both pages get its batch.
    for driver in (ana, bo):
        wait(driver, lambda d: text_of(d, "round") == "Round 2" and page_state(d)[0] == "item")


def test_enter_and_space_never_answer_a_review(served, new_browser):
    root, tokens, server = served
    driver = new_browser()
    from selenium.webdriver.common.keys import Keys

    first = log_in(driver, server.url, tokens["bo"])
    _click(driver, 'button.label[data-label="positive"]')
    wait(driver, lambda d: page_state(d)[1] not in ("", first))
    second = page_state(driver)[1]
    focused = driver.switch_to.active_element
    focused.send_keys(Keys.ENTER)
    focused.send_keys(Keys.SPACE)
    # A keyboard user who tabbed onto an answer button: Enter and Space do nothing there too.
    button = driver.find_element("css selector", 'button.label[data-label="negative"]')
    driver.execute_script("arguments[0].focus()", button)
    button.send_keys(Keys.ENTER)
    button.send_keys(Keys.SPACE)
    time.sleep(SETTLE_S)
    assert page_state(driver) == ("item", second)
    assert _events(root) == [(first, LABEL, "positive", "bo")]
    press(driver, "1", second)  # the documented key answers
    assert _events(root)[-1] == (second, LABEL, "negative", "bo")


def test_progress_comes_from_the_ledger_in_every_tab_and_after_undo(served, new_browser):
    _, tokens, server = served
    bo, ana = new_browser(), new_browser()
    shown = log_in(bo, server.url, tokens["bo"])
    assert _done(bo) == "0/6"
    shown = press(bo, "1", shown)
    answered = shown
    shown = press(bo, "2", shown)
    assert _done(bo) == "2/6"
    bo.refresh()
    wait(bo, lambda d: page_state(d)[0] == "item")
    assert page_state(bo)[1] == shown  # the lease is kept
    assert _done(bo) == "2/6"
    bo.switch_to.new_window("tab")
    bo.get(server.url)
    wait(bo, lambda d: page_state(d)[0] == "item")
    assert text_of(bo, "progress") == "· 2/6 done · 2 by you"
    log_in(ana, server.url, tokens["ana"])
    assert text_of(ana, "progress") == "· 2/6 done · 0 by you"
    press(bo, "u", shown)
    assert page_state(bo)[1] == answered
    assert text_of(bo, "progress") == "· 1/6 done · 1 by you"
    assert text_of(bo, "message").startswith("Undid: positive on “")


def _done(driver) -> str:
    """The "N/M" of the progress line ("" when it shows none)."""
    found = re.match(r"· (\d+/\d+) done", text_of(driver, "progress"))
    return found.group(1) if found else ""


def test_history_confirms_lists_and_changes_my_answers(served, new_browser):
    root, tokens, server = served
    driver = new_browser()
    shown = log_in(driver, server.url, tokens["bo"])
    assert text_of(driver, "history-empty") == "None yet." and not _history(driver)
    answered = []
    for key, saved in (("1", "negative"), ("2", "positive"), ("a", "ambiguous")):
        answered.append(shown)
        shown = press(driver, key, shown)
        assert text_of(driver, "message") == f"Saved: {saved}"
    expected = [
        (answered[2], "ambiguous"),
        (answered[1], "positive"),
        (answered[0], "negative"),
    ]
    assert _history(driver) == expected
    driver.refresh()  # the panel is read from the ledger
    wait(driver, lambda d: _history(d) == expected)
    # Change the oldest answer: a new label event, the old one stays in the ledger.
    _click(driver, f'#history li[data-id="{answered[0]}"] button[data-label="positive"]')
    wait(driver, lambda d: _history(d)[0] == (answered[0], "positive"))
    assert text_of(driver, "message").startswith("Changed: positive on “")
    assert page_state(driver) == ("item", shown)  # the review on screen is still open
    mine = [e for e in _events(root) if e[0] == answered[0]]
    assert mine == [(answered[0], LABEL, "negative", "bo"), (answered[0], LABEL, "positive", "bo")]


def _history(driver) -> list[tuple[str, str]]:
    """The history panel's ``(item id, answer)`` rows, top first."""
    rows = driver.execute_script(
        "return Array.from(document.querySelectorAll('#history-list li'))"
        ".map(li => [li.dataset.id, li.querySelector('.answer').textContent]);"
    )
    return [(item_id, answer) for item_id, answer in rows]


def test_why_is_said_in_words_with_the_numbers_behind_a_toggle(served, new_browser):
    root, tokens, server = served
    driver = new_browser()
    shown = log_in(driver, server.url, tokens["bo"])
    # The first batch asks for each label nobody has given by its name, then covers the range
    # of reviews (cold start): each a reason in words, and no empty "why" section.
    assert _reason(driver)[0] == "probe"
    assert re.search(r"reads like (negative|positive), a label nobody has", _reason(driver)[1])
    passed = {shown}
    while _reason(driver)[0] == "probe":
        shown = press(driver, "s", shown)
        passed.add(shown)
    assert _reason(driver)[0] == "cold-start"
    assert "cover the range of reviews" in _reason(driver)[1]
    assert not driver.find_element("id", "neighbours").is_displayed()
    assert driver.find_element("id", "numbers").get_attribute("open") is None
    assert not driver.find_element("id", "score").is_displayed()
    # A model's round, recorded beside the running server: a torn pick, an explored one (the
    # model is sure; no score) and one the density weighting chose.
    with Ledger(root / LEDGER_NAME) as ledger:
        ledger.add_labels([NewLabel(shown, "positive")], annotator="seed", source="test")
        picks = [s.item_id for s in ledger.selections(1) if s.item_id not in passed][:3]
        ledger.record_round(
            params=RoundParams("adaptive", 3),
            report=RoundReport(selected_by="adaptive", labeled=1, model="logreg"),
            last_seq=ledger.last_seq(),
            trained_on="test",
            selections=[
                _pick(1, picks[0], 0.1, (("positive", 0.55), ("negative", 0.45)), shown),
                _pick(2, picks[1], None, (("negative", 0.97), ("positive", 0.03)), shown),
                _pick(3, picks[2], 0.3, (("positive", 0.8), ("negative", 0.2)), shown),
            ],
        )
    expected = [
        ("torn", "The model is torn between positive (55%) and negative (45%)"),
        ("explored", "Picked to explore, not because the model is unsure (it says negative, 97%"),
        ("leans", "The model leans to positive (80%) over negative (20%), and many unlabeled"),
    ]
    shown = press(driver, "s", shown)  # the next item comes from the new round
    for pick, (kind, words) in zip(picks, expected, strict=True):
        assert shown == pick and text_of(driver, "round") == "Round 2"
        assert _reason(driver)[0] == kind and _reason(driver)[1].startswith(words)
        assert driver.find_element("id", "neighbours").is_displayed()
        assert text_of(driver, "why").startswith("positive: ")
        assert "similarity" not in text_of(driver, "why")  # numbers live behind the toggle
        if pick == picks[0]:
            _click(driver, "#numbers summary")
            assert driver.find_element("id", "score").text == "0.100"
            assert "similarity 0.80" in driver.find_element("id", "why-numbers").text
        if pick != picks[-1]:  # the last stays open: no round 3 to wait for at the end
            shown = press(driver, "1", shown)


def _reason(driver) -> tuple[str, str]:
    reason = driver.find_element("id", "reason")
    return reason.get_attribute("data-kind"), reason.text


def _pick(
    rank: int,
    item_id: str,
    score: float | None,
    top2: tuple[tuple[str, float], ...],
    neighbour: str,
) -> Selection:
    return Selection(
        rank,
        item_id,
        score,
        top2[0][0],
        top2=tuple(ClassProbability(label, p) for label, p in top2),
        why=(Neighbor(neighbour, "positive", 0.8),),
    )


def test_guidelines_set_on_the_dashboard_show_inert_on_the_label_page(served, new_browser):
    """From the admin's login to the annotator's ledger event: the instructions above the
    review, each description on its label's button, admin text inert like review text."""
    root, tokens, server = served
    ana, bo = new_browser(), new_browser()
    log_in(ana, server.url, tokens["ana"])
    ana.get(f"{server.url}/dashboard")
    instructions = (
        '<img src=x onerror="window.pwned=1"> Read the whole review.\nShipping is negative.'
    )
    ana.find_element("id", "guide-instructions").send_keys(instructions)
    ana.find_element("css selector", '.guide-label[data-label="positive"]').send_keys(
        "Would buy again <b>bold</b>"
    )
    _click(ana, "#guidelines-form button[type=submit]")
    wait(ana, lambda d: text_of(d, "admin-status").startswith("Guidelines saved"))
    shown = log_in(bo, server.url, tokens["bo"])
    assert text_of(bo, "instructions-text") == instructions
    button = bo.find_element("css selector", 'button.label[data-label="positive"]')
    description = button.find_element("css selector", ".description")
    assert description.get_attribute("textContent") == "Would buy again <b>bold</b>"
    assert button.get_attribute("title") == "Would buy again <b>bold</b>"
    assert not bo.find_elements("css selector", "main img, main b")
    assert bo.execute_script("return window.pwned") is None
    press(bo, "2", shown)
    assert _events(root) == [(shown, LABEL, "positive", "bo")]


def test_a_reviewer_resolves_a_disagreement_on_the_dashboard(served, new_browser, capsys):
    """From login to the resolution event: two answers differ, a reviewer (added from a shell
    while the server runs) picks the label on the dashboard, it becomes the current label and
    leaves the list of disagreements; an annotator gets no buttons, and the route refuses them."""
    root, tokens, server = served
    ana, bo = new_browser(), new_browser()
    item = log_in(ana, server.url, tokens["ana"])
    ana.execute_async_script(
        "const done = arguments[0];"
        "textal.post('/api/admin/settings', {overlap: 2, batch_size: 6}).then(done, done);"
    )
    assert log_in(bo, server.url, tokens["bo"]) == item  # two answers asked per item
    press(ana, "1", item)
    press(bo, "2", item)
    assert main(["annotators", "add", "cy", "--role", "reviewer", "--workspace", str(root)]) == 0
    found = re.search(r"#token=(\S+)", capsys.readouterr().out)
    assert found
    cy = new_browser()
    log_in(cy, server.url, found.group(1))
    bo.get(f"{server.url}/dashboard")
    wait(bo, lambda d: d.find_elements("css selector", f'#disagreements tr[data-id="{item}"]'))
    assert not bo.find_elements("css selector", "#disagreements button")
    refused = http_session(server.url, tokens["bo"]).post(
        "/api/resolve", json={"id": item, "label": "negative"}
    )
    assert refused.status_code == 403
    cy.get(f"{server.url}/dashboard")
    resolve = f'#disagreements tr[data-id="{item}"] button[data-label="positive"]'
    wait(cy, lambda d: d.find_elements("css selector", resolve))
    _click(cy, resolve)
    wait(cy, lambda d: text_of(d, "resolved") == "1 resolved so far.")
    assert not cy.find_elements("css selector", f'#disagreements tr[data-id="{item}"]')
    with Ledger(root / LEDGER_NAME) as ledger:
        last = ledger.history(item)[-1]
        assert (last.kind, last.label, last.annotator, last.source) == (
            LABEL,
            "positive",
            "cy",
            "resolution",
        )
        assert ledger.current_labels()[item] == "positive"
