"""What ``textal serve`` prints for a newcomer (issue 23): how to log in, and Ctrl-C as the
ordinary way to stop (exit 0, one line), in a real server process."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time

import httpx
import pytest

from tests.hardening import child_env, textal_command
from textal.ledger import Ledger
from textal.ledger.annotators import add_annotator
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # a real server process opens the workspace and its model


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=5).text == "ok"
    except httpx.TransportError:
        return False


@pytest.mark.parametrize("accounts", [0, 1, 2])
def test_serve_says_how_to_log_in_and_stops_on_ctrl_c(amazon_template, tmp_path, accounts):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Ledger(root / LEDGER_NAME) as ledger:
        for name in ["ana", "bo"][:accounts]:
            add_annotator(ledger, name)
    proc = subprocess.Popen(
        textal_command("serve", "--workspace", root, "--port", "0"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=child_env(),
    )
    lines = [proc.stdout.readline() for _ in range(2 if accounts == 0 else 3)]
    assert lines[0].startswith("textal serve: http://127.0.0.1:")
    url = lines[0].split()[2]
    deadline = time.monotonic() + 60
    while not _answers(url):  # Ctrl-C once it serves, as a person would
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, "")
    assert out == "textal serve: stopped; every acknowledged answer is in the ledger\n"
    where = f" --workspace {root}"
    if accounts == 0:
        assert lines[1] == (
            f"no accounts yet: `textal annotators add NAME --admin{where}` prints a login link\n"
        )
        return
    people = "1 account" if accounts == 1 else "2 accounts"
    assert lines[1].startswith(f"{people}: log in with the link `textal annotators add` printed")
    assert "only a hash of its token is kept" in lines[1]
    assert lines[2] == (
        f"lost a link? `textal annotators remove NAME{where}`, then "
        f"`textal annotators add NAME [--admin]{where}` prints a new one\n"
    )
