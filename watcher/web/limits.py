"""What a client may cost the web server: bytes, seconds, connections.

Why here and not left to the defaults: anyone who can reach the port can open
a connection, so nothing a client does may pin memory or a connection for
long. uvicorn bounds idle keep-alive connections (``timeout_keep_alive``) and
the concurrent connections (``limit_concurrency``, then 503), but not a client
that connects and sends its headers one byte a minute, nor one that trickles a
body; :class:`HeaderDeadline` and :func:`read_body` add those two deadlines.

Two caps, far apart: :class:`RequestCap` answers 503 above
:attr:`Limits.max_requests` requests *being handled*, which is what protects
the worker threads and the database; the connection cap (uvicorn's
``limit_concurrency``) is :attr:`Limits.max_connections`, eight times higher,
only so that file descriptors stay bounded. Idle and slow-header connections
count against the second alone (and are closed after ``header_seconds``), so
a few hundred idle sockets never silence Slack's slash commands and buttons.
Bodies are read only by the Slack routes (at most :attr:`Limits.max_body`,
16 KiB: a slash command or a click is a few KiB) and the UI's login form, each
through :func:`body_slot`: a request counts against the request cap only once
its body has arrived, so clients trickling bodies hold connections (bounded by
the connection cap and ``body_seconds``), never the slots Slack needs. Every
other route is a ``GET`` that never reads one.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_BODY = 16 * 1024
MAX_DRAIN = 1024 * 1024
DRAIN_SECONDS = 1.0


@dataclass(frozen=True)
class Limits:
    """Sizes and time-outs for the web server (tests shorten the seconds)."""

    max_body: int = MAX_BODY
    body_seconds: float = 10.0
    """Longest time to receive a whole request body."""
    header_seconds: float = 10.0
    """Longest time from connecting (or the previous answer) to a complete request head."""
    keep_alive: int = 5
    """Seconds an idle keep-alive connection stays open."""
    max_requests: int = 64
    """Requests handled at once; one more is answered 503 (``Retry-After: 1``)."""
    max_connections: int = 512
    """Open connections, idle ones included; a request on one more is answered 503."""
    ui_query_seconds: float = 2.0
    """Longest time one database read of a web UI page may take (then 503: narrow the
    filter); the UI reads through its own connection, so Slack never waits behind it."""


DEFAULT_LIMITS = Limits()


class HeaderDeadline(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose request head is overdue.

    The deadline is armed when the connection opens and after each answer; it
    is met when a new request cycle has started (its head was parsed).
    """

    header_seconds = DEFAULT_LIMITS.header_seconds

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def _arm(self) -> None:
        self.loop.call_later(self.header_seconds, self._overdue, self.cycle)

    def _overdue(self, armed_for: Any) -> None:
        if self.cycle is armed_for and not self.transport.is_closing():
            self.transport.close()


CAP_KEY = "ctwatch.request_cap"
"""Where :class:`RequestCap` leaves itself in the scope of a request with a body."""

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def busy() -> Response:
    """The answer above the cap."""
    return PlainTextResponse("busy; try again", 503, headers={"Retry-After": "1"})


class RequestCap:
    """ASGI middleware: at most ``limit`` HTTP requests in flight, 503 for one more.

    Counts requests being handled, not connections: a socket that is open but
    has sent no complete request head is no work yet, so it cannot crowd out
    one that has (uvicorn's own limit counts connections). Likewise a request
    with a body is no work until its body has arrived: it is let through
    uncounted (the cap in its scope, under :data:`CAP_KEY`) and :func:`body_slot`
    takes its slot once the body is complete - 64 clients trickling bodies
    must not silence Slack, ``/healthz`` and ``/metrics``. Bodies being read are
    bounded by the connection cap, ``max_body`` and ``body_seconds``.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0
        self.reading = 0
        """Request bodies being received (not counted in ``in_flight``)."""

    def take(self) -> bool:
        """One slot, or False when ``limit`` are taken (one event loop: no lock needed)."""
        if self.in_flight >= self.limit:
            return False
        self.in_flight += 1
        return True

    def release(self) -> None:
        self.in_flight -= 1

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] in BODY_METHODS:
            scope[CAP_KEY] = self  # body_slot takes the slot after the body
            await self.app(scope, receive, send)
            return
        if not self.take():
            await busy()(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self.release()


def protocol(limits: Limits) -> type[HeaderDeadline]:
    """:class:`HeaderDeadline` with ``limits``' header deadline."""
    attributes = {"header_seconds": limits.header_seconds}
    return type("HeaderDeadlineProtocol", (HeaderDeadline,), attributes)


@contextlib.asynccontextmanager
async def body_slot(request: Request, limits: Limits) -> AsyncIterator[bytes | Response]:
    """The body (see :func:`read_body`), then a :class:`RequestCap` slot held while the
    block handles it; a refusal (or 503 when the cap is full) is yielded instead."""
    cap = request.scope.get(CAP_KEY)
    if not isinstance(cap, RequestCap):  # no cap around this app (a test's bare app)
        yield await read_body(request, limits)
        return
    cap.reading += 1
    try:
        body = await read_body(request, limits)
    finally:
        cap.reading -= 1
    if isinstance(body, Response):
        yield body
        return
    if not cap.take():
        yield busy()
        return
    try:
        yield body
    finally:
        cap.release()


async def read_body(request: Request, limits: Limits) -> bytes | Response:
    """The whole body by ``Content-Length`` within the limits, or the answer that refuses it.

    411 without a length (or chunked), 400 for a malformed one, 413 over
    ``max_body`` (after reading and discarding a bounded part, so the client
    gets to read the answer), 408 when the body is not complete within
    ``body_seconds`` (a trickling client), 400 when the client hangs up.
    """
    headers = request.headers
    raw = headers.get("content-length")
    if "transfer-encoding" in headers or raw is None:
        return PlainTextResponse("Content-Length required", 411)
    if not (raw.strip().isascii() and raw.strip().isdecimal()):
        return PlainTextResponse("bad Content-Length", 400)
    length = int(raw)
    if length > limits.max_body:
        await _drain(request)
        return PlainTextResponse(f"request body over {limits.max_body} bytes", 413)
    chunks: list[bytes] = []
    try:
        async with asyncio.timeout(limits.body_seconds):
            async for chunk in request.stream():
                chunks.append(chunk)
    except TimeoutError:
        return PlainTextResponse("request body too slow", 408)
    except ClientDisconnect:
        return PlainTextResponse("request body incomplete", 400)
    body = b"".join(chunks)
    if len(body) != length:
        return PlainTextResponse("request body shorter than Content-Length", 400)
    return body


async def _drain(request: Request) -> None:
    """Read and drop up to MAX_DRAIN bytes for at most DRAIN_SECONDS.

    Closing a connection with unread input makes the kernel send a reset, which
    can destroy the answer before the client reads it.
    """
    seen = 0
    with contextlib.suppress(TimeoutError, ClientDisconnect):
        async with asyncio.timeout(DRAIN_SECONDS):
            async for chunk in request.stream():
                seen += len(chunk)
                if seen > MAX_DRAIN:
                    return
