"""A loopback endpoint that receives POSTs: the base of the Teams and webhook doubles.

Why shared: both doubles record every request they get (headers and body,
answered or not), answer by their own rules, and need the same canned
faults to prove the notifiers' hostile-world handling: an HTTP status with
a body and headers (``Retry-After``), a slow answer, a connection dropped
after the request was read, and an answer lost after the request was acted
on (the receiver got it, the sender never heard back: the retry must look
the same). Tests wait on conditions
(:meth:`SinkDouble.wait_for`), never sleep.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qs, urlsplit

from watcher.testing.loopback import TEXT, LoopbackDouble, LoopbackHandler

JSON = "application/json; charset=utf-8"
MAX_REQUEST = 8 * 1024 * 1024
DROPPED = 0
"""The ``status`` recorded for a request whose connection was dropped unanswered."""


@dataclass(frozen=True)
class Reply:
    """How to answer one request."""

    status: int
    body: bytes = b""
    content_type: str = TEXT
    headers: tuple[tuple[str, str], ...] = ()
    drop: bool = False
    delay: float = 0.0


@dataclass(frozen=True)
class Request:
    """One request as it arrived."""

    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]  # names lowercased
    body: bytes = field(repr=False)


@dataclass(frozen=True)
class Received(Request):
    """One request and what became of it."""

    status: int = 0  # DROPPED when the connection was closed unanswered
    note: str = ""  # what the double made of it (e.g. "verified")


@dataclass
class _Fault:
    reply: Reply
    remaining: int


class SinkDouble(LoopbackDouble):
    """Records POSTs; answers canned faults first, then by :meth:`answer`."""

    label = "sink double"

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._faults: list[_Fault] = []
        self._received: list[Received] = []
        self._lose = 0

    def handler_class(self) -> type[LoopbackHandler]:
        return _Handler

    def answer(self, request: Request) -> tuple[Reply, str]:
        """The double's own rules (called under the lock): the reply and a note to record."""
        raise NotImplementedError

    def fail_next(
        self,
        status: int = 500,
        body: str | bytes = "",
        *,
        headers: Mapping[str, str] | None = None,
        content_type: str = TEXT,
        times: int = 1,
        drop: bool = False,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests with ``status`` (and ``body``, ``headers``).

        ``drop=True`` reads the request, records it, and closes the connection
        without answering; ``delay`` holds the answer back that many seconds.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        raw = body.encode("utf-8") if isinstance(body, str) else body
        reply = Reply(status, raw, content_type, tuple((headers or {}).items()), drop, delay)
        with self._lock:
            self._faults.append(_Fault(reply, times))

    def lose_answers(self, times: int = 1) -> None:
        """Handle the next ``times`` requests as usual, then drop each connection unanswered.

        The receiver acted on the request but the sender never heard back: the
        sender's retry must be recognisable as the same request.
        """
        with self._lock:
            self._lose += times

    @property
    def received(self) -> list[Received]:
        """Every request so far (faulted and dropped ones too), oldest first."""
        with self._lock:
            return list(self._received)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        """Block until ``count`` requests arrived (or ``timeout``); returns them all."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._received) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
            return list(self._received)

    def _dispatch(self, verb: str, target: str, headers: Mapping[str, str], body: bytes) -> Reply:
        split = urlsplit(target)
        query = parse_qs(split.query, keep_blank_values=True)
        request = Request(split.path, query, headers, body)
        with self._lock:
            if self._faults:
                fault = self._faults[0]
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[0]
                reply, note = fault.reply, "canned"
            elif verb != "POST":
                reply, note = Reply(405, b"method not allowed"), "not a POST"
            else:
                reply, note = self.answer(request)
                if self._lose > 0:
                    self._lose -= 1
                    reply, note = replace(reply, drop=True), f"{note}, answer lost"
            status = DROPPED if reply.drop else reply.status
            self._received.append(
                Received(request.path, query, headers, body, status=status, note=note)
            )
            self._changed.notify_all()
        return reply


def json_reply(status: int, body: bytes, headers: Iterable[tuple[str, str]] = ()) -> Reply:
    return Reply(status, body, JSON, tuple(headers))


class _Handler(LoopbackHandler):
    """HTTP plumbing only: every decision is made by ``SinkDouble._dispatch``."""

    server_version = "ctwatch-sink-double"

    def _serve(self, verb: str) -> None:
        body = self.read_body(MAX_REQUEST)
        if body is None:
            return
        headers = {name.lower(): value for name, value in self.headers.items()}
        owner: Any = self.owner()
        reply: Reply = owner._dispatch(verb, self.path, headers, body)
        if reply.delay:
            time.sleep(reply.delay)  # the double plays a slow server
        if reply.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.reply(reply.status, reply.content_type, reply.body, reply.headers)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")
