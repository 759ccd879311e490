"""Alerts that wait (digests, quiet hours) and the digest rows that carry them.

Why in the database: a change that waits for tomorrow's 08:00 digest must
survive restarts, crashes and upgrades, so it waits as its outbox row with
status ``held``. When the digest is due, one transaction writes a ``digest``
outbox row naming its members and marks them ``digested``: from then on the
digest is an ordinary alert (claimed, sent, retried, its webhook-id stable),
so a crash mid-send neither loses nor repeats a change, and a change is in
exactly one digest. ``digest_state`` remembers, per destination and timing,
when the schedule started counting and which slot went last, so a slot is
sent once, and never one from before the schedule was loaded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from watcher.core.destination import Destination
from watcher.store.base import Connection

DIGEST_KIND = "digest"


@dataclass(frozen=True)
class WaitingRow:
    """An outbox row that has not been sent yet and could wait: what routing decides on."""

    id: int
    kind: str
    version_id: int | None
    nct_id: str
    event_level: str | None = None
    """A notice that tells a time event (results due, a stale record): that event's level."""


@dataclass(frozen=True)
class DigestState:
    """When a destination's timing started counting, and the last slot it sent."""

    since: str
    last_slot: str | None


@dataclass(frozen=True)
class Waiting:
    """How many alerts wait for one destination (``status``, ``/metrics``)."""

    destination: Destination
    timing: str
    count: int
    oldest: str


_WAITING = """id, kind, version_id, nct_id,
              CASE WHEN json_valid(payload) THEN json_extract(payload, '$.event.level')
              END AS event_level"""


def _waiting(row: sqlite3.Row) -> WaitingRow:
    return WaitingRow(
        row["id"], row["kind"], row["version_id"], row["nct_id"] or "", row["event_level"]
    )


