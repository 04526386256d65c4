"""Real-browser fixtures: headless Chromium (Debian's chromium + chromium-driver) via Selenium,
and ``textal serve`` in a real uvicorn process on a free loopback port."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.hardening import child_env, textal_command
from tests.realdata import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1200,900",
]


def require_chromium() -> None:
    """Skip without Chromium or Selenium, except in CI (env CI set), where that is a failure."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).exists()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the selenium package (pip install -e '.[test]')")
    if missing:
        reason = (
            f"browser tests need {', '.join(missing)} (apt-get install chromium chromium-driver)"
        )
        unavailable(reason)


class Server:
    """``textal serve --port 0`` in a child process; ``url`` is read from its first line."""

    def __init__(self, workspace: Path, timeout_s: float = 300):
        self.workspace = workspace
        self.proc = subprocess.Popen(
            textal_command("serve", "--workspace", workspace, "--port", "0"),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=child_env(),
        )
        first: list[str] = []
        reader = threading.Thread(target=lambda: first.append(self.proc.stdout.readline()))
        reader.start()
        reader.join(timeout_s)
        line = first[0] if first else ""
        if not line.startswith("textal serve: http://"):
            self.stop()
            raise AssertionError(f"serve did not start: {line!r}")
        self.url = line.split()[2]
        # Keep draining the pipe so the server never blocks on a full one.
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        self.proc.kill()
        self.proc.wait(30)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def start_server() -> Iterator[Callable[[Path], Server]]:
    servers: list[Server] = []

    def start(workspace: Path) -> Server:
        servers.append(Server(workspace))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def new_browser() -> Iterator[Callable[[], object]]:
    """A factory of headless Chromium drivers, each with its own profile (own cookies)."""
    require_chromium()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    drivers, profiles = [], []

    def make():
        profile = tempfile.mkdtemp(prefix="textal-chromium-")
        profiles.append(profile)
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in [*CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
        drivers.append(driver)
        return driver

    yield make
    for driver in drivers:
        driver.quit()
    for profile in profiles:
        shutil.rmtree(profile, ignore_errors=True)


# -- driving the label page ----------------------------------------------------------------

WAIT_S = 300  # a round trains AutoML on a loaded machine
FIRST_BATCH = 6


def prepare(template: Path, root: Path, *, batch: int = FIRST_BATCH) -> dict[str, str]:
    """Copy the workspace, record a first (cold-start) batch, add the accounts ``ana`` (admin)
    and ``bo``; returns their login tokens."""
    from textal.ledger.annotators import add_annotator
    from textal.workspace import Workspace

    shutil.copytree(template, root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=batch)
        return {
            "ana": add_annotator(ws.ledger, "ana", admin=True),
            "bo": add_annotator(ws.ledger, "bo"),
        }


def wait(driver, condition, timeout_s: float = WAIT_S):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(condition)


def page_state(driver) -> tuple[str, str]:
    """``(state, item id)`` of the label page: ``("item", id)`` or ``("waiting", "")``."""
    state, item_id = driver.execute_script(
        "const s = document.getElementById('labeler');"
        "return s ? [s.dataset.state, document.getElementById('item').dataset.id] : ['', ''];"
    )
    return state, item_id


def log_in(driver, url: str, token: str) -> str:
    """Open the login link; returns the first item's id once the label page shows it."""
    driver.get(f"{url}/login#token={token}")
    wait(driver, lambda d: page_state(d)[0] == "item")
    assert "token" not in driver.current_url
    return page_state(driver)[1]


def press(driver, key: str, shown: str) -> str:
    """Press ``key`` on the item ``shown``; returns the next state's item id ('' when none)."""
    driver.find_element("tag name", "body").send_keys(key)
    wait(driver, lambda d: page_state(d)[1] != shown)
    return page_state(driver)[1]


def text_of(driver, element_id: str) -> str:
    """An element's text as the page set it (``textContent``: hidden elements too)."""
    return driver.find_element("id", element_id).get_attribute("textContent")


def serve_prepared(
    template: Path, root: Path, start_server: Callable[[Path], Server], *, batch: int = FIRST_BATCH
) -> tuple[dict[str, str], Server]:
    """:func:`prepare` the workspace, then serve it; returns the tokens and the server."""
    tokens = prepare(template, root, batch=batch)
    return tokens, start_server(root)


def http_session(url: str, token: str, timeout_s: float = 120) -> httpx.Client:
    """An HTTP client logged in to ``textal serve`` at ``url`` with a login ``token``, carrying
    the session's CSRF token as the pages do."""
    client = httpx.Client(base_url=url, timeout=timeout_s)
    assert client.post("/login", json={"token": token}).status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/").text)
    assert csrf
    client.headers["X-CSRF-Token"] = csrf.group(1)
    return client
