"""The outbox: alerts as rows, claimed, sent and marked with their outcome.

Why rows: an alert is committed with the version it describes (see
:mod:`watcher.store.versions`), so a notifier outage or a crash between
detecting and sending loses nothing. Rows are claimed one destination at a
time, just before that destination is tried; the process lock
(:mod:`watcher.store.lock`) makes the claimer the only sender, so a row leased
by a process that died is simply claimed again, at once. ``lease_owner`` says
who is sending, for people reading the table.

This is the store boundary for destinations: the canonical key string is
written and parsed here only. Error texts are masked before they are stored.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from sqlite_utils import Database

from watcher.core.destination import Destination
from watcher.store.base import Connection
from watcher.store.rows import OutboxClaim, OutboxProblem, OutboxRow, from_row

_CLAIM_COLUMNS = """o.id, o.version_id, o.nct_id, o.kind, o.payload, o.destination, o.paths,
                    o.attempts, o.created_at, COALESCE(o.age_from, o.created_at) AS age_from,
                    t.title, v.last_update_posted, v.registry_version,
                    (SELECT p.registry_version FROM versions p
                     WHERE p.nct_id = v.nct_id AND p.position < v.position
                     ORDER BY p.position DESC LIMIT 1) AS previous_registry_version"""


def insert_rows(
    db: Database,
    rows: Sequence[OutboxRow],
    now: str,
    *,
    version_id: int | None = None,
    nct_id: str | None = None,
) -> None:
    """Insert outbox rows (one per destination and version: a repeat is ignored)."""
    db.conn.executemany(
        """INSERT OR IGNORE INTO outbox (version_id, nct_id, kind, payload, destination, paths,
                                         created_at, next_attempt_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
        [
            (
                version_id,
                row.nct_id or nct_id,
                row.kind,
                None if row.payload is None else json.dumps(row.payload, ensure_ascii=False),
                row.destination.key,
                None if row.paths is None else json.dumps(list(row.paths)),
                now,
                now,
            )
            for row in rows
        ],
    )


def _claim(row: sqlite3.Row) -> OutboxClaim:
    return from_row(
        OutboxClaim,
        row,
        destination=Destination.parse(row["destination"]),
        paths=None if row["paths"] is None else tuple(json.loads(row["paths"])),
        payload=None if row["payload"] is None else json.loads(row["payload"]),
        title=row["title"] or "",
        nct_id=row["nct_id"] or "",
    )


