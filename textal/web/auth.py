"""Who is asking: cookie sessions (with CSRF) for people, bearer tokens for scripts, roles.

A request with ``Authorization: Bearer TOKEN`` is the account whose login token that is (only its
hash is stored); it carries no cookie, so it needs no CSRF token, and its failures count against
the same per-address limit as failed logins. Any other request needs a live session cookie.
Each route names the roles that may use it (:data:`PEOPLE` by default: a ``service`` account
never labels).
"""

from __future__ import annotations

import secrets
import sqlite3
import sys
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Collection
from pathlib import Path
from urllib.parse import urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from textal.errors import TextalError
from textal.fsio import disk_problem
from textal.ledger.annotators import Annotator
from textal.textsafe import terminal_safe
from textal.web.service import LabelService

LOGIN_FAILURES_PER_MINUTE = 5
LOGIN_CHECK_SECONDS = 1.0  # a blocked address still gets one token checked this often
LOGIN_TRACKED_ADDRESSES = 10_000  # the limiter forgets the oldest addresses beyond this

PEOPLE = frozenset({"annotator", "reviewer", "admin"})  # those who label
ADMINS = frozenset({"admin"})

Endpoint = Callable[[Request, Annotator], Awaitable[Response]]
Handler = Callable[[Request], Awaitable[Response]]


class LoginLimiter:
    """At most ``limit`` failed logins per client address in ``window_s`` seconds.

    Past that, the address gets one token checked per :data:`LOGIN_CHECK_SECONDS` (the others are
    answered 429 unread), so a person sharing an address with a guesser (a proxy, a NAT) gets in
    within seconds, while a guesser gets one try a second at a 256-bit token. Memory is bounded:
    at most ``tracked`` addresses are remembered, the least recently failing forgotten first.
    """

    def __init__(
        self,
        limit: int = LOGIN_FAILURES_PER_MINUTE,
        window_s: float = 60.0,
        tracked: int = LOGIN_TRACKED_ADDRESSES,
    ):
        self.limit, self.window_s, self.tracked = limit, window_s, tracked
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()
        self._last_check: dict[str, float] = {}

    def allow(self, client: str) -> bool:
        """Whether to check this login attempt's token now."""
        now = time.monotonic()
        failures = self._failures.get(client)
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            self._failures.pop(client, None)
            self._last_check.pop(client, None)
            return True
        if len(failures) < self.limit:
            return True
        if now - self._last_check.get(client, float("-inf")) < LOGIN_CHECK_SECONDS:
            return False
        self._last_check[client] = now
        return True

    def failed(self, client: str) -> None:
        now = time.monotonic()
        failures = self._failures.pop(client, None) or deque(maxlen=self.limit)
        failures.append(now)
        self._failures[client] = failures  # newest last
        self._last_check[client] = now
        while len(self._failures) > self.tracked:
            forgotten, _ = self._failures.popitem(last=False)
            self._last_check.pop(forgotten, None)

    def __len__(self) -> int:
        return len(self._failures)


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of a URL."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".casefold()


def same_origin(request: Request) -> bool:
    """A browser's ``Origin`` (when sent) must be this server, scheme included (no cross-site
    posts, none from a plain-http page to an https server): the address the request came to,
    or the public URL ``serve --public-url`` names (a TLS proxy in front)."""
    origin = request.headers.get("origin")
    if origin is None:
        return True
    here = f"{request.url.scheme}://{request.headers.get('host', '')}".casefold()
    return origin.casefold() in (here, getattr(request.app.state, "public_origin", here))


def server_error(request: Request, exc: Exception) -> Response:
    """Any unexpected failure as a JSON error the page can show; a full disk says so."""
    why = disk_problem(Path(request.app.state.workspace))
    if why is not None:
        return json_error(503, f"the server cannot write ({why}): nothing was saved; try again")
    print(f"error: {terminal_safe(repr(exc))}", file=sys.stderr)
    return json_error(500, "internal error: nothing was saved; try again")


def client_address(request: Request) -> str:
    """The socket's peer: no proxy header is trusted (``serve`` turns uvicorn's off)."""
    return request.client.host if request.client else "?"


def service_of(request: Request) -> LabelService:
    """The service the app was made over (``app.state.service``)."""
    service: LabelService = request.app.state.service
    return service


async def _bearer(request: Request, header: str) -> Annotator | Response:
    """The account of an ``Authorization: Bearer`` header, or the error response."""
    service, limiter = service_of(request), request.app.state.limiter
    client = client_address(request)
    if not limiter.allow(client):
        return json_error(429, "too many failed logins from this address: wait a minute")
    scheme, _, token = header.partition(" ")
    user = None
    if scheme.lower() == "bearer" and token.strip():
        user = await service.call(service.bearer, token.strip())
    if user is None:
        limiter.failed(client)
        return json_error(401, "unknown or removed bearer token")
    return user


async def _session_user(request: Request) -> Annotator | None:
    session_id = request.session.get("sid")
    if not isinstance(session_id, str):
        return None
    service = service_of(request)
    return await service.call(service.account, session_id)


def guarded(
    *,
    page: bool = False,
    write: bool = False,
    admin: bool = False,
    roles: Collection[str] = PEOPLE,
) -> Callable[[Endpoint], Handler]:
    """A session or a bearer token required; ``write``: a JSON body and, with a session,
    its CSRF token; ``roles`` (``admin``: :data:`ADMINS`) may use the route. The app's
    ``state`` holds the service and the login limiter."""
    allowed = ADMINS if admin else frozenset(roles)

    def wrap(endpoint: Endpoint) -> Handler:
        async def handler(request: Request) -> Response:
            header = request.headers.get("authorization")
            if header is not None:
                found = await _bearer(request, header)
                if isinstance(found, Response):
                    return found
                user: Annotator | None = found
            else:
                user = await _session_user(request)
                if user is None:
                    if page:
                        return RedirectResponse("/login", status_code=303)
                    return json_error(401, "log in first")
                if request.method == "POST" and not _csrf_ok(request, json=write):
                    return json_error(403, "missing or wrong CSRF token")
            assert user is not None
            if user.role not in allowed:
                who = "admins" if allowed == ADMINS else f"roles {', '.join(sorted(allowed))}"
                return json_error(403, f"{who} only")
            try:
                return await endpoint(request, user)
            except TextalError as exc:
                return json_error(400, str(exc))
            except (OSError, sqlite3.Error) as exc:  # a full disk: the page shows why
                return server_error(request, exc)

        return handler

    return wrap


def _csrf_ok(request: Request, *, json: bool) -> bool:
    """A cookie session's POST: same origin, its CSRF token, and a JSON body when ``json``."""
    token = request.headers.get("x-csrf-token", "")
    expected = request.session.get("csrf", "")
    kind = request.headers.get("content-type", "").split(";")[0]
    return (
        same_origin(request)
        and (not json or kind == "application/json")
        and bool(expected)
        and secrets.compare_digest(token, expected)
    )
