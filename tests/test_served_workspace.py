"""A served workspace never loses an acknowledged label (issue 21), through real processes.

``textal serve`` labels with two ledger connections in its process (the request thread's and the
background round's); ``textal annotators`` in other processes add and remove accounts meanwhile;
then the server is killed with SIGKILL. Before the fix, opening the second connection read the
ledger's header with ``open()`` and closed it, which dropped every POSIX lock SQLite held in the
server: a CLI process then believed it was alone, checkpointed and deleted the write-ahead log,
and the server went on committing into the deleted file (9 of 15 labels lost on SIGKILL).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.browser import http_session
from tests.hardening import child_env, textal_command
from textal.ledger import LABEL, Ledger, NewLabel
from textal.ledger.annotators import add_annotator, list_annotators
from textal.web.app import LOGIN_CHECK_SECONDS, LOGIN_FAILURES_PER_MINUTE
from textal.workspace import Workspace
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # real server and CLI processes, a round on real embeddings


def _cli(*argv: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        textal_command(*argv), capture_output=True, text=True, env=child_env(), timeout=300
    )


def _label(client: httpx.Client, n: int, acknowledged: list[tuple[str, str]]) -> None:
    """Answer ``n`` leased items, waiting for a batch when there is none yet."""
    deadline = time.monotonic() + 300
    state = client.post("/api/next", json={}).json()
    while n:
        if state["item"] is None:
            assert time.monotonic() < deadline, f"no item to label: {state}"
            time.sleep(0.3)
            state = client.post("/api/next", json={}).json()
            continue
        item = state["item"]["id"]
        label = "positive" if len(acknowledged) % 2 else "negative"
        response = client.post("/api/label", json={"id": item, "label": label})
        assert response.status_code == 200, response.text
        acknowledged.append((item, label))  # the server answered: committed
        state = response.json()
        n -= 1


def _wait_for_rounds(client: httpx.Client, count: int) -> None:
    deadline = time.monotonic() + 300
    while True:
        board = client.get("/api/dashboard").json()
        if len(board["rounds"]) >= count and not board["round_running"]:
            return
        assert time.monotonic() < deadline, f"round {count} did not finish: {board}"
        time.sleep(0.3)


def _wal_of(pid: int, ledger: Path) -> list[str]:
    """The server's open descriptors of the ledger's write-ahead log, as ``/proc`` names them."""
    names = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if target.startswith(f"{ledger}-wal"):
            names.append(target)
    return names


def test_cli_commands_while_serving_then_kill_9_lose_nothing(
    amazon_template, tmp_path, start_server
):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Workspace.open(root) as ws:
        ws.round(batch_size=6)
        ana = add_annotator(ws.ledger, "ana", admin=True)
        bo = add_annotator(ws.ledger, "bo")
        cy = add_annotator(ws.ledger, "cy")
    server = start_server(root)
    ledger_path = root / LEDGER_NAME
    client, bo_client, cy_client = (http_session(server.url, t) for t in (ana, bo, cy))
    acknowledged: list[tuple[str, str]] = []

    _label(client, 6, acknowledged)  # the batch is done: a background round starts,
    _wait_for_rounds(client, 2)  # with its own ledger connection in the server's process
    listed = _cli("annotators", "--workspace", root, "list")
    assert listed.returncode == 0 and "ana" in listed.stdout, listed.stderr
    _label(client, 6, acknowledged)
    added = _cli("annotators", "--workspace", root, "add", "dan")
    assert added.returncode == 0, added.stderr
    removed = _cli("annotators", "--workspace", root, "remove", "bo")
    assert removed.returncode == 0, removed.stderr
    # Token re-issued for cy (the README's rotation): remove and add again.
    assert _cli("annotators", "--workspace", root, "remove", "cy").returncode == 0
    assert _cli("annotators", "--workspace", root, "add", "cy").returncode == 0
    status = _cli("status", "--workspace", root)  # through the server's API
    assert status.returncode == 0 and "labeled     12" in status.stdout, status.stderr
    _label(client, 3, acknowledged)

    # The CLI's account changes reached the server at once: bo's and the old cy's sessions end.
    assert bo_client.get("/api/dashboard").status_code == 401
    assert cy_client.get("/api/dashboard").status_code == 401
    # The server still commits into the live log, not into a deleted one.
    assert not [name for name in _wal_of(server.proc.pid, ledger_path) if "(deleted)" in name]

    server.kill()
    with Ledger(ledger_path) as ledger:
        events = Counter((e.item_id, e.label) for e in ledger.history() if e.kind == LABEL)
        accounts = {person.name for person in list_annotators(ledger)}
    assert len(acknowledged) == 15
    assert all(events[answer] == 1 for answer in acknowledged), (acknowledged, events)
    assert sum(events.values()) == len(acknowledged)
    assert accounts == {"ana", "cy", "dan"}


def test_a_second_connection_in_one_process_keeps_the_first_ones_locks(tmp_path):
    """The cause in isolation: two ledgers open in this process, a third opened and closed in
    another process must find the write-ahead log in use, so labels written afterwards by this
    process are seen by every later reader."""
    path = tmp_path / LEDGER_NAME
    first = Ledger(path)
    try:
        first.add_labels([NewLabel("a", "x")], annotator="ana", source="test")
        Ledger(path).close()  # a second connection, opened and closed in this process
        probe = "from textal.ledger import Ledger; import sys; Ledger(sys.argv[1]).close()"
        subprocess.run([sys.executable, "-c", probe, str(path)], check=True, env=child_env())
        assert Path(f"{path}-wal").exists(), "another process deleted the log this one uses"
        first.add_labels([NewLabel("b", "y")], annotator="ana", source="test")
        read = (
            "import sys; from textal.ledger import Ledger;"
            " print(*Ledger(sys.argv[1]).current_labels())"
        )
        seen = subprocess.run(
            [sys.executable, "-c", read, str(path)],
            check=True, capture_output=True, text=True, env=child_env(),
        )  # fmt: skip
        assert seen.stdout.split() == ["a", "b"]
    finally:
        first.close()


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def _raw_post(url: str, head: str, body: Iterator[bytes]) -> str:
    """POST with a hand-written head, sending ``body`` until the server answers; the status
    line it answered with."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(head.encode("ascii") + b"\r\n")
        sock.settimeout(0.05)
        answer = b""
        for chunk in body:
            try:
                sock.sendall(chunk)
            except OSError:
                break  # the server closed: it answered without reading the rest
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
            if answer:
                break
        sock.settimeout(60)
        while b"\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    return answer.split(b"\r\n", 1)[0].decode("ascii", "replace")


