"""Take the README's screenshots of the label page, dashboard, suspects review and search
(docs/web-*.png).

Builds a workspace from amazon.csv, serves it, labels three rounds with the gold labels over HTTP
(two annotators, a few items labeled by both), then photographs the pages in headless Chromium.

    python scripts/web_screenshots.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.browser import CHROMEDRIVER, CHROMIUM, CHROMIUM_FLAGS  # noqa: E402
from textal.ledger.annotators import add_annotator  # noqa: E402
from textal.workspace import Workspace  # noqa: E402

SHOTS = ("label", "dashboard", "review", "search")
DATA = REPO.parent / "shared" / "data" / "uci_sentiment_labelled" / "amazon.csv"


def _client(url: str, token: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=120)
    client.post("/login", json={"token": token}).raise_for_status()
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert csrf
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "ws"
        with Workspace.open(root, store_uri="memory", labels=["negative", "positive"]) as ws:
            ws.ingest(DATA, label_column="label")
            gold = {
                item.id: item.metadata["gold"]
                for chunk in ws.store.iterate()
                for item in ws.store.get(chunk.ids)
            }
            ws.round(batch_size=20)
            tokens = {"ana": add_annotator(ws.ledger, "ana", admin=True)}
            tokens["bo"] = add_annotator(ws.ledger, "bo")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "textal", "serve", "--workspace", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        try:
            url = proc.stdout.readline().split()[2]
            ana, bo = _client(url, tokens["ana"]), _client(url, tokens["bo"])
            ana.post("/api/admin/settings", json={"overlap": 2, "batch_size": 20})
            guidelines = {
                "instructions": "Label the customer's opinion of the product, not of the "
                "delivery. Mixed reviews: the overall verdict; no verdict: ambiguous.",
                "labels": {
                    "negative": "unhappy, would not buy again",
                    "positive": "satisfied, would recommend",
                },
            }
            ana.post("/api/admin/guidelines", json=guidelines).raise_for_status()
            for n in range(args.rounds):
                rounds = len(ana.get("/api/dashboard").json()["rounds"])
                for client, name in ((ana, "ana"), (bo, "bo")):
                    state = client.post("/api/next", json={}).json()
                    while state["item"] is not None:
                        item = state["item"]["id"]
                        label = gold[item]
                        if name == "bo" and n == 0 and item.endswith(("0", "1", "2")):
                            label = "positive" if label == "negative" else "negative"
                        state = client.post("/api/label", json={"id": item, "label": label})
                        state = state.json()
                if n == 0:
                    ana.post("/api/admin/settings", json={"overlap": 1, "batch_size": 20})
                while len(ana.get("/api/dashboard").json()["rounds"]) == rounds:
                    time.sleep(1)
            options = webdriver.ChromeOptions()
            options.binary_location = CHROMIUM
            for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={tmp}/profile"]:
                options.add_argument(flag)
            driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
            try:
                driver.set_window_size(1200, 800)
                driver.get(f"{url}/login#token={tokens['bo']}")
                while (
                    driver.execute_script(
                        "const s = document.getElementById('labeler'); return s && s.dataset.state"
                    )
                    != "item"
                ):
                    time.sleep(0.2)
                args.out.mkdir(parents=True, exist_ok=True)
                driver.save_screenshot(str(args.out / "web-label.png"))
                driver.delete_all_cookies()
                driver.get(f"{url}/login#token={tokens['ana']}")
                time.sleep(2)
                driver.set_window_size(1200, 2900)
                driver.get(f"{url}/dashboard")
                time.sleep(3)
                driver.save_screenshot(str(args.out / "web-dashboard.png"))
                driver.set_window_size(1200, 1300)
                driver.get(f"{url}/review")
                while "Finding" in driver.find_element("id", "review-status").text:
                    time.sleep(0.5)
                driver.save_screenshot(str(args.out / "web-review.png"))
                driver.get(f"{url}/search")
                driver.find_element("id", "keyword").send_keys("battery")
                driver.find_element("css selector", "#status option[value='unlabeled']").click()
                driver.find_element("css selector", "#keyword-form button").click()
                while not driver.find_elements("css selector", "#results .pick"):
                    time.sleep(0.2)
                for box in driver.find_elements("css selector", "#results .pick")[:2]:
                    box.click()
                driver.save_screenshot(str(args.out / "web-search.png"))
            finally:
                driver.quit()
        finally:
            proc.terminate()
            proc.wait(60)
    names = ", ".join(str(args.out / f"web-{page}.png") for page in SHOTS)
    print(f"wrote {names}")


if __name__ == "__main__":
    main()
