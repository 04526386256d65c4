"""The Starlette app: routes, sessions, CSRF, security headers, login rate limit.

Every route but ``/login``, ``/health`` and ``/static`` needs a session (a signed, HttpOnly,
SameSite=Strict cookie). Every POST needs ``Content-Type: application/json`` (a cross-site form
cannot send it) and, once logged in, the session's CSRF token in ``X-CSRF-Token``. Login tokens
travel in a POST body (the login link carries them in the URL fragment, which browsers never
send), so they never reach a log line or an error page.
"""

from __future__ import annotations

import io
import secrets
import tempfile
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from textal.errors import TextalError
from textal.ledger.annotators import Annotator, add_annotator
from textal.web.service import LabelService

HERE = Path(__file__).parent
SESSION_COOKIE = "textal_session"
SESSION_SECONDS = 12 * 3600
LOGIN_FAILURES_PER_MINUTE = 5
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

Endpoint = Callable[[Request, Annotator], Awaitable[Response]]


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


class LoginLimiter:
    """At most :data:`LOGIN_FAILURES_PER_MINUTE` failed logins per client address per minute."""

    def __init__(self, limit: int = LOGIN_FAILURES_PER_MINUTE, window_s: float = 60.0):
        self.limit, self.window_s = limit, window_s
        self._failures: dict[str, deque[float]] = defaultdict(deque)

    def blocked(self, client: str) -> bool:
        failures, now = self._failures[client], time.monotonic()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return len(failures) >= self.limit

    def failed(self, client: str) -> None:
        self._failures[client].append(time.monotonic())


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when sent) must be this server: no cross-site posts."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


