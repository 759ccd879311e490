"""One ctwatch at a time per database: an operating-system lock next to the file.

Why a file lock and not a row: two ``ctwatch check`` runs at once (cron
overlapping a slow run, a manual check beside the daemon) would record and
send the same change twice, and a lease in a table outlives a process killed
with ``kill -9``. ``flock`` is released by the kernel the moment its holder
dies, so a killed sender's alerts are free at once and a live one is never
overtaken. The lock file also names its holder (pid, host, since when) so the
second process can say who it is waiting for.

Held for a cycle and for a delivery round, never for a whole daemon's life:
a manual ``ctwatch check`` next to ``ctwatch run`` waits for the running
cycle, then goes.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from watcher.timeutil import iso, utc_now

POLL = 0.2


class Busy(Exception):
    """Another process holds the lock; the message names it."""


class ProcessLock:
    """An exclusive, re-entrant (per process) lock on ``<database>.lock``."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.path = path
        self._clock = clock
        self._sleep = sleep
        self._guard = threading.RLock()
        self._fd: int | None = None
        self._depth = 0
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{iso(utc_now())}"
        """``host:pid:start``: names this process on the rows it leases."""

    @contextmanager
    def held(self, wait: float) -> Iterator[None]:
        """Hold the lock for the block; Busy when another process keeps it past ``wait`` s."""
        self.acquire(wait)
        try:
            yield
        finally:
            self.release()

    def acquire(self, wait: float) -> None:
        self._guard.acquire()
        try:
            if self._depth == 0:
                self._fd = self._take(wait)
            self._depth += 1
        except BaseException:
            self._guard.release()
            raise

    def release(self) -> None:
        try:
            self._depth -= 1
            if self._depth == 0 and self._fd is not None:
                fd, self._fd = self._fd, None
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
        finally:
            self._guard.release()

    def _take(self, wait: float) -> int:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = self._clock() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if self._clock() >= deadline:
                    holder = self._holder(fd)
                    os.close(fd)
                    raise Busy(holder) from None
                self._sleep(POLL)
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(_me()).encode())
        return fd

    def _holder(self, fd: int) -> str:
        """Who holds it, in words (best effort: the holder may be writing its name)."""
        try:
            raw = os.pread(fd, 4096, 0)
            info = json.loads(raw)
            return (
                f"another ctwatch (pid {info['pid']} on {info['host']}, "
                f"since {info['since']}) is using {self.path.with_suffix('')}"
            )
        except (OSError, ValueError, KeyError, TypeError):
            return f"another ctwatch is using {self.path.with_suffix('')}"


def _me() -> dict[str, object]:
    return {"pid": os.getpid(), "host": socket.gethostname(), "since": iso(utc_now())}