class Outbox:
    """Reads and writes ``outbox``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, rows: Sequence[OutboxRow], now: str) -> None:
        """Queue alerts that belong to no version (notices), in one transaction."""
        with self._conn.atomic() as db:
            insert_rows(db, rows, now)

    def due_destinations(self, now: str, *, force: bool) -> list[Destination]:
        """Destinations with pending rows that are due (every pending one when ``force``)."""
        due = "" if force else " AND next_attempt_at <= ?"
        rows = self._conn.rows(
            f"""SELECT destination FROM outbox WHERE status = 'pending'{due}
                GROUP BY destination ORDER BY MIN(id)""",  # noqa: S608 - fixed fragments
            [] if force else [now],
        )
        return [Destination.parse(r["destination"]) for r in rows]

    def claim(
        self, destination: Destination, now: str, owner: str, *, force: bool
    ) -> list[OutboxClaim]:
        """Lease one destination's due rows to ``owner`` and return them, oldest first.

        The caller holds the process lock, so a lease another process left
        behind (it died mid-send) does not keep these rows back. Each claim
        carries the trial's title and the version's date, read in the same
        query, so building its alert needs no further lookups.
        """
        due = "" if force else " AND o.next_attempt_at <= :now"
        with self._conn.atomic() as db:
            rows = db.execute(
                f"""SELECT {_CLAIM_COLUMNS}
                    FROM outbox o
                    LEFT JOIN versions v ON v.id = o.version_id
                    LEFT JOIN trials t ON t.nct_id = o.nct_id
                    WHERE o.status = 'pending' AND o.destination = :destination{due}
                    ORDER BY o.id""",  # noqa: S608 - fixed fragments
                {"now": now, "destination": destination.key},
            ).fetchall()
            db.conn.executemany(
                "UPDATE outbox SET lease_owner = ?, lease_until = NULL WHERE id = ?",
                [(owner, r["id"]) for r in rows],
            )
        return [_claim(r) for r in rows]

    def claims_of(self, ids: Sequence[int]) -> list[OutboxClaim]:
        """Rows by id, read as claims (a digest's members), in id order."""
        if not ids:
            return []
        rows = self._conn.rows_in(
            f"""SELECT {_CLAIM_COLUMNS} FROM outbox o
                LEFT JOIN versions v ON v.id = o.version_id
                LEFT JOIN trials t ON t.nct_id = o.nct_id""",  # noqa: S608 - fixed fragments
            "o.id",
            list(ids),
        )
        return sorted((_claim(r) for r in rows), key=lambda c: c.id)

    def mark_sent(self, outbox_ids: Sequence[int], now: str) -> None:
        with self._conn.atomic() as db:
            db.conn.executemany(
                """UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                       lease_owner = NULL, lease_until = NULL, last_error = NULL WHERE id = ?""",
                [(now, i) for i in outbox_ids],
            )

    def mark_retry(self, outbox_id: int, error: str, next_attempt_at: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?,
                       next_attempt_at = ?, lease_owner = NULL, lease_until = NULL
                   WHERE id = ?""",
                [self._conn.masked(error), next_attempt_at, outbox_id],
            )

    def mark_failed(self, outbox_id: int, error: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,
                       lease_owner = NULL, lease_until = NULL WHERE id = ?""",
                [self._conn.masked(error), outbox_id],
            )

    def mark_muted(self, reasons: Sequence[tuple[int, str]]) -> None:
        """``(row, why)``: held back by a mute, never sent, shown as ``muted`` (not failed)."""
        with self._conn.atomic() as db:
            db.conn.executemany(
                """UPDATE outbox SET status = 'muted', last_error = ?,
                       lease_owner = NULL, lease_until = NULL WHERE id = ?""",
                [(self._conn.masked(reason), i) for i, reason in reasons],
            )

    def split(
        self,
        claim: OutboxClaim,
        *,
        sent: Destination | None,
        retry: tuple[Destination, str, str] | None,
        failed: tuple[Destination, str] | None,
        now: str,
    ) -> None:
        """Settle a row whose destination answered differently per target (SMTP recipients).

        The row keeps the part that was sent (or, when none was, the part to
        retry); the other parts become rows of their own with the same alert,
        age and attempt count, so a retry never reaches a recipient twice.
        """
        masked = self._conn.masked
        parts: list[tuple[Destination, str, str | None, str | None]] = []
        if sent is not None:
            parts.append((sent, "sent", None, None))
        if retry is not None:
            parts.append((retry[0], "pending", masked(retry[1]), retry[2]))
        if failed is not None:
            parts.append((failed[0], "failed", masked(failed[1]), None))
        with self._conn.atomic() as db:
            first, *others = parts
            _settle(db, claim.id, first, now)
            for part in others:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO outbox (version_id, nct_id, kind, payload,
                           destination, paths, created_at, age_from, next_attempt_at, attempts)
                       SELECT version_id, nct_id, kind, payload, ?, paths, created_at, age_from,
                              ?, attempts FROM outbox WHERE id = ?""",
                    [part[0].key, part[3] or now, claim.id],
                )
                if cursor.rowcount:  # else a row for that target and version exists already
                    _settle(db, int(cursor.lastrowid or 0), part, now)

    def counts(self) -> dict[str, int]:
        """``{"pending": n, "sent": n, "failed": n}``."""
        rows = self._conn.rows("SELECT status, COUNT(*) AS n FROM outbox GROUP BY status")
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r["status"]: r["n"] for r in rows})
        return counts

    def problems(self) -> list[OutboxProblem]:
        """Rows that failed for good or are waiting after an error, newest first."""
        rows = self._conn.rows(
            """SELECT nct_id, destination, status, attempts, last_error, next_attempt_at
               FROM outbox WHERE status = 'failed' OR (status = 'pending' AND attempts > 0)
               ORDER BY id DESC"""
        )
        return [_problem(r) for r in rows]

    def last_id(self) -> int:
        """The newest row's id (0 for none): alerts queued later have greater ids."""
        row = self._conn.one("SELECT COALESCE(MAX(id), 0) AS last FROM outbox")
        return int(row["last"]) if row else 0

    def queued_after(self, last_id: int) -> list[tuple[OutboxClaim, str]]:
        """Alerts queued after ``last_id``, with their status now (what a cycle produced)."""
        rows = self._conn.rows(
            f"""SELECT {_CLAIM_COLUMNS}, o.status FROM outbox o
                LEFT JOIN versions v ON v.id = o.version_id
                LEFT JOIN trials t ON t.nct_id = o.nct_id
                WHERE o.id > ? ORDER BY o.id""",  # noqa: S608 - fixed fragments
            [last_id],
        )
        return [(_claim(r), str(r["status"])) for r in rows]

    # ---- what ``ctwatch outbox`` reads and changes (the caller holds the process lock) ---

    def unsent(self, statuses: Sequence[str] = ("pending", "failed")) -> list[OutboxProblem]:
        """Every alert in these states, oldest first."""
        marks = ",".join("?" * len(statuses))
        rows = self._conn.rows(
            f"""SELECT id, nct_id, kind, destination, status, attempts, last_error,
                       next_attempt_at, created_at
                FROM outbox WHERE status IN ({marks}) ORDER BY id""",  # noqa: S608 - marks
            list(statuses),
        )
        return [_problem(r) for r in rows]

    def requeue(self, ids: Sequence[int], now: str) -> int:
        """Make alerts due now. A failed one starts afresh: pending, no attempts, and its
        age counted from now, so ``give_up_after`` does not fail it again at once. Its
        ``created_at`` stays: the webhook-id a receiver deduplicates on is made from it."""
        with self._conn.atomic() as db:
            cursor = db.conn.executemany(
                """UPDATE outbox SET next_attempt_at = ?, lease_owner = NULL, lease_until = NULL,
                       age_from = CASE WHEN status = 'failed' THEN ? ELSE age_from END,
                       attempts = CASE WHEN status = 'failed' THEN 0 ELSE attempts END,
                       status = 'pending'
                   WHERE id = ? AND status IN ('pending', 'failed')""",
                [(now, now, i) for i in ids],
            )
        return cursor.rowcount

    def discard(self, ids: Sequence[int]) -> int:
        """Delete unsent alerts (their versions and changes stay)."""
        with self._conn.atomic() as db:
            cursor = db.conn.executemany(
                "DELETE FROM outbox WHERE id = ? AND status IN ('pending', 'failed')",
                [(i,) for i in ids],
            )
        return cursor.rowcount


def _problem(row: sqlite3.Row) -> OutboxProblem:
    return from_row(
        OutboxProblem,
        row,
        destination=Destination.parse(row["destination"]),
        nct_id=row["nct_id"] or "",
    )


def _settle(
    db: Database, outbox_id: int, part: tuple[Destination, str, str | None, str | None], now: str
) -> None:
    """Give a row its part's outcome; its target narrows unless another row has it already."""
    destination, status, error, next_attempt = part
    db.execute(
        """UPDATE outbox SET status = ?, last_error = ?, attempts = attempts + 1,
               next_attempt_at = COALESCE(?, next_attempt_at),
               sent_at = CASE WHEN ? = 'sent' THEN ? ELSE sent_at END,
               lease_owner = NULL, lease_until = NULL
           WHERE id = ?""",
        [status, error, next_attempt, status, now, outbox_id],
    )
    db.execute(
        "UPDATE OR IGNORE outbox SET destination = ? WHERE id = ?", [destination.key, outbox_id]
    )