class Digests:
    """Reads and writes held rows, digest rows and ``digest_state``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def fresh(self, destination: Destination) -> list[WaitingRow]:
        """Rows queued for ``destination`` that no timing has looked at yet.

        Fresh means pending, never tried, not held, not urgent and not a digest:
        a retry of a row that was already due is never pulled back into a digest.
        """
        rows = self._conn.rows(
            f"""SELECT {_WAITING} FROM outbox
                WHERE status = 'pending' AND destination = ? AND attempts = 0
                  AND held IS NULL AND urgent = 0 AND kind != ?
                ORDER BY id""",  # noqa: S608 - a constant
            [destination.key, DIGEST_KIND],
        )
        return [_waiting(r) for r in rows]

    def hold(self, ids: Sequence[int], timing: str) -> None:
        """Make rows wait for ``timing`` (a digest slot or the end of quiet hours)."""
        with self._conn.atomic() as db:
            db.conn.executemany(
                "UPDATE outbox SET status = 'held', held = ? WHERE id = ? AND status = 'pending'",
                [(timing, i) for i in ids],
            )

    def mark_urgent(self, ids: Sequence[int]) -> None:
        """Rows that go at once whatever the timing (counted later as already sent)."""
        with self._conn.atomic() as db:
            db.conn.executemany("UPDATE outbox SET urgent = 1 WHERE id = ?", [(i,) for i in ids])

    def start(self, destination: Destination, timing: str, now: str) -> DigestState:
        """The state of this destination's timing, counting from ``now`` when it is new."""
        with self._conn.atomic() as db:
            db.execute(
                """INSERT OR IGNORE INTO digest_state (destination, timing, since)
                   VALUES (?, ?, ?)""",
                [destination.key, timing, now],
            )
            row = db.execute(
                "SELECT since, last_slot FROM digest_state WHERE destination = ? AND timing = ?",
                [destination.key, timing],
            ).fetchone()
        return DigestState(row["since"], row["last_slot"])

    def state(self, destination: Destination, timing: str) -> DigestState | None:
        row = self._conn.one(
            "SELECT since, last_slot FROM digest_state WHERE destination = ? AND timing = ?",
            [destination.key, timing],
        )
        return None if row is None else DigestState(row["since"], row["last_slot"])

    def held(self, destination: Destination, timing: str | None = None) -> list[WaitingRow]:
        """Rows waiting for ``destination`` (under ``timing``, or under any), oldest first."""
        extra, params = ("", [destination.key]) if timing is None else (" AND held = ?", [
            destination.key, timing,
        ])  # fmt: skip
        rows = self._conn.rows(
            f"""SELECT {_WAITING} FROM outbox
                WHERE status = 'held' AND destination = ?{extra} ORDER BY id""",  # noqa: S608
            params,
        )
        return [_waiting(r) for r in rows]

    def bundle(
        self,
        destination: Destination,
        timing: str,
        *,
        slot: str | None,
        now: str,
        reason: str,
        only: Sequence[int] | None = None,
        send_empty: bool = False,
    ) -> int | None:
        """Put every row held for ``destination`` under ``timing`` into one digest row.

        One transaction: the digest row is written, its members marked
        ``digested``, the urgent rows sent since the last slot counted, and the
        slot remembered. Returns the digest row's id, or None when there was
        nothing to send (and ``send_empty`` is off): the slot still counts as
        sent. ``only`` limits the members to those ids.
        """
        chosen = None if only is None else set(only)
        key = [destination.key, timing]
        with self._conn.atomic() as db:
            state = db.execute(
                "SELECT since, last_slot FROM digest_state WHERE destination = ? AND timing = ?",
                key,
            ).fetchone()
            held = db.execute(
                """SELECT id FROM outbox WHERE status = 'held' AND destination = ? AND held = ?
                   ORDER BY id""",
                key,
            ).fetchall()
            members = [int(r["id"]) for r in held if chosen is None or int(r["id"]) in chosen]
            period_from = (state["last_slot"] or state["since"]) if state is not None else None
            if slot is not None and state is not None and (state["last_slot"] or "") >= slot:
                return None  # another pass wrote this slot already
            if slot is not None:
                db.execute(
                    """UPDATE digest_state SET last_slot = ?, last_sent_at = ?
                       WHERE destination = ? AND timing = ?""",
                    [slot, now, *key],
                )
            if not members and not send_empty:
                return None
            payload = {
                "reason": reason,
                "slot": slot,
                "period_from": period_from,
                "members": members,
                "already_sent": _uncounted_urgent(db, destination),
            }
            return _write_digest(db, destination, payload, members, now)

    def uncounted_urgent(self, destination: Destination) -> list[int]:
        """Urgent rows sent at once that the next digest would count as already sent.

        A plain read (the preview writes nothing, so it takes no write lock and works on a
        database it may not write); a digest being written reads the same rows inside its
        own transaction."""
        rows = self._conn.rows(_UNCOUNTED_URGENT, [destination.key])
        return [int(r["id"]) for r in rows]

    def rekey(self, destination: Destination, old: str, new: str) -> int:
        """Rows held under a timing the config replaced wait for the new one instead."""
        with self._conn.atomic() as db:
            cursor = db.execute(
                "UPDATE outbox SET held = ? WHERE status = 'held' AND destination = ? AND held = ?",
                [new, destination.key, old],
            )
        return cursor.rowcount

    def forget(self, keep: set[tuple[Destination, str]]) -> None:
        """Drop the state of timings no longer configured: one that comes back starts
        counting afresh, and never sends a slot from before it was loaded again."""
        rows = self._conn.rows("SELECT destination, timing FROM digest_state")
        gone = [
            (r["destination"], r["timing"])
            for r in rows
            if (Destination.parse(r["destination"]), r["timing"]) not in keep
        ]
        if gone:
            with self._conn.atomic() as db:
                db.conn.executemany(
                    "DELETE FROM digest_state WHERE destination = ? AND timing = ?", gone
                )

    def release(self, ids: Sequence[int], now: str) -> None:
        """Rows that stop waiting and go as ordinary alerts (due now)."""
        with self._conn.atomic() as db:
            db.conn.executemany(
                """UPDATE outbox SET status = 'pending', held = NULL, next_attempt_at = ?
                   WHERE id = ? AND status = 'held'""",
                [(now, i) for i in ids],
            )

    def held_timings(self) -> list[tuple[Destination, str]]:
        """Every (destination, timing) that has rows waiting."""
        rows = self._conn.rows(
            """SELECT DISTINCT destination, held FROM outbox WHERE status = 'held'
               ORDER BY destination, held"""
        )
        return [(Destination.parse(r["destination"]), str(r["held"])) for r in rows]

    def waiting(self) -> list[Waiting]:
        """Alerts waiting, per destination and timing, oldest first."""
        rows = self._conn.rows(
            """SELECT destination, held, COUNT(*) AS n, MIN(created_at) AS oldest
               FROM outbox WHERE status = 'held' GROUP BY destination, held
               ORDER BY oldest"""
        )
        return [
            Waiting(Destination.parse(r["destination"]), r["held"], r["n"], r["oldest"])
            for r in rows
        ]

    def members(self, digest_id: int) -> tuple[list[int], list[int]]:
        """A digest row's members and the urgent rows it counts as already sent."""
        row = self._conn.one(
            "SELECT payload FROM outbox WHERE id = ? AND kind = ?", [digest_id, DIGEST_KIND]
        )
        if row is None or row["payload"] is None:
            return [], []
        payload = json.loads(row["payload"])
        return [int(i) for i in payload.get("members", [])], [
            int(i) for i in payload.get("already_sent", [])
        ]

    def sent_count(self) -> int:
        """Digests sent so far (``/metrics``)."""
        row = self._conn.one(
            "SELECT COUNT(*) AS n FROM outbox WHERE kind = ? AND status = 'sent'", [DIGEST_KIND]
        )
        return int(row["n"]) if row else 0


_UNCOUNTED_URGENT = """SELECT id FROM outbox WHERE destination = ? AND urgent = 1
    AND status IN ('sent', 'pending') AND digest_id IS NULL ORDER BY id"""


def _uncounted_urgent(db: Database, destination: Destination) -> list[int]:
    """Rows told at once (urgent) to a digesting destination, sent or on their way, that no
    digest has counted yet: each is "already sent" in exactly one digest (the digest that
    counts it marks it with its ``digest_id``). One that failed for good, or was muted, was
    never told: it is not counted, and stays visible in ``ctwatch outbox``."""
    rows = db.execute(_UNCOUNTED_URGENT, [destination.key]).fetchall()
    return [int(r["id"]) for r in rows]


def _write_digest(
    db: Database,
    destination: Destination,
    payload: dict[str, Any],
    members: Sequence[int],
    now: str,
) -> int:
    """The digest row, and its members marked as carried by it (inside the caller's
    transaction)."""
    cursor = db.execute(
        """INSERT INTO outbox (version_id, nct_id, kind, payload, destination,
                               created_at, next_attempt_at)
           VALUES (NULL, NULL, ?, ?, ?, ?, ?)""",
        [DIGEST_KIND, json.dumps(payload), destination.key, now, now],
    )
    digest_id = int(cursor.lastrowid or 0)
    db.conn.executemany(
        "UPDATE outbox SET status = 'digested', digest_id = ? WHERE id = ?",
        [(digest_id, i) for i in members],
    )
    db.conn.executemany(  # counted as already sent here, and nowhere else
        "UPDATE outbox SET digest_id = ? WHERE id = ?",
        [(digest_id, i) for i in payload["already_sent"]],
    )
    return digest_id
