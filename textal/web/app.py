"""The Starlette app: routes, sessions, CSRF, security headers, login rate limit, body caps.

Every route but ``/login``, ``/health`` and ``/static`` needs a session: a signed, HttpOnly,
SameSite=Strict cookie carrying a session id that the ledger must still hold, so logging out,
removing the account or issuing it a new token ends it at once. Every POST needs
``Content-Type: application/json`` (a cross-site form cannot send it), an ``Origin`` (when sent)
of this very scheme, host and port, and, once logged in, the session's CSRF token in
``X-CSRF-Token``. Login tokens travel in a POST body (the login link carries them in the URL
fragment, which browsers never send), so they never reach a log line or an error page. Request
bodies are capped (:data:`MAX_BODY_BYTES`): a larger one gets 413 and is not read further.
"""

from __future__ import annotations

import asyncio
import io
import secrets
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import jinja2
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textal.errors import TextalError
from textal.ledger.annotators import Annotator
from textal.store.filters import from_options
from textal.web import api
from textal.web.api import BODY_CAPS
from textal.web.auth import (
    LOGIN_CHECK_SECONDS,
    LOGIN_FAILURES_PER_MINUTE,
    LoginLimiter,
    client_address,
    guarded,
    origin_of,
    service_of,
)
from textal.web.auth import json_error as _error
from textal.web.auth import same_origin as _same_origin
from textal.web.auth import server_error as _server_error
from textal.web.bodies import answer_field as _answer
from textal.web.bodies import int_field as _int_field
from textal.web.bodies import json_body as _json
from textal.web.bodies import text_field as _text
from textal.web.service import LabelService, SearchQuery
from textal.web.views import respond

__all__ = ["LOGIN_CHECK_SECONDS", "LOGIN_FAILURES_PER_MINUTE", "create_app"]

