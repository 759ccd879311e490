"""The outbox: alerts as rows, claimed, sent and marked with their outcome.

Why rows: an alert is committed with the version it describes (see
:mod:`watcher.store.versions`), so a notifier outage or a crash between
detecting and sending loses nothing. This is the store boundary for
destinations: the canonical key string is written and parsed here only.
"""

from __future__ import annotations

import json
import sqlite3

from watcher.core.destination import Destination
from watcher.store.base import Connection
from watcher.store.rows import OutboxClaim, OutboxProblem, from_row


def _claim(row: sqlite3.Row) -> OutboxClaim:
    paths = None if row["paths"] is None else tuple(json.loads(row["paths"]))
    return from_row(
        OutboxClaim,
        row,
        destination=Destination.parse(row["destination"]),
        paths=paths,
        title=row["title"] or "",
    )


class Outbox:
    """Reads and writes ``outbox``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim_due(self, now: str, lease_until: str, *, force: bool) -> list[OutboxClaim]:
        """Lease the pending rows that are due (all pending ones when ``force``).

        The lease keeps a second process (cron next to a daemon) from sending
        the same row at the same time; a process killed mid-send leaves the row
        pending, so the next run sends it again once the lease has expired.
        Each claim carries the trial's title and the version's date, read in
        the same query, so building its alert needs no further lookups.
        """
        due = "" if force else " AND o.next_attempt_at <= :now"
        with self._conn.atomic() as db:
            rows = db.execute(
                f"""SELECT o.id, o.version_id, o.nct_id, o.destination, o.paths, o.attempts,
                           t.title, v.last_update_posted
                    FROM outbox o
                    JOIN versions v ON v.id = o.version_id
                    LEFT JOIN trials t ON t.nct_id = o.nct_id
                    WHERE o.status = 'pending'
                      AND (o.lease_until IS NULL OR o.lease_until <= :now){due}
                    ORDER BY o.id""",  # noqa: S608 - fixed fragments
                {"now": now},
            ).fetchall()
            db.conn.executemany(
                "UPDATE outbox SET lease_until = ? WHERE id = ?",
                [(lease_until, r["id"]) for r in rows],
            )
        return [_claim(r) for r in rows]

    def mark_sent(self, outbox_id: int, now: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                       lease_until = NULL, last_error = NULL WHERE id = ?""",
                [now, outbox_id],
            )

    def mark_retry(self, outbox_id: int, error: str, next_attempt_at: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?,
                       next_attempt_at = ?, lease_until = NULL WHERE id = ?""",
                [error, next_attempt_at, outbox_id],
            )

    def mark_failed(self, outbox_id: int, error: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,
                       lease_until = NULL WHERE id = ?""",
                [error, outbox_id],
            )

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
        return [
            from_row(OutboxProblem, r, destination=Destination.parse(r["destination"]))
            for r in rows
        ]
