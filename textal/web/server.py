"""``textal serve``: open the workspace once, bind, and run the app under uvicorn."""

from __future__ import annotations

import os
import secrets
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from textal.errors import TextalError
from textal.web.service import LabelService
from textal.workspace.config import workspace_path
from textal.workspace.holder import holding

SECRET_NAME = "web-secret"


def session_secret(root: Path) -> str:
    """The key that signs session cookies, kept in the workspace (mode 0600) so that sessions
    survive a restart; delete the file to log everybody out."""
    path = root / SECRET_NAME
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
    return path.read_text(encoding="ascii").strip()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise TextalError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    return sock


def _exit_quietly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def serve(
    workspace: str | None,
    host: str,
    port: int,
    *,
    public_url: str | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Serve until interrupted. Prints the URL first (``--port 0`` picks a free port).
    ``public_url`` is where people reach it when a TLS proxy stands in front."""
    if public_url is not None and not public_url.startswith(("http://", "https://")):
        raise TextalError(f"--public-url {public_url!r}: give http(s)://host[:port]")
    import uvicorn

    from textal.web.app import create_app

    root = workspace_path(workspace)
    service = LabelService(root)
    try:
        sock = _bind(host, port)
        bound = sock.getsockname()[1]
        url = f"http://[{host}]:{bound}" if ":" in host else f"http://{host}:{bound}"
        app = create_app(service, session_secret(root), url=(public_url or url).rstrip("/"))
        accounts = service.run(lambda: service.ws.accounts.list())
        # uvicorn re-raises SIGINT/SIGTERM after its graceful shutdown: exit 0 through
        # ``finally`` then (Ctrl-C is how one stops a server, not an interruption).
        signal.signal(signal.SIGTERM, _exit_quietly)
        signal.signal(signal.SIGINT, _exit_quietly)
        service.local_token = secrets.token_urlsafe(32)
        with holding(root, url, service.local_token):
            try:
                say(f"textal serve: {url} (workspace {root}, store {service.ws.store.uri})")
                for line in login_help(len(accounts), root):
                    say(line)
                # No proxy header is trusted: uvicorn would otherwise take the client address
                # from X-Forwarded-For on loopback connections, which resets the login limiter.
                config = uvicorn.Config(
                    app,
                    log_level="warning",
                    access_log=False,
                    lifespan="off",
                    proxy_headers=False,
                    server_header=False,
                )
                uvicorn.Server(config).run(sockets=[sock])
            finally:
                say("textal serve: stopped; every acknowledged answer is in the ledger")
    finally:
        service.close()


def login_help(accounts: int, root: Path) -> list[str]:
    """How to log in, for the lines ``serve`` prints first. A login link cannot be printed
    again: the ledger keeps only a hash of each token."""
    where = f" --workspace {root}" if root != workspace_path(None) else ""
    if not accounts:
        return [f"no accounts yet: `textal annotators add NAME --admin{where}` prints a login link"]
    people = "1 account" if accounts == 1 else f"{accounts} accounts"
    return [
        f"{people}: log in with the link `textal annotators add` printed (it is shown once: only "
        "a hash of its token is kept)",
        f"lost a link? `textal annotators remove NAME{where}`, then "
        f"`textal annotators add NAME [--admin]{where}` prints a new one",
    ]
