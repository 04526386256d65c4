"""The web app's routes through Starlette's TestClient, on a real workspace (amazon reviews, the
real model, the memory store): sessions, CSRF, roles per route, login rate limit, headers, leases,
ledger events, and the CLI around ``serve`` (accounts, the holder file)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("starlette", reason="the web app needs starlette (pip install -e '.[test]')")
pytest.importorskip("httpx", reason="Starlette's TestClient needs httpx")

from starlette.testclient import TestClient

from tests.hardening import mounted, run_cli
from textal.ledger import LABEL, UNLABEL, Ledger
from textal.ledger.annotators import add_annotator, list_annotators, remove_annotator
from textal.web.app import (
    LOGIN_CHECK_SECONDS,
    LOGIN_FAILURES_PER_MINUTE,
    MAX_BODY_BYTES,
    LoginLimiter,
    create_app,
)
from textal.web.service import LabelService
from textal.workspace.holder import HOLDER_NAME
from textal.workspace.workspace import LEDGER_NAME

pytestmark = pytest.mark.slow  # the first round trains on the real embeddings

ADMIN_POSTS = [
    "/api/admin/round",
    "/api/admin/settings",
    "/api/admin/annotators",
    "/api/admin/annotators/remove",
]
SESSION_POSTS = ["/api/next", "/api/label", "/api/skip", "/api/undo", "/api/similar", "/logout"]
SESSION_GETS = [
    "/api/dashboard",
    "/api/search?q=good",
    "/admin/export.csv",
    "/api/v1/status",
    "/api/v1/rounds",
    "/api/v1/openapi.json",
]
PAGES = ["/", "/dashboard", "/search"]


@pytest.fixture
def served(amazon_template, tmp_path) -> Iterator[tuple[LabelService, dict[str, str]]]:
    """A service over a copy of the amazon workspace (memory store) and three accounts."""
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    with Ledger(root / LEDGER_NAME) as ledger:
        tokens = {
            "ana": add_annotator(ledger, "ana", admin=True),
            "bo": add_annotator(ledger, "bo"),
            "cy": add_annotator(ledger, "cy"),
        }
    service = LabelService(root)
    try:
        yield service, tokens
    finally:
        service.close()


def _client(service: LabelService) -> TestClient:
    app = create_app(service, "k" * 64, url="http://127.0.0.1:8000")
    return TestClient(app, base_url="http://127.0.0.1:8000")


def _login(client: TestClient, token: str) -> dict[str, str]:
    """Log in; returns the CSRF header the pages carry."""
    assert client.post("/login", json={"token": token}).status_code == 200
    page = client.get("/")
    assert page.status_code == 200
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page.text)
    assert csrf
    return {"X-CSRF-Token": csrf.group(1)}


def _next_item(client: TestClient, csrf: dict[str, str], timeout_s: float = 300) -> dict:
    """Poll until an item is leased (the first round runs in the background)."""
    deadline = time.monotonic() + timeout_s
    while True:
        state = client.post("/api/next", json={}, headers=csrf).json()
        if state["item"] is not None:
            return state
        assert time.monotonic() < deadline, f"no item within {timeout_s}s: {state}"
        time.sleep(0.5)


def test_without_a_session_every_route_but_login_and_health_is_refused(served):
    service, _ = served
    client = _client(service)
    assert client.get("/health").text == "ok"
    assert client.get("/login").status_code == 200
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/login", path
    for path in SESSION_GETS:
        assert client.get(path).status_code == 401, path
    for path in SESSION_POSTS + ADMIN_POSTS:
        assert client.post(path, json={}).status_code == 401, path


def test_posts_need_the_sessions_csrf_token_and_json(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["ana"])
    item = _next_item(client, csrf)["item"]
    body = {"id": item["id"], "label": "positive"}
    assert client.post("/api/label", json=body).status_code == 403  # no token
    wrong = {"X-CSRF-Token": "x" * 43}
    assert client.post("/api/label", json=body, headers=wrong).status_code == 403
    form = client.post("/api/label", data=body, headers=csrf)  # a cross-site form's encoding
    assert form.status_code == 403
    evil = {**csrf, "Origin": "http://evil.example"}
    assert client.post("/api/label", json=body, headers=evil).status_code == 403
    for path in SESSION_POSTS + ADMIN_POSTS:
        assert client.post(path, json={}).status_code == 403, path
    assert service.run(service.ws.ledger.history) == []  # nothing refused was recorded
    assert client.post("/api/label", json=body, headers=csrf).status_code == 200
    assert [
        (e.item_id, e.label, e.annotator, e.source) for e in service.run(service.ws.ledger.history)
    ] == [(item["id"], "positive", "ana", "web")]


def test_annotators_cannot_reach_admin_routes(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["bo"])
    for path in ADMIN_POSTS:
        response = client.post(
            path, json={"name": "eve", "overlap": 2, "batch_size": 5}, headers=csrf
        )
        assert response.status_code == 403 and response.json() == {"error": "admins only"}, path
    assert client.get("/admin/export.csv").status_code == 403
    assert [a.name for a in service.run(list_annotators, service.ws.ledger)] == ["ana", "bo", "cy"]
    assert 'id="admin"' not in client.get("/dashboard").text
    admin = _client(service)
    admin_csrf = _login(admin, tokens["ana"])
    assert 'id="admin"' in admin.get("/dashboard").text
    added = admin.post("/api/admin/annotators", json={"name": "eve"}, headers=admin_csrf)
    assert added.status_code == 200 and "/login#token=" in added.json()["link"]
    settings = {"overlap": 2, "batch_size": 5}
    assert admin.post("/api/admin/settings", json=settings, headers=admin_csrf).json() == settings
    bad = admin.post(
        "/api/admin/settings", json={"overlap": 7, "batch_size": 5}, headers=admin_csrf
    )
    assert bad.status_code == 400 and "overlap" in bad.json()["error"]
    assert admin.get("/admin/export.csv").text.startswith("id,text,label,annotator,labeled_at")


def test_login_is_rate_limited_and_tokens_are_single_account(served):
    service, tokens = served
    client = _client(service)
    for _ in range(LOGIN_FAILURES_PER_MINUTE):
        response = client.post("/login", json={"token": "not-a-token"})
        assert response.status_code == 401 and "not-a-token" not in response.text
    blocked = client.post("/login", json={"token": tokens["ana"]})
    assert blocked.status_code == 429  # right after the failures, even the right token waits
    time.sleep(LOGIN_CHECK_SECONDS)
    assert client.post("/login", json={"token": tokens["ana"]}).status_code == 200  # not long
    assert client.post("/login", data={"token": tokens["ana"]}).status_code == 403  # a form post


def test_cookies_and_security_headers(served):
    service, tokens = served
    client = _client(service)
    response = client.post("/login", json={"token": tokens["bo"]})
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert tokens["bo"] not in response.headers["set-cookie"]
    for path in ["/", "/login", "/static/label.js", "/health"]:
        headers = client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "unsafe-inline" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_a_removed_account_loses_its_session(served, capsys):
    service, tokens = served
    client = _client(service)
    _login(client, tokens["cy"])
    assert client.get("/api/dashboard").status_code == 200
    code, _, _ = run_cli(capsys, "annotators", "--workspace", service.path, "remove", "cy")
    assert code == 0
    assert client.get("/api/dashboard").status_code == 401


def test_labels_ambiguous_skip_and_undo_are_ledger_events(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["bo"])
    first = _next_item(client, csrf)["item"]
    second = client.post("/api/label", json={"id": first["id"], "label": "negative"}, headers=csrf)
    second = second.json()["item"]
    assert second["id"] != first["id"]
    third = client.post("/api/label", json={"id": second["id"], "label": None}, headers=csrf)
    third = third.json()["item"]
    fourth = client.post("/api/skip", json={"id": third["id"]}, headers=csrf).json()["item"]
    assert fourth["id"] not in {first["id"], second["id"], third["id"]}
    undone = client.post("/api/undo", json={}, headers=csrf).json()["item"]
    assert undone["id"] == second["id"]
    events = [(e.item_id, e.kind, e.annotator) for e in service.run(service.ws.ledger.history)]
    assert events == [
        (first["id"], LABEL, "bo"),
        (second["id"], "ambiguous", "bo"),
        (second["id"], UNLABEL, "bo"),
    ]
    unknown = client.post("/api/label", json={"id": first["id"], "label": "meh"}, headers=csrf)
    assert unknown.status_code == 400 and "unknown label 'meh'" in unknown.json()["error"]


def test_leases_keep_annotators_apart_unless_overlap_asks(served):
    service, _ = served

    def next_id(name: str) -> str:
        return service.run(service.next_item, name).item.id

    while service.run(service.next_item, "ana").item is None:
        time.sleep(0.5)
    a, b = next_id("ana"), next_id("bo")
    assert a != b and next_id("ana") == a  # asking again (a reload) keeps one's lease
    c = next_id("cy")
    assert c not in {a, b}
    z = service.run(service.skip, "bo", b).item.id  # a skip hands the item back
    assert z not in {a, b, c}
    assert next_id("dee") == b
    # Overlap 2: a leased item goes to one more person, not to a third.
    service.settings.overlap = 2
    assert next_id("eli") == a and next_id("fay") == b and next_id("gus") == c
    # An expired lease hands the item to somebody else.
    service.settings.overlap, service.settings.lease_seconds = 1, 0.2
    w = next_id("hal")
    assert w not in {a, b, c, z}
    time.sleep(0.3)
    assert next_id("ivy") == w


def test_overlap_records_agreeing_labels_of_two_annotators(served):
    service, _ = served
    service.settings.overlap = 2
    while (state := service.run(service.next_item, "ana")).item is None:
        time.sleep(0.5)
    item = state.item.id
    assert service.run(service.next_item, "bo").item.id == item
    service.run(service.label, "ana", item, "positive")
    after = service.run(service.label, "bo", item, "positive")
    assert after.item.id != item
    assert [(e.annotator, e.label) for e in service.run(service.ws.ledger.history, item)] == [
        ("ana", "positive"),
        ("bo", "positive"),
    ]
    dashboard = service.run(service.dashboard)
    assert dashboard.multi_labeled == 1 and dashboard.disagreements == []


def test_annotators_cli_and_the_holder_file(amazon_template, tmp_path, capsys):
    root = tmp_path / "ws"
    shutil.copytree(amazon_template("memory"), root)
    code, out, _ = run_cli(capsys, "annotators", "--workspace", root, "add", "ana", "--admin")
    assert code == 0 and re.search(r"http://127\.0\.0\.1:8000/login#token=[\w-]{43}\n", out)
    token = out.split("#token=")[1].strip()
    assert token not in (root / LEDGER_NAME).read_bytes().decode("latin-1")  # only its hash
    code, _, err = run_cli(capsys, "annotators", "--workspace", root, "add", "ana")
    assert (
        code == 2 and err == "error: annotator ana exists: remove it first to issue a new token\n"
    )
    code, out, _ = run_cli(capsys, "annotators", "--workspace", root, "list")
    assert code == 0 and out.startswith("ana") and "admin" in out
    code, _, err = run_cli(capsys, "annotators", "--workspace", root, "add", "<b>")
    assert code == 2 and err.startswith("error: annotator name '<b>'")
    # A live server's holder file turns other commands away with its URL; a dead one's does not.
    holder = root / HOLDER_NAME
    holder.write_text(f'{{"url": "http://127.0.0.1:9", "pid": {os.getppid()}}}', encoding="utf-8")
    code, out, err = run_cli(capsys, "status", "--workspace", root)
    assert code == 2 and out == ""
    assert err == (
        f"error: workspace {root} is held by `textal serve` at http://127.0.0.1:9: "
        "label there, or stop the server first\n"
    )
    holder.write_text('{"url": "http://127.0.0.1:9", "pid": 999999999}', encoding="utf-8")
    code, _, _ = run_cli(capsys, "status", "--workspace", root)
    assert code == 0


def test_serve_refuses_a_workspace_without_labels(tmp_path, capsys):
    root = tmp_path / "ws"
    code, _, _ = run_cli(capsys, "init", "--workspace", root, "--store", "memory")
    assert code == 0
    code, out, err = run_cli(capsys, "serve", "--workspace", root, "--port", "0")
    assert code == 2 and out == ""
    assert err.startswith(f"error: workspace {root} has no label set: run `textal init")


# --- issue 21: sessions mean what they say; bad input gets a JSON 4xx ---------------------------


def test_a_cookie_replayed_after_logout_is_refused(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["bo"])
    saved = dict(client.cookies)
    assert client.post("/logout", json={}, headers=csrf).status_code == 200
    replay = TestClient(client.app, base_url="http://127.0.0.1:8000", cookies=saved)
    assert replay.get("/api/dashboard").status_code == 401


def test_a_new_token_for_a_name_ends_the_old_tokens_sessions(served):
    service, tokens = served
    client = _client(service)
    _login(client, tokens["cy"])
    with Ledger(service.path / LEDGER_NAME) as ledger:  # another connection, like the CLI's
        remove_annotator(ledger, "cy")
        new_token = add_annotator(ledger, "cy")
    assert client.get("/api/dashboard").status_code == 401
    fresh = _client(service)
    _login(fresh, new_token)
    assert fresh.get("/api/dashboard").status_code == 200


def test_login_links_and_origins_do_not_trust_request_headers(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["ana"])
    made = client.post(
        "/api/admin/annotators",
        json={"name": "dee"},
        headers={**csrf, "Host": "evil.example"},
    )
    assert made.status_code == 200
    assert made.json()["link"].startswith("http://127.0.0.1:8000/login#token=")
    wrong_scheme = {**csrf, "Origin": "https://127.0.0.1:8000"}
    assert client.post("/api/next", json={}, headers=wrong_scheme).status_code == 403
    same = {**csrf, "Origin": "http://127.0.0.1:8000"}
    assert client.post("/api/next", json={}, headers=same).status_code == 200


def test_the_login_limiter_is_bounded_and_lets_a_valid_token_in_soon():
    limiter = LoginLimiter(limit=2, window_s=60, tracked=100)
    for k in range(1_000):
        limiter.failed(f"10.0.{k // 250}.{k % 250}")
    assert len(limiter) == 100
    limiter.failed("me")
    limiter.failed("me")
    assert not limiter.allow("me")  # blocked right after the failures
    time.sleep(LOGIN_CHECK_SECONDS)
    assert limiter.allow("me") and not limiter.allow("me")  # one check per second


def test_oversized_bodies_are_refused_unread_with_a_json_413(served):
    service, _ = served
    client = _client(service)
    big = b'{"token": "' + b"x" * (MAX_BODY_BYTES + 1) + b'"}'
    headers = {"Content-Type": "application/json"}
    declared = client.post("/login", content=big, headers=headers)
    assert declared.status_code == 413 and "error" in declared.json()

    def chunks():  # no Content-Length: counted as it arrives
        yield big[: len(big) // 2]
        yield big[len(big) // 2 :]

    streamed = client.post("/login", content=chunks(), headers=headers)
    assert streamed.status_code == 413 and "error" in streamed.json()


def test_bad_json_fields_get_a_400_naming_the_field(served):
    service, tokens = served
    client = _client(service)
    csrf = _login(client, tokens["ana"])
    json_headers = {**csrf, "Content-Type": "application/json"}
    nested = client.post("/api/label", content=b"[" * 50_000, headers=json_headers)
    assert nested.status_code == 400 and "nested too deeply" in nested.json()["error"]
    for field, value in [("overlap", True), ("batch_size", False), ("batch_size", 2.0)]:
        body = {"overlap": 1, "batch_size": 20, field: value}
        refused = client.post("/api/admin/settings", json=body, headers=csrf)
        assert refused.status_code == 400 and f"'{field}'" in refused.json()["error"], field
    assert service.settings.overlap == 1 and service.settings.batch_size == 20
    unknown = client.post("/api/similar", json={"id": "no-such-review"}, headers=csrf)
    assert unknown.status_code == 400 and "'id'" in unknown.json()["error"]
    long = client.post("/api/similar", json={"text": "good " * 2_000}, headers=csrf)
    assert long.status_code == 400 and "'text'" in long.json()["error"]


def test_undo_withdraws_only_my_answer_and_two_answers_are_both_kept(served):
    service, tokens = served
    bo, cy = _client(service), _client(service)
    bo_csrf, cy_csrf = _login(bo, tokens["bo"]), _login(cy, tokens["cy"])
    item = _next_item(bo, bo_csrf)["item"]["id"]  # leased to bo; cy answers it as well
    for client, csrf, label in [(bo, bo_csrf, "negative"), (cy, cy_csrf, "positive")]:
        body = {"id": item, "label": label, "next": False}
        assert client.post("/api/label", json=body, headers=csrf).status_code == 200
    ledger = service.ws.ledger
    answers = [(e.annotator, e.label) for e in service.run(ledger.history, item)]
    assert answers == [("bo", "negative"), ("cy", "positive")]
    assert service.run(ledger.current_labels)[item] == "positive"  # the later answer
    assert bo.post("/api/undo", json={}, headers=bo_csrf).status_code == 200
    assert service.run(ledger.current_labels)[item] == "positive"  # cy's answer stands
    assert cy.post("/api/undo", json={}, headers=cy_csrf).status_code == 200
    assert item not in service.run(ledger.current_labels)  # nobody's answer is left


def test_a_full_disk_gets_a_json_error_and_labeling_resumes(amazon_template, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    with mounted("-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)):
        root = disk / "ws"
        shutil.copytree(amazon_template("memory"), root)
        with Ledger(root / LEDGER_NAME) as ledger:
            token = add_annotator(ledger, "bo")
        service = LabelService(root, autostart=False)
        try:
            client = _client(service)
            csrf = _login(client, token)
            service.run(service.start_round)
            item = _next_item(client, csrf)["item"]["id"]
            with contextlib.suppress(OSError), open(disk / "filler", "wb") as f:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            full = client.post("/api/label", json={"id": item, "label": "positive"}, headers=csrf)
            assert full.status_code == 503, full.text
            assert "no space left" in full.json()["error"]
            (disk / "filler").unlink()
            saved = client.post("/api/label", json={"id": item, "label": "positive"}, headers=csrf)
            assert saved.status_code == 200
            assert service.run(service.ws.ledger.current_labels)[item] == "positive"
        finally:
            service.close()


def test_removing_an_account_from_the_dashboard_ends_its_sessions(served):
    service, tokens = served
    admin, bo = _client(service), _client(service)
    csrf = _login(admin, tokens["ana"])
    _login(bo, tokens["bo"])
    assert bo.get("/api/dashboard").status_code == 200
    removed = admin.post("/api/admin/annotators/remove", json={"name": "bo"}, headers=csrf)
    assert removed.status_code == 200 and removed.json() == {"removed": "bo"}
    assert bo.get("/api/dashboard").status_code == 401
    itself = admin.post("/api/admin/annotators/remove", json={"name": "ana"}, headers=csrf)
    assert itself.status_code == 400 and "your own account" in itself.json()["error"]
    unknown = admin.post("/api/admin/annotators/remove", json={"name": "zed"}, headers=csrf)
    assert unknown.status_code == 400 and "no annotator named 'zed'" in unknown.json()["error"]


def test_behind_a_tls_proxy_cookies_are_secure_and_the_public_origin_counts(served):
    service, tokens = served
    app = create_app(service, "k" * 64, url="https://labels.example.com")
    client = TestClient(app, base_url="http://127.0.0.1:8000")  # what the proxy forwards
    login = client.post("/login", json={"token": tokens["ana"]})
    assert "secure" in login.headers["set-cookie"].lower()
    made = TestClient(app, base_url="https://labels.example.com")
    csrf = _login(made, tokens["ana"])
    public = {**csrf, "Origin": "https://labels.example.com"}
    link = made.post("/api/admin/annotators", json={"name": "eve"}, headers=public)
    assert link.json()["link"].startswith("https://labels.example.com/login#token=")
    other = {**csrf, "Origin": "https://evil.example"}
    assert made.post("/api/next", json={}, headers=other).status_code == 403
