"""A server that answers every connection one byte at a time: the slow loris.

Why: per-read time-outs (httpx, urllib, smtplib) never fire while bytes keep
arriving, so a server that trickles an answer can hold a "30 s" request open
for hours. Tests point the registry client, the Slack notifier and the SMTP
notifier at this server to prove their *total* deadlines hold. It speaks no
protocol: it writes a fixed payload (an HTTP response, an SMTP greeting),
slowly, and ignores what it is sent.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class TrickleServer:
    """Serves ``payload`` to every connection, one byte every ``interval`` seconds."""

    def __init__(self, payload: bytes, interval: float = 0.2) -> None:
        self.payload = payload
        self.interval = interval
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.1)
        self._thread = threading.Thread(target=self._accept, name="trickle", daemon=True)
        self.connections = 0

    @property
    def port(self) -> int:
        return int(self._sock.getsockname()[1])

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> TrickleServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            conn.settimeout(self.interval)
            for index in range(len(self.payload)):
                if self._stop.wait(self.interval):
                    return
                try:
                    if conn.recv(65536) == b"":  # drain what the client sends, never answer it
                        return  # the client hung up
                except TimeoutError:
                    pass
                conn.sendall(self.payload[index : index + 1])