async def _json(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise TextalError("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise TextalError("the request body is not a JSON object")
    return body


def _text(body: dict[str, Any], key: str, *, optional: bool = False) -> str | None:
    value = body.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise TextalError(f"field {key!r}: expected text")
    return value


def create_app(service: LabelService, secret_key: str) -> Starlette:
    """The annotation app over ``service``; ``secret_key`` signs the session cookies."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True, enable_async=False
    )
    templates = Jinja2Templates(env=env)
    limiter = LoginLimiter()

    async def current_user(request: Request) -> Annotator | None:
        name = request.session.get("name")
        if not isinstance(name, str):
            return None
        return await service.call(service.account, name)

    def guarded(
        *, page: bool = False, write: bool = False, admin: bool = False
    ) -> Callable[[Endpoint], Callable[[Request], Awaitable[Response]]]:
        """Session required; ``write``: JSON body + CSRF token; ``admin``: admins only."""

        def wrap(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
            async def handler(request: Request) -> Response:
                user = await current_user(request)
                if user is None:
                    if page:
                        return RedirectResponse("/login", status_code=303)
                    return _error(401, "log in first")
                if write:
                    token = request.headers.get("x-csrf-token", "")
                    expected = request.session.get("csrf", "")
                    if (
                        not _same_origin(request)
                        or request.headers.get("content-type", "").split(";")[0]
                        != "application/json"
                        or not expected
                        or not secrets.compare_digest(token, expected)
                    ):
                        return _error(403, "missing or wrong CSRF token")
                if admin and not user.admin:
                    return _error(403, "admins only")
                try:
                    return await endpoint(request, user)
                except TextalError as exc:
                    return _error(400, str(exc))

            return handler

        return wrap

    def page(request: Request, name: str, user: Annotator, **context: Any) -> Response:
        return templates.TemplateResponse(
            request,
            name,
            {
                "user": user,
                "csrf": request.session["csrf"],
                "labels": service.labels,
                **context,
            },
        )

    # -- login ----------------------------------------------------------------------------

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    async def login_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {})

    async def login(request: Request) -> Response:
        client = request.client.host if request.client else "?"
        if request.headers.get("content-type", "").split(";")[0] != "application/json" or (
            not _same_origin(request)
        ):
            return _error(403, "log in from the login page")
        if limiter.blocked(client):
            return _error(429, "too many failed logins: wait a minute")
        try:
            token = _text(await _json(request), "token")
        except TextalError:
            token = None
        user = await service.call(service.login, token) if token else None
        if user is None:
            limiter.failed(client)
            return _error(401, "unknown or removed login token")
        request.session.clear()
        request.session.update({"name": user.name, "csrf": secrets.token_urlsafe(32)})
        return JSONResponse({"name": user.name, "admin": user.admin})

    @guarded(write=True)
    async def logout(request: Request, user: Annotator) -> Response:
        request.session.clear()
        return JSONResponse({"ok": True})

    # -- pages ----------------------------------------------------------------------------

    @guarded(page=True)
    async def label_page(request: Request, user: Annotator) -> Response:
        return page(request, "label.html", user, guidelines=service.guidelines())

    @guarded(page=True)
    async def dashboard_page(request: Request, user: Annotator) -> Response:
        return page(request, "dashboard.html", user, guidelines=service.guidelines())

    @guarded(page=True)
    async def search_page(request: Request, user: Annotator) -> Response:
        return page(request, "search.html", user)

    # -- labeling -------------------------------------------------------------------------

    @guarded(write=True)
    async def api_next(request: Request, user: Annotator) -> Response:
        return JSONResponse(await service.call(service.next_item, user.name))

    @guarded(write=True)
    async def api_label(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        item_id, label = _text(body, "id"), _text(body, "label", optional=True)
        if body.get("next") is False:  # labeled from search results: no lease involved
            await service.call(service.record, user.name, item_id, label)
            return JSONResponse({"ok": True})
        return JSONResponse(await service.answer(user.name, item_id or "", label))

    @guarded(write=True)
    async def api_skip(request: Request, user: Annotator) -> Response:
        item_id = _text(await _json(request), "id")
        return JSONResponse(await service.call(service.skip, user.name, item_id))

    @guarded(write=True)
    async def api_undo(request: Request, user: Annotator) -> Response:
        return JSONResponse(await service.call(service.undo, user.name))

    @guarded()
    async def api_history(request: Request, user: Annotator) -> Response:
        return JSONResponse({"answers": await service.call(service.history, user.name)})

    @guarded()
    async def api_dashboard(request: Request, user: Annotator) -> Response:
        return JSONResponse(await service.call(service.dashboard))

    @guarded()
    async def api_search(request: Request, user: Annotator) -> Response:
        query = request.query_params.get("q", "")
        return JSONResponse({"results": await service.call(service.search, query)})

    @guarded(write=True)
    async def api_similar(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        text, item_id = _text(body, "text", optional=True), _text(body, "id", optional=True)
        results = await service.call(lambda: service.similar(text=text, item_id=item_id))
        return JSONResponse({"results": results})

    # -- admin ----------------------------------------------------------------------------

    @guarded(write=True, admin=True)
    async def admin_round(request: Request, user: Annotator) -> Response:
        started = await service.call(service.start_round)
        return JSONResponse({"started": started})

    @guarded(write=True, admin=True)
    async def admin_settings(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        overlap, batch = body.get("overlap"), body.get("batch_size")
        if overlap not in (1, 2, 3):
            raise TextalError("overlap: 1, 2 or 3 annotators per item")
        if not isinstance(batch, int) or not 1 <= batch <= 500:
            raise TextalError("batch_size: a whole number from 1 to 500")
        service.settings.overlap, service.settings.batch_size = overlap, batch
        return JSONResponse({"overlap": overlap, "batch_size": batch})

    @guarded(write=True, admin=True)
    async def admin_annotators(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        name, is_admin = _text(body, "name"), body.get("admin") is True
        token = await service.call(
            lambda: add_annotator(service.ws.ledger, name or "", admin=is_admin)
        )
        # The token goes to the admin's page once and is never logged or stored.
        return JSONResponse({"name": name, "link": f"{request.base_url}login#token={token}"})

    @guarded(write=True, admin=True)
    async def admin_guidelines(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        descriptions = body.get("labels")
        if not isinstance(descriptions, dict) or not all(
            isinstance(v, str) for v in descriptions.values()
        ):
            raise TextalError("field 'labels': expected {label: description text}")
        instructions = _text(body, "instructions") or ""
        saved = await service.call(service.set_guidelines, instructions, descriptions)
        return JSONResponse({"instructions": saved.instructions, "labels": dict(saved.labels)})

    @guarded(write=True, admin=True)
    async def admin_resolve(request: Request, user: Annotator) -> Response:
        body = await _json(request)
        item_id, label = _text(body, "id"), _text(body, "label", optional=True)
        await service.call(service.resolve, user.name, item_id, label)
        return JSONResponse({"ok": True})

    @guarded(admin=True)
    async def admin_export(request: Request, user: Annotator) -> Response:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "labels.csv"
            await service.call(service.export_csv, path)
            data = path.read_bytes()
        return StreamingResponse(
            io.BytesIO(data),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": 'attachment; filename="labels.csv"'},
        )

    routes = [
        Route("/health", health),
        Route("/favicon.ico", lambda request: Response(status_code=204)),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/", label_page),
        Route("/dashboard", dashboard_page),
        Route("/search", search_page),
        Route("/api/next", api_next, methods=["POST"]),
        Route("/api/label", api_label, methods=["POST"]),
        Route("/api/skip", api_skip, methods=["POST"]),
        Route("/api/undo", api_undo, methods=["POST"]),
        Route("/api/history", api_history),
        Route("/api/dashboard", api_dashboard),
        Route("/api/search", api_search),
        Route("/api/similar", api_similar, methods=["POST"]),
        Route("/api/admin/round", admin_round, methods=["POST"]),
        Route("/api/admin/settings", admin_settings, methods=["POST"]),
        Route("/api/admin/annotators", admin_annotators, methods=["POST"]),
        Route("/api/admin/guidelines", admin_guidelines, methods=["POST"]),
        Route("/api/admin/resolve", admin_resolve, methods=["POST"]),
        Route("/admin/export.csv", admin_export),
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=secret_key,
            session_cookie=SESSION_COOKIE,
            max_age=SESSION_SECONDS,
            same_site="strict",
            https_only=False,  # loopback http by default; behind TLS the cookie still works
        ),
    ]
    return Starlette(routes=routes, middleware=middleware)
