"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, with scripted failures."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session


@dataclass
class Received:
    """One accepted message: envelope and parsed content."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)  # (stage, reply)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _failure(self, stage: str) -> str | None:
        with self.lock:
            if self.failures and self.failures[0][0] == stage:
                return self.failures.pop(0)[1]
        return None

    async def handle_RCPT(
        self,
        server: Any,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        reply = self._failure("RCPT")
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        reply = self._failure("DATA")
        if reply:
            return reply
        raw = bytes(envelope.original_content or b"")
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.lock:
            self.received.append(
                Received(str(envelope.mail_from), list(envelope.rcpt_tos), parsed, raw)
            )
        return "250 Message accepted"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class SmtpServer:
    """aiosmtpd Controller wrapper: ``received``, ``fail_next``, optional AUTH."""

    def __init__(self, *, username: str | None = None, password: str | None = None) -> None:
        self._handler = _Handler()
        self.port = _free_port()
        self.logins: list[str] = []
        kwargs: dict[str, Any] = {}
        if username is not None:
            kwargs = {
                "authenticator": self._authenticate,
                "auth_require_tls": False,
                "auth_required": True,
            }
        self._credentials = (username, password)
        self._controller = Controller(self._handler, hostname="127.0.0.1", port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, secret = auth_data.login.decode(), auth_data.password.decode()
            if (user, secret) == self._credentials:
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    def __enter__(self) -> SmtpServer:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    @property
    def received(self) -> list[Received]:
        with self._handler.lock:
            return list(self._handler.received)

    def fail_next(self, reply: str, *, stage: str = "DATA", times: int = 1) -> None:
        """Answer the next ``times`` DATA (or RCPT) commands with ``reply``."""
        with self._handler.lock:
            self._handler.failures.extend([(stage, reply)] * times)
