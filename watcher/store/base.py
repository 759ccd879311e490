"""The shared connection every table group uses: one lock, one way to write.

Why a class of its own: the table groups (versions, outbox, runs,
subscriptions) are separate modules but must share one SQLite connection, one
re-entrant lock (the scheduler's threads share the connection) and one
definition of a write transaction.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

CHUNK = 500  # below SQLite's limit on bound variables per statement


class Connection:
    """A sqlite-utils Database with its lock, transactions and read helpers."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.lock = threading.RLock()

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One write transaction, serialised across threads.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a second process
        (cron next to the daemon, the slash endpoint) waits for the busy timeout
        instead of failing at once with "database is locked" when a read turns
        into a write.
        """
        with self.lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Every row of a query, read under the lock."""
        with self.lock:
            return list(self.db.execute(sql, params).fetchall())

    def one(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        with self.lock:
            row: sqlite3.Row | None = self.db.execute(sql, params).fetchone()
        return row

    def rows_in(self, select: str, column: str, values: Sequence[Any]) -> list[sqlite3.Row]:
        """``select`` + ``WHERE column IN (…)``, in chunks below SQLite's variable limit."""
        out: list[sqlite3.Row] = []
        with self.lock:
            for start in range(0, len(values), CHUNK):
                chunk = list(values[start : start + CHUNK])
                marks = ",".join("?" * len(chunk))
                query = f"{select} WHERE {column} IN ({marks})"
                out += self.db.execute(query, chunk).fetchall()
        return out

    def close(self) -> None:
        with self.lock:
            self.db.close()
