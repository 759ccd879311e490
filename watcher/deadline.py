"""A total deadline for one blocking network call, whatever the libraries below do.

Why: the time-outs of httpx, urllib (slack-sdk) and smtplib bound the wait
for *each* read, not the whole exchange, so a server that trickles one byte
every few seconds keeps a "30 s" request alive for hours. Two tools:

* :func:`call_with_deadline` runs the call in a daemon thread and stops
  waiting for it at the deadline. The caller moves on at once; the abandoned
  call ends with its connection (its own per-read time-out, or the server
  hanging up). Used where the library gives no handle on its socket.
* :class:`SocketWatchdog` shuts down a socket we do hold (smtplib's) when the
  deadline passes, which makes the blocked call fail immediately.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class DeadlineExceeded(TimeoutError):
    """The whole call took longer than its deadline."""


def call_with_deadline(call: Callable[[], T], seconds: float, name: str = "deadline") -> T:
    """``call()``'s result or exception, or DeadlineExceeded after ``seconds``."""
    outcome: list[T] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            outcome.append(call())
        except BaseException as exc:  # handed to the caller as it is
            failure.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    if not done.wait(seconds):
        raise DeadlineExceeded(f"no complete answer within {seconds:g} s")
    if failure:
        raise failure[0]
    return outcome[0]


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