def test_headers_and_huge_bodies_cannot_get_around_the_server_limits(
    amazon_template, tmp_path, start_server
):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    server = start_server(root)
    before = _rss_kb(server.proc.pid)
    megabyte = b"x" * (1 << 20)
    declared = "POST /login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    status = _raw_post(
        server.url, declared + "Content-Length: 400000000\r\n", iter([megabyte] * 400)
    )
    assert " 413 " in status, status
    chunked = declared + "Transfer-Encoding: chunked\r\n"
    frames = (b"%x\r\n%s\r\n" % (len(megabyte), megabyte) for _ in range(400))
    status = _raw_post(server.url, chunked, frames)
    assert " 413 " in status, status
    assert _rss_kb(server.proc.pid) - before < 50_000  # it read at most a little past the cap

    answers: Counter[int] = Counter()
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=60) as client:
        for k in range(300):
            forged = f"10.9.{k // 250}.{k % 250}"
            headers = {"X-Forwarded-For": forged, "X-Real-IP": forged, "Forwarded": f"for={forged}"}
            answers[
                client.post("/login", json={"token": f"guess-{k}"}, headers=headers).status_code
            ] += 1
    elapsed = time.monotonic() - started
    assert set(answers) <= {401, 429}
    assert answers[401] <= LOGIN_FAILURES_PER_MINUTE + elapsed / LOGIN_CHECK_SECONDS + 1, answers

    with httpx.Client(base_url=server.url, timeout=60) as client:
        assert client.get("/health").text == "ok"
