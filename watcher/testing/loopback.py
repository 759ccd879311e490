"""Loopback HTTP servers for the project's doubles (the registry's and Slack's).

Why shared: a double has to stop at once even while a client (httpx, slack-sdk)
holds an idle keep-alive connection, and must never print request lines or
client hang-ups to stderr. Both doubles need exactly that, so it lives here:
the server tracks open connections and shuts them down on stop, and the handler
base speaks HTTP/1.1 with Content-Length and stays quiet.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Generic, Self, TypeVar

log = logging.getLogger(__name__)

Owner = TypeVar("Owner")
TEXT = "text/plain; charset=utf-8"


class LoopbackServer(ThreadingHTTPServer, Generic[Owner]):
    """A threaded server on 127.0.0.1 (ephemeral port) that knows its owner."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: Owner, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), handler)

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def close_connections(self) -> None:
        """Wake handler threads blocked on idle keep-alive reads so stop is prompt."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-response are normal here; keep stderr quiet."""
        name = type(self.owner).__name__
        log.debug("%s: error serving %s", name, client_address, exc_info=True)


class LoopbackHandler(BaseHTTPRequestHandler):
    """HTTP plumbing for a double: keep-alive, Content-Length, tracked, silent."""

    protocol_version = "HTTP/1.1"  # keep-alive, with Content-Length on every response
    sys_version = ""
    disable_nagle_algorithm = True  # headers and body go out in two writes
    timeout = 60  # an abandoned keep-alive connection does not pin a thread forever
    error_content_type = TEXT  # stdlib-generated errors are plain text too
    error_message_format = "%(message)s"

    def owner(self) -> Any:
        """The double this server answers for."""
        assert isinstance(self.server, LoopbackServer)
        return self.server.owner

    def setup(self) -> None:
        super().setup()
        assert isinstance(self.server, LoopbackServer)
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            assert isinstance(self.server, LoopbackServer)
            self.server.track(self.connection, open_=False)

    def read_body(self, limit: int = 64 * 1024 * 1024) -> bytes | None:
        """The request body (by Content-Length); None after answering 400 or 413 instead."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            self.send_error(400, "bad Content-Length")
            return None
        if length > limit:
            self.send_error(413, "request too large for the double")
            return None
        return self.rfile.read(length) if length > 0 else b""

    def reply(
        self, status: int, content_type: str, body: bytes, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Send one complete response."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silence per-request logging to stderr."""


def serve_in_thread(server: LoopbackServer[Any], name: str) -> threading.Thread:
    """Serve from a daemon thread (short poll, so shutdown is quick)."""
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name=name, daemon=True
    )
    thread.start()
    return thread


def shut_down(server: LoopbackServer[Any], thread: threading.Thread | None) -> None:
    """Stop serving, drop open keep-alive connections, close the socket."""
    server.shutdown()
    server.close_connections()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)


class LoopbackDouble:
    """Start, stop and ``with`` for a double served by a :class:`LoopbackServer`."""

    label = "double"

    def __init__(self) -> None:
        self._server: LoopbackServer[Any] | None = None
        self._thread: threading.Thread | None = None

    def handler_class(self) -> type[LoopbackHandler]:
        """The request handler that answers for this double."""
        raise NotImplementedError

    def start(self) -> Self:
        """Bind an ephemeral port and serve from a daemon thread; returns self."""
        if self._server is not None:
            raise RuntimeError(f"{self.label} is already running")
        server = LoopbackServer(self, self.handler_class())
        self._server = server
        self._thread = serve_in_thread(server, f"{self.label}:{server.server_port}")
        return self

    def stop(self) -> None:
        """Stop serving, drop open keep-alive connections and close the socket."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            shut_down(server, thread)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` while running."""
        if self._server is None:
            raise RuntimeError(f"{self.label} is not running; call start() first")
        return f"http://127.0.0.1:{self._server.server_port}"
