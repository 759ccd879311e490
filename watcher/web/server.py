"""uvicorn in a background thread: ``start`` binds (or raises), ``stop`` returns promptly.

Why a socket of our own: binding in the caller's thread turns "address in
use" into an OSError the CLI reports as one line with exit code 2, and the
port is known (tests ask for port 0) before the first request. uvicorn then
serves that socket from its own event loop with its access log off and no
logging configuration of its own (ours masks secrets; a feed token rides in a
query string and must never reach a log line), plus the limits of
:mod:`watcher.web.limits`.
"""

from __future__ import annotations

import logging
import socket
import threading
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from watcher.web.limits import DEFAULT_LIMITS, Limits, RequestCap, protocol

log = logging.getLogger(__name__)

GRACEFUL_STOP = 5


class WebServer:
    """Serves an ASGI app on ``address`` from a thread."""

    def __init__(
        self, app: ASGIApp, address: tuple[str, int], limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self._app = app
        self._address = address
        self._limits = limits
        self._socket: socket.socket | None = None
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> WebServer:
        """Bind (OSError when the address cannot be used) and serve from a thread."""
        host, port = self._address
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.create_server((host, port), family=family, backlog=128)
        limits = self._limits
        config = uvicorn.Config(
            RequestCap(self._app, limits.max_requests),
            http=protocol(limits),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            server_header=False,
            proxy_headers=False,
            timeout_keep_alive=limits.keep_alive,
            # uvicorn answers 503 when the open connections, the asking one included,
            # reach its limit: one more than ours makes "above max_connections" exact
            limit_concurrency=limits.max_connections + 1,
            timeout_graceful_shutdown=GRACEFUL_STOP,
        )
        server = uvicorn.Server(config)
        self._socket, self._server = sock, server
        self._thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="web-server", daemon=True
        )
        self._thread.start()
        log.info("web server listening on %s", self.origin)
        return self

    def stop(self) -> None:
        """Stop accepting, let answers in flight finish (a few seconds at most)."""
        server, thread, sock = self._server, self._thread, self._socket
        self._server = self._thread = self._socket = None
        if server is not None:
            server.should_exit = True
        if thread is not None:
            thread.join(GRACEFUL_STOP + 5)
        if sock is not None:
            sock.close()

    @property
    def origin(self) -> str:
        """``http://HOST:PORT`` as bound (the real port when 0 was asked)."""
        if self._socket is None:
            raise RuntimeError("the web server is not running")
        host, port = self._socket.getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}"

    def __enter__(self) -> WebServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
