"""Troubles: conditions told to people once when they start and once when they end.

Why a table: a registry outage or a trial gone from the registry lasts many
cycles; the destinations hear about it once (after ``trouble_after`` failed
cycles, or at once for a trial that disappeared), and once more when it is
over, whichever process runs the cycles. The functions take the open
transaction's database, so a notice and the change that caused it commit
together.
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.base import Connection
from watcher.store.outbox import insert_rows
from watcher.store.rows import OutboxRow, Trouble, from_row


def begin(db: Database, key: str, since: str, detail: str) -> None:
    """Remember that a condition began (a second begin keeps the first)."""
    db.execute(
        "INSERT OR IGNORE INTO troubles (key, since, detail) VALUES (?, ?, ?)",
        [key, since, detail],
    )


def tell(db: Database, key: str, rows: list[OutboxRow], now: str) -> bool:
    """Queue ``rows`` and mark the condition told, unless it was told already."""
    begin(db, key, now, "")
    cursor = db.execute("UPDATE troubles SET told = 1 WHERE key = ? AND told = 0", [key])
    if not cursor.rowcount:
        return False
    insert_rows(db, rows, now)
    return True


def end(db: Database, key: str, rows: list[OutboxRow], now: str) -> bool:
    """Forget the condition; if it had been told, queue ``rows`` (the all-clear)."""
    row = db.execute("SELECT told FROM troubles WHERE key = ?", [key]).fetchone()
    if row is None:
        return False
    db.execute("DELETE FROM troubles WHERE key = ?", [key])
    if row["told"]:
        insert_rows(db, rows, now)
    return bool(row["told"])


class Troubles:
    """Reads ``troubles``; each write is its own transaction."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, key: str) -> Trouble | None:
        row = self._conn.one("SELECT key, since, told, detail FROM troubles WHERE key = ?", [key])
        return from_row(Trouble, row, told=bool(row["told"])) if row else None

    def active(self) -> list[Trouble]:
        """Every condition that has begun and not ended, oldest first."""
        rows = self._conn.rows("SELECT key, since, told, detail FROM troubles ORDER BY since, key")
        return [from_row(Trouble, r, told=bool(r["told"])) for r in rows]

    def begin(self, key: str, since: str, detail: str) -> None:
        with self._conn.atomic() as db:
            begin(db, key, since, self._conn.masked(detail))

    def tell(self, key: str, rows: list[OutboxRow], now: str) -> bool:
        with self._conn.atomic() as db:
            return tell(db, key, rows, now)

    def end(self, key: str, rows: list[OutboxRow], now: str) -> bool:
        with self._conn.atomic() as db:
            return end(db, key, rows, now)
