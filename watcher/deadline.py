"""A total deadline for one blocking network call, whatever the libraries below do.

Why: the time-outs of httpx, urllib (slack-sdk) and smtplib bound the wait
for *each* read, not the whole exchange, so a server that trickles one byte
every few seconds keeps a "30 s" request alive for hours. Two tools:

* :func:`call_with_deadline` runs the call in a daemon thread and stops
  waiting for it at the deadline. The caller moves on at once, and the
  abandoned call is made to end too: ``on_abandon`` shuts its connection down,
  so no thread goes on reading from a trickling server (the daemon would pile
  them up, one per cycle, each with an open socket).
* :class:`OpenSockets` gives that ``on_abandon`` for httpx (the registry,
  Teams, webhooks): each :meth:`~OpenSockets.attempt` has a ``trace`` for
  httpx's documented ``trace`` request extension, which reports the sockets
  httpcore connects, and an ``abandon`` that shuts them down.
* for urllib's ``http.client`` (slack-sdk's transport) nothing is needed:
  :func:`call_with_deadline` notes the connections its worker thread sends on
  (the ``http.client.send`` audit event) and shuts them down itself.
* :class:`SocketWatchdog` shuts down a socket we do hold (smtplib's) when the
  deadline passes, which makes the blocked call fail immediately.
"""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
import weakref
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The whole call took longer than its deadline."""


def call_with_deadline(
    call: Callable[[], T],
    seconds: float,
    name: str = "deadline",
    on_abandon: Callable[[], None] | None = None,
) -> T:
    """``call()``'s result or exception, or DeadlineExceeded after ``seconds``.

    ``on_abandon`` runs when the deadline gives up, before DeadlineExceeded is
    raised: it closes what the call is blocked on, so the worker thread ends
    too. Without it (or with a urllib call) the connections the worker sent on
    through ``http.client`` are shut down.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()
    sent = _UrllibSends()

    def run() -> None:
        _tracker().watch(sent)
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the caller as it is
            failure.append(exc)
        finally:
            _tracker().watch(None)
            done.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    if not done.wait(seconds):
        if on_abandon is not None:
            on_abandon()
        sent.shutdown()
        raise DeadlineExceeded(f"no complete answer within {seconds:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


def _shutdown(sock: socket.socket) -> None:
    """Wake whoever is blocked reading ``sock``: the read ends at once, the socket is
    left for its owner to close (closing it here could hand its number to another)."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


class OpenSockets:
    """The sockets httpx connected for one client, to shut down when a deadline gives up.

    Each request gets an :meth:`attempt`; pass its ``trace`` as the request's
    ``trace`` extension (``client.stream(..., extensions={"trace": a.trace})``):
    httpcore reports each new connection (and its TLS layer) there, and a
    kept-alive connection reused by a later request is still known here.
    Sockets are held weakly; a closed one is simply skipped.
    """

    EVENTS = ("connection.connect_tcp.complete", "connection.start_tls.complete")

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()
        self._lock = threading.Lock()

    def attempt(self) -> Attempt:
        """One request's view: its ``trace``, and ``abandon`` for ``on_abandon``."""
        return Attempt(self)

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def shutdown(self) -> None:
        """Shut down every socket still open (the client makes new ones as needed)."""
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _shutdown(sock)


class Attempt:
    """One request of an :class:`OpenSockets` client.

    A connection made after the request was abandoned (the deadline passed
    while it was still connecting) is shut down as soon as it is reported.
    """

    def __init__(self, owner: OpenSockets) -> None:
        self._owner = owner
        self.abandoned = False

    def trace(self, event: str, info: Mapping[str, Any]) -> None:
        if event not in OpenSockets.EVENTS:
            return
        stream = info.get("return_value")
        get = getattr(stream, "get_extra_info", None)
        sock = get("socket") if callable(get) else None
        if isinstance(sock, socket.socket):
            self._owner.add(sock)
            if self.abandoned:
                _shutdown(sock)

    def abandon(self) -> None:
        self.abandoned = True
        self._owner.shutdown()


class _UrllibSends:
    """The ``http.client`` connections one worker thread sent on (see :func:`_tracker`)."""

    def __init__(self) -> None:
        self._connections: weakref.WeakSet[Any] = weakref.WeakSet()
        self._lock = threading.Lock()
        self.abandoned = False

    def add(self, connection: Any) -> None:
        with self._lock:
            self._connections.add(connection)
        if self.abandoned:  # sent after the deadline gave up: shut at once
            _shut_connection(connection)

    def shutdown(self) -> None:
        self.abandoned = True
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            _shut_connection(connection)


def _shut_connection(connection: Any) -> None:
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        _shutdown(sock)


class _Tracker:
    """Which worker threads want their ``http.client`` connections noted.

    Why an audit hook: urllib gives no handle on its socket before the
    response, and slack-sdk opens its own; ``http.client.send`` is raised with
    the connection on every send, in the sending thread, after the TLS layer
    is in place. The hook is added once per process (hooks cannot be removed)
    and costs a string comparison per audited event.
    """

    def __init__(self) -> None:
        self._local = threading.local()
        sys.addaudithook(self._hook)

    def watch(self, sends: _UrllibSends | None) -> None:
        self._local.sends = sends

    def _hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event != "http.client.send":
            return
        sends: _UrllibSends | None = getattr(self._local, "sends", None)
        if sends is not None and args:
            sends.add(args[0])


@cache
def _tracker() -> _Tracker:
    """The process's one tracker, made on first use (nothing happens at import). Two
    first calls at once may make two; harmless: each worker thread is used once, and
    a second hook only notes that thread's connections twice in a set."""
    return _Tracker()


class SocketWatchdog:
    """Shuts a socket down when a deadline passes; use as a context manager.

    ``sock`` is read when the deadline fires (the socket may be created after
    the watchdog starts, e.g. inside ``smtplib.SMTP.connect``).
    """

    def __init__(self, sock: Callable[[], socket.socket | None], seconds: float) -> None:
        self._sock = sock
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True
        self.fired = False

    def _fire(self) -> None:
        self.fired = True
        target = self._sock()
        if target is not None:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> SocketWatchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()
