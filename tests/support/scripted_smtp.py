"""A bare SMTP server with scripted replies, for the cases aiosmtpd will not play.

aiosmtpd speaks SMTP correctly; the hostile world does not. This server answers
each command with a reply the test chooses (``replies["QUIT"] = "421 …"``,
``replies["AUTH"] = "535 … {line}"`` where ``{line}`` is the client's own
command, echoed as some servers do) and counts the messages it accepted.
"""

from __future__ import annotations

import socketserver
import threading
from types import TracebackType


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        replies = self.server.replies
        self._say("220 scripted ready")
        while line := self.rfile.readline():
            text = line.decode("utf-8", "replace").strip()
            verb = text.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self._say(replies.get(verb, "250-scripted\r\n250 AUTH PLAIN LOGIN"))
            elif verb == "DATA":
                self._say("354 go ahead")
                while self.rfile.readline() not in (b".\r\n", b""):
                    pass
                with self.server.lock:
                    self.server.accepted += 1
                self._say(replies.get("DATA", "250 2.0.0 queued"))
            elif verb == "QUIT":
                self._say(replies.get("QUIT", "221 bye"))
                return
            else:
                self._say(replies.get(verb, "250 OK").replace("{line}", text))

    def _say(self, reply: str) -> None:
        self.wfile.write(reply.encode() + b"\r\n")
        self.wfile.flush()


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.replies: dict[str, str] = {}
        self.accepted = 0
        self.lock = threading.Lock()


class ScriptedSmtp:
    """``with ScriptedSmtp() as smtp:`` then ``smtp.replies[...]``, ``smtp.port``, ``smtp.accepted``."""

    def __init__(self) -> None:
        self._server = _Server()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def replies(self) -> dict[str, str]:
        return self._server.replies

    @property
    def accepted(self) -> int:
        with self._server.lock:
            return self._server.accepted

    def __enter__(self) -> ScriptedSmtp:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
