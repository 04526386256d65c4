"""The multi-label label page (issue 26) in headless Chromium against ``textal serve``, on real
SemEval-2014 restaurant reviews and the real model: number keys toggle labels (shown pressed),
Enter submits the set, ``0`` is "none of these" (an answer, not ambiguous or a skip), and the
why names the labels the model is unsure about and shows each label's probability."""

from __future__ import annotations

import csv

import pytest

from tests.browser import log_in, page_state, text_of, wait
from tests.realdata import DATA_DIR, require_data
from textal.ledger import AMBIGUOUS, LABEL, Ledger, Selection
from textal.ledger.annotators import add_annotator
from textal.ledger.records import ClassProbability, RoundParams, RoundReport
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # a real server, the real model and Chromium

SEMEVAL = DATA_DIR / "semeval2014_restaurant_aspects" / "test.csv"
ASPECTS = ["food", "service", "price", "ambience", "anecdotes/miscellaneous"]
REVIEWS = 40


def _pick(rank: int, item_id: str, predicted: str, probabilities: list[float]) -> Selection:
    return Selection(
        rank,
        item_id,
        0.5,
        predicted,
        probabilities=tuple(
            ClassProbability(n, p) for n, p in zip(ASPECTS, probabilities, strict=True)
        ),
    )


def _pressed(driver) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#choices button.label'))"
        ".filter(b => b.getAttribute('aria-pressed') === 'true').map(b => b.dataset.label);"
    )


def _key(driver, key: str) -> None:
    driver.find_element("tag name", "body").send_keys(key)


def test_keys_toggle_labels_enter_submits_and_zero_is_none_of_these(
    tmp_path, start_server, new_browser
):
    from selenium.webdriver.common.keys import Keys

    require_data(SEMEVAL)
    with open(SEMEVAL, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))[:REVIEWS]
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "text"])
        writer.writerows((f"r{k}", row["text"]) for k, row in enumerate(rows))
    root = tmp_path / "ws"
    with Workspace.open(root, store_uri="memory", labels=ASPECTS, multi_label=True) as ws:
        ws.ingest(data, id_column="id")
        token = add_annotator(ws.ledger, "ana")
        # A model's round over three reviews, as a multi-label round records it.
        ws.ledger.record_round(
            params=RoundParams("adaptive", 3),
            report=RoundReport(selected_by="adaptive", labeled=20, model="ovr-logreg"),
            last_seq=ws.ledger.last_seq(),
            trained_on="test",
            selections=[
                _pick(1, "r0", "food", [0.62, 0.45, 0.10, 0.05, 0.20]),
                _pick(2, "r1", "service", [0.02, 0.97, 0.01, 0.03, 0.04]),
                _pick(3, "r2", "", [0.30, 0.20, 0.10, 0.40, 0.30]),
            ],
        )
    server = start_server(root)
    driver = new_browser()
    first = log_in(driver, server.url, token)
    assert first == "r0" and text_of(driver, "text") == rows[0]["text"]
    # The why in words: the labels nearest 50% first; each label's probability beside it.
    assert text_of(driver, "reason") == (
        "The model is unsure whether this review is about service (45%) or food (62%): "
        "your answer settles it."
    )
    shown = driver.execute_script(
        "return Array.from(document.querySelectorAll('#label-probabilities li'))"
        ".map(li => li.textContent);"
    )
    assert shown == ["food 62%", "service 45%", "price 10%", "ambience 5%",
                     "anecdotes/miscellaneous 20%"]  # fmt: skip
    # Toggles: shown pressed, off again with the same key; nothing is sent until Enter.
    for key in "132":
        _key(driver, key)
    wait(driver, lambda d: _pressed(d) == ["food", "service", "price"])
    _key(driver, "3")
    wait(driver, lambda d: _pressed(d) == ["food", "service"])
    assert page_state(driver) == ("item", "r0")
    _key(driver, Keys.ENTER)
    wait(driver, lambda d: page_state(d)[1] == "r1")
    assert _pressed(driver) == []  # a new review starts with every label off
    assert text_of(driver, "message") == "Saved: food + service"
    assert "The model says service" in text_of(driver, "reason")
    # Enter with no label on submits nothing; 0 answers "none of these".
    _key(driver, Keys.ENTER)
    wait(driver, lambda d: "press 0 for none of these" in text_of(d, "message"))
    assert page_state(driver) == ("item", "r1")
    _key(driver, "0")
    wait(driver, lambda d: page_state(d)[1] == "r2")
    assert text_of(driver, "message") == "Saved: none of these"
    _key(driver, "a")
    wait(driver, lambda d: page_state(d)[1] != "r2")  # the batch is done
    history = driver.execute_script(
        "return Array.from(document.querySelectorAll('#history-list .answer'), a => a.textContent)"
    )
    assert history == ["ambiguous", "none of these", "food + service"]
    server.stop()
    with Ledger(root / LEDGER_NAME) as ledger:
        events = [(e.item_id, e.kind, e.label, e.annotator) for e in ledger.history()]
    assert events == [
        ("r0", LABEL, "food;service", "ana"),
        ("r1", LABEL, "", "ana"),
        ("r2", AMBIGUOUS, None, "ana"),
    ]
