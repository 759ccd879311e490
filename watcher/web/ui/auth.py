"""Who may read the web UI: loopback without a token, else ``[server] ui_token``.

Why these rules: the UI shows what a team watches and why, which may be
confidential. On a loopback address only this machine can connect, so no
token is needed; on any other address the UI stays shut (403, one line)
until ``ui_token`` is set, while Slack, feeds, ``/metrics`` and ``/healthz``
keep working. Once a token is set every UI request needs it, whatever its
source address: behind a reverse proxy every request looks local.

A browser logs in once through a form; the cookie it gets holds an HMAC of
the token, never the token (changing the token logs everyone out), and is
HttpOnly (no script can read it) and SameSite=Strict (no other site can
send it). Scripts send ``Authorization: Bearer <token>``. Both comparisons are
constant-time. Nothing here logs a token.
"""

from __future__ import annotations

import hashlib
import hmac

from starlette.requests import Request

from watcher.config import Config, serving
from watcher.config.server import loopback

COOKIE = "ctwatch_ui"
_PURPOSE = b"ctwatch web UI session v1"


def session_value(token: str) -> str:
    """What the login cookie holds: derived from the token, not the token."""
    return hmac.new(token.encode(), _PURPOSE, hashlib.sha256).hexdigest()


def required_token(config: Config) -> str | None:
    """The UI token, when one is set."""
    server = config.server
    return server.ui_token.get_secret_value() if server and server.ui_token else None


def shut(config: Config, bound: str | None = None) -> bool:
    """No token and a non-loopback address: the UI answers 403.

    ``bound`` is the address the server bound at start: a reload that moves
    ``listen`` to loopback does not rebind the socket, so the old address decides."""
    listen = bound if bound is not None else serving(config).listen
    return required_token(config) is None and listen is not None and not loopback(listen)


def authorised(config: Config, request: Request) -> bool:
    """Whether this request may read the UI (call only when not :func:`shut`)."""
    token = required_token(config)
    if token is None:
        return True
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if scheme.lower() == "bearer" and given:
        return hmac.compare_digest(given.strip().encode(), token.encode())
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value(token).encode())


def token_matches(config: Config, given: str) -> bool:
    token = required_token(config)
    return token is not None and hmac.compare_digest(given.encode(), token.encode())