HERE = Path(__file__).parent
SESSION_COOKIE = "textal_session"
SESSION_SECONDS = 12 * 3600
# who reviews suspects (GET /api/v1/suspects) and resolves disagreements
REVIEW_PAGE = frozenset({"reviewer", "admin"})
MAX_GOAL = 10_000_000
MAX_PAGE = 10_000  # search pages: a scan reads (page + 1) x 50 matches
MAX_BODY_BYTES = 64 * 1024  # every request body: answers, settings, logins are far smaller
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        b"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every response."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` (``caps[path]`` on the paths it names) with 413:
    at once when ``Content-Length`` says so, else as soon as the bytes read pass it (nothing
    more is read)."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int = MAX_BODY_BYTES,
        caps: dict[str, int] = BODY_CAPS,
    ):
        self.app, self.max_bytes = app, max_bytes
        self.caps = caps

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap = self.caps.get(scope["path"], self.max_bytes)
        why = f"request body over {cap // 1024} KB"
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if not declared.isdigit() or int(declared) > cap:
            await _error(413, why)(scope, receive, send)
            return
        seen = 0

        async def capped() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > cap:
                raise HTTPException(413, why)
            return message

        await self.app(scope, capped, send)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, status_code=exc.status_code)


TEMPLATES = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, enable_async=False
    )
)


def _page(request: Request, name: str, user: Annotator, **context: Any) -> Response:
    return TEMPLATES.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": request.session["csrf"],
            "labels": service_of(request).labels,
            "multi_label": service_of(request).ws.multi_label,
            **context,
        },
    )


# -- login --------------------------------------------------------------------------------


async def health(request: Request) -> Response:
    return PlainTextResponse("ok")


async def favicon(request: Request) -> Response:
    return Response(status_code=204)


async def login_page(request: Request) -> Response:
    return TEMPLATES.TemplateResponse(request, "login.html", {})


async def login(request: Request) -> Response:
    service, limiter = service_of(request), request.app.state.limiter
    client = client_address(request)
    if request.headers.get("content-type", "").split(";")[0] != "application/json" or (
        not _same_origin(request)
    ):
        return _error(403, "log in from the login page")
    if not limiter.allow(client):
        return _error(429, "too many failed logins from this address: wait a minute")
    try:
        token = _text(await _json(request), "token")
    except TextalError:
        token = None
    opened = await service.call(service.login, token, SESSION_SECONDS) if token else None
    if opened is None:
        limiter.failed(client)
        return _error(401, "unknown or removed login token")
    user, session_id = opened
    if user.role == "service":
        await service.call(service.logout, session_id)
        return _error(403, "a service account uses the API with Authorization: Bearer TOKEN")
    request.session.clear()
    request.session.update({"sid": session_id, "csrf": secrets.token_urlsafe(32)})
    return JSONResponse({"name": user.name, "role": user.role, "admin": user.admin})


@guarded(write=True)
async def logout(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    await service.call(service.logout, request.session["sid"])
    request.session.clear()
    return JSONResponse({"ok": True})


# -- pages --------------------------------------------------------------------------------


@guarded(page=True)
async def label_page(request: Request, user: Annotator) -> Response:
    return _page(request, "label.html", user, guidelines=service_of(request).guidelines())


@guarded(page=True)
async def dashboard_page(request: Request, user: Annotator) -> Response:
    return _page(request, "dashboard.html", user, guidelines=service_of(request).guidelines())


@guarded(page=True)
async def search_page(request: Request, user: Annotator) -> Response:
    return _page(request, "search.html", user)


@guarded(page=True, roles=REVIEW_PAGE)
async def review_page(request: Request, user: Annotator) -> Response:
    return _page(request, "review.html", user)


# -- labeling -----------------------------------------------------------------------------


@guarded(write=True)
async def api_next(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    return respond(await service.call(service.next_item, user.name))


@guarded(write=True)
async def api_label(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    item_id, label = _text(body, "id"), _answer(body, multi_label=service.ws.multi_label)
    if body.get("next") is False:  # labeled from search results: no lease involved
        await service.call(service.record, user.name, item_id, label)
        return JSONResponse({"ok": True})
    return respond(await service.answer(user.name, item_id or "", label))


@guarded(write=True)
async def api_skip(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    item_id = _text(await _json(request), "id")
    return respond(await service.call(service.skip, user.name, item_id))


@guarded(write=True)
async def api_undo(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    return respond(await service.call(service.undo, user.name))


@guarded()
async def api_history(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    return respond(await service.call(service.history, user.name))


@guarded()
async def api_dashboard(request: Request, user: Annotator) -> Response:
    """``?tz=MINUTES``: the viewer's offset from UTC (east positive), for labels per day."""
    service = service_of(request)
    tz = request.query_params.get("tz", "0")
    if not tz.lstrip("-").isdigit() or abs(int(tz)) > 24 * 60:
        raise TextalError("field 'tz': minutes from UTC, -1440 to 1440")
    offset = timedelta(minutes=int(tz))
    return respond(await service.call(service.dashboard, offset))


@guarded()
async def api_search(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    params = request.query_params
    page = params.get("page", "0")
    if not page.isdigit() or int(page) > MAX_PAGE:
        raise TextalError(f"field 'page': a whole number from 0 to {MAX_PAGE}")
    query = SearchQuery(
        text=params.get("q", ""),
        status=params.get("status", "any"),
        label=params.get("label") or None,
        predicted=params.get("predicted") or None,
        filter=from_options(params.get("filter") or None, None),
        page=int(page),
    )
    model = None
    if query.predicted is not None:
        model = (await service.served_predictor()).model
    return respond(await service.call(service.search, query, model))


@guarded(write=True)
async def api_label_bulk(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    ids, label = body.get("ids"), _answer(body, multi_label=service.ws.multi_label)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise TextalError("field 'ids': expected a list of item ids")
    recorded = await service.call(service.record_all, user.name, ids, label)
    return JSONResponse({"recorded": recorded})


@guarded(write=True)
async def api_similar(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    text, item_id = _text(body, "text", optional=True), _text(body, "id", optional=True)
    vector = None
    if item_id is None and text and text.strip():
        vector = await asyncio.to_thread(service.embed_query, text)
    return respond(await service.call(lambda: service.similar(vector=vector, item_id=item_id)))


# -- admin --------------------------------------------------------------------------------


@guarded(write=True, admin=True)
async def admin_round(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    started = await service.call(service.start_round)
    return JSONResponse({"started": started})


@guarded(write=True, admin=True)
async def admin_settings(request: Request, user: Annotator) -> Response:
    """Overlap and batch size; the lead's goals (labels in all, per class; 0: none) when sent."""
    settings = service_of(request).settings
    body = await _json(request)
    overlap, batch = _int_field(body, "overlap", 1, 3), _int_field(body, "batch_size", 1, 500)
    goals = {
        key: _int_field(body, key, 0, MAX_GOAL)
        for key in ("goal_total", "goal_per_class")
        if key in body
    }
    settings.overlap, settings.batch_size = overlap, batch
    for key, value in goals.items():
        setattr(settings, key, value)
    return JSONResponse({"overlap": overlap, "batch_size": batch, **goals})


@guarded(write=True, admin=True)
async def admin_annotators(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    name, is_admin = _text(body, "name"), body.get("admin") is True
    token = await service.call(lambda: service.ws.accounts.add(name or "", admin=is_admin))
    # The token goes to the admin's page once and is never logged or stored.
    return JSONResponse({"name": name, "link": f"{request.app.state.url}/login#token={token}"})


@guarded(write=True, admin=True)
async def admin_remove_annotator(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    name = _text(await _json(request), "name") or ""
    if name == user.name:
        raise TextalError("you cannot remove your own account here (another admin can)")
    await service.call(lambda: service.ws.accounts.remove(name))
    return JSONResponse({"removed": name})  # its sessions end with it


@guarded(write=True, admin=True)
async def admin_guidelines(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    descriptions = body.get("labels")
    if not isinstance(descriptions, dict) or not all(
        isinstance(v, str) for v in descriptions.values()
    ):
        raise TextalError("field 'labels': expected {label: description text}")
    instructions = _text(body, "instructions") or ""
    saved = await service.call(service.set_guidelines, instructions, descriptions)
    return JSONResponse({"instructions": saved.instructions, "labels": dict(saved.labels)})


@guarded(write=True, roles=REVIEW_PAGE)
async def resolve(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    body = await _json(request)
    item_id, label = _text(body, "id"), _answer(body, multi_label=service.ws.multi_label)
    await service.call(service.resolve, user.name, item_id, label)
    return JSONResponse({"ok": True})


@guarded(admin=True)
async def admin_export(request: Request, user: Annotator) -> Response:
    service = service_of(request)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "labels.csv"
        await service.call(service.export_csv, path)
        data = path.read_bytes()
    return StreamingResponse(
        io.BytesIO(data),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": 'attachment; filename="labels.csv"'},
    )


ROUTES = [
    Route("/health", health),
    Route("/favicon.ico", favicon),
    Route("/login", login_page, methods=["GET"]),
    Route("/login", login, methods=["POST"]),
    Route("/logout", logout, methods=["POST"]),
    Route("/", label_page),
    Route("/dashboard", dashboard_page),
    Route("/search", search_page),
    Route("/review", review_page),
    Route("/api/next", api_next, methods=["POST"]),
    Route("/api/label", api_label, methods=["POST"]),
    Route("/api/label/bulk", api_label_bulk, methods=["POST"]),
    Route("/api/skip", api_skip, methods=["POST"]),
    Route("/api/undo", api_undo, methods=["POST"]),
    Route("/api/history", api_history),
    Route("/api/dashboard", api_dashboard),
    Route("/api/search", api_search),
    Route("/api/similar", api_similar, methods=["POST"]),
    Route("/api/admin/round", admin_round, methods=["POST"]),
    Route("/api/admin/settings", admin_settings, methods=["POST"]),
    Route("/api/admin/annotators", admin_annotators, methods=["POST"]),
    Route("/api/admin/annotators/remove", admin_remove_annotator, methods=["POST"]),
    Route("/api/admin/guidelines", admin_guidelines, methods=["POST"]),
    Route("/api/resolve", resolve, methods=["POST"]),
    Route("/admin/export.csv", admin_export),
    Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    *api.routes(),
]


def create_app(service: LabelService, secret_key: str, *, url: str) -> Starlette:
    """The annotation app over ``service`` (kept in ``app.state``); ``secret_key`` signs the
    session cookies; ``url`` is where people reach it: login links are made from it (never
    from a request's ``Host``), and an ``https://`` one makes the cookies Secure."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(BodyLimit),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_SECONDS,
            same_site="strict",
            https_only=url.startswith("https://"),
        ),
    ]
    app = Starlette(
        routes=ROUTES,
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    app.state.service = service
    app.state.limiter = LoginLimiter()
    app.state.url = url
    app.state.workspace = str(service.path)
    app.state.public_origin = origin_of(url)
    return app
