"""The shared connection every table group uses: one lock, one way to write.

Why a class of its own: the table groups (versions, outbox, runs,
subscriptions) are separate modules but must share one SQLite connection, one
re-entrant lock (the scheduler's threads share the connection) and one
definition of a write transaction.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from watcher.redact import redact

CHUNK = 500  # below SQLite's limit on bound variables per statement


class StoreError(Exception):
    """The database cannot be opened, read or written; the message names the file."""


class QueryTooSlow(StoreError):
    """A read stopped at its connection's ``read_seconds`` (the web UI's own connection):
    the filter asks SQLite for too much; narrowing it helps, trying again does not."""


PROGRESS_STEPS = 20_000
"""SQLite virtual-machine steps between two looks at the clock of a time-limited read."""


class Connection:
    """A sqlite-utils Database with its lock, transactions, read helpers and mask.

    Every error text written through :meth:`masked` passes the redactor first,
    so a secret echoed by a server never reaches the database.
    """

    def __init__(self, db: Database, path: str, masked: Callable[[str], str] = redact) -> None:
        self.db = db
        self.path = path
        self.lock = threading.RLock()
        self._savepoints = itertools.count()  # unique names, nested or not
        self.masked = masked
        self.read_seconds: float | None = None
        """Longest time a read may take (None: no limit); over it, :class:`QueryTooSlow`."""
        self._deadline: float | None = None

    def masked_optional(self, text: str | None) -> str | None:
        return None if text is None else self.masked(text)

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One write transaction, serialised across threads.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a second process
        (cron next to the daemon, the slash endpoint) waits for the busy timeout
        instead of failing at once with "database is locked" when a read turns
        into a write. A database that cannot be written (read-only, locked past
        the timeout, disk full) raises StoreError naming the file.
        """
        with self.lock, self._errors("write"):
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def savepoint(self) -> Iterator[None]:
        """A nested unit inside :meth:`atomic`: undone alone when its block raises."""
        name = f"sp_{next(self._savepoints)}"
        conn = self.db.conn
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")

    @contextmanager
    def _errors(self, verb: str) -> Iterator[None]:
        limit = self.read_seconds if verb == "read" and self._deadline is None else None
        if limit is not None:  # called under the lock: one read at a time sets the clock
            deadline = self._deadline = time.monotonic() + limit
            self.db.conn.set_progress_handler(
                lambda: 1 if time.monotonic() > deadline else 0, PROGRESS_STEPS
            )
        try:
            yield
        except sqlite3.OperationalError as exc:
            if limit is not None and "interrupt" in str(exc):
                raise QueryTooSlow(f"a read of {self.path} took over {limit:g} s") from None
            raise StoreError(f"cannot {verb} {self.path} ({exc})") from None
        finally:
            if limit is not None:
                self.db.conn.set_progress_handler(None, 0)
                self._deadline = None

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query, read under the lock."""
        with self.lock, self._errors("read"):
            return list(self.db.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        with self.lock, self._errors("read"):
            row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    def stream(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), size: int = 1000
    ) -> Iterator[sqlite3.Row]:
        """The rows of a query, fetched ``size`` at a time (memory bounded by ``size``).

        The lock is held while the caller iterates: read it to the end (or
        close the generator) before writing through this connection.
        """
        with self.lock, self._errors("read"):
            cursor = self.db.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield from batch

    def batches(
        self, sql: str, params: Sequence[Any] | dict[str, Any] = (), size: int = 1000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """:meth:`stream` as lists of plain tuples: at whole-registry size (580,000 rows) a
        :class:`sqlite3.Row` and a generator step for every row are a good part of the time."""
        with self.lock, self._errors("read"):
            cursor = self.db.conn.cursor()
            cursor.row_factory = None
            cursor.execute(sql, params)
            while batch := cursor.fetchmany(size):
                yield batch

    def rows_in(self, select: str, column: str, values: Sequence[Any]) -> list[sqlite3.Row]:
        """``select`` + ``WHERE column IN (…)``, in chunks below SQLite's variable limit."""
        out: list[sqlite3.Row] = []
        with self.lock, self._errors("read"):
            for start in range(0, len(values), CHUNK):
                chunk = list(values[start : start + CHUNK])
                marks = ",".join("?" * len(chunk))
                query = f"{select} WHERE {column} IN ({marks})"
                out += self.db.execute(query, chunk).fetchall()
        return out

    def close(self) -> None:
        with self.lock:
            self.db.close()
