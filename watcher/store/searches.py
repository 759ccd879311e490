"""Searches: their members, their events, and what each check found.

Why one transaction per search check: a member that enters or leaves, its
event and the outbox rows that tell people about it are written together
(:meth:`Searches.apply`), so a crash either loses the whole check - the next
cycle makes it again and finds the same events - or keeps all of it; an
event is never lost and never queued twice. The membership change is the
guard: an event is written only when its row was really inserted (entered)
or deleted (left), so applying the same change twice tells nobody twice.
Error texts pass the mask before they are stored.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlite_utils import Database

from watcher.store import troubles
from watcher.store.base import Connection
from watcher.store.outbox import insert_rows
from watcher.store.rows import OutboxRow, SearchEventRow, SearchState, from_row

_STATE = """SELECT s.name, s.query, s.baseline_at, s.data_timestamp, s.last_check_at,
                   s.last_event_at, s.over_count, s.last_error, s.consecutive_errors,
                   (SELECT COUNT(*) FROM search_members m WHERE m.search = s.name) AS members
            FROM searches s"""


@dataclass(frozen=True)
class MemberEvent:
    """A trial that entered (``new``, ``matches``) or left (``left``), and who to tell."""

    nct_id: str
    kind: str
    payload: dict[str, Any]
    outbox: tuple[OutboxRow, ...] = ()


@dataclass(frozen=True)
class SearchUpdate:
    """What one good check of one search found, written by :meth:`Searches.apply`."""

    name: str
    query: str
    now: str
    stamp: str | None
    """The refresh this check processed; None (unusable) keeps the stored one."""
    baseline: tuple[str, ...] | None = None
    """Every member, recorded silently (replaces the members of another query)."""
    entered: tuple[MemberEvent, ...] = ()
    left: tuple[MemberEvent, ...] = ()
    seen: tuple[str, ...] = field(default=(), repr=False)
    """Members the registry confirmed this time (their ``last_seen`` moves)."""
    trouble: str | None = None
    """The key under which the search's failing checks were told, if they were: a good
    check ends it and queues ``recovered`` (in the same transaction)."""
    recovered: tuple[OutboxRow, ...] = ()


class Searches:
    """Reads and writes ``searches``, ``search_members`` and ``search_events``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # ---- reads -----------------------------------------------------------------

    def states(self, names: Sequence[str]) -> dict[str, SearchState]:
        """What the store knows of each named search (known ones only)."""
        rows = self._conn.rows_in(_STATE, "s.name", names)
        return {r["name"]: from_row(SearchState, r) for r in rows}

    def names(self) -> list[str]:
        """Every search the store has a row of (configured or not, any longer)."""
        return [r["name"] for r in self._conn.rows("SELECT name FROM searches ORDER BY name")]

    def members(self, names: Sequence[str]) -> dict[str, dict[str, str]]:
        """``search -> {nct_id: last_seen}`` for each named search (empty when none)."""
        out: dict[str, dict[str, str]] = {name: {} for name in names}
        rows = self._conn.rows_in(
            "SELECT search, nct_id, last_seen FROM search_members", "search", names
        )
        for row in rows:
            out[row["search"]][row["nct_id"]] = row["last_seen"]
        return out

    def events(self, name: str, limit: int) -> list[SearchEventRow]:
        """The newest ``limit`` events of a search, newest first."""
        rows = self._conn.rows(
            """SELECT id, search, nct_id, kind, at, payload FROM search_events
               WHERE search = ? ORDER BY id DESC LIMIT ?""",
            [name, limit],
        )
        return [from_row(SearchEventRow, r, payload=json.loads(r["payload"])) for r in rows]

    # ---- writes (one transaction each) -------------------------------------------

    def apply(self, update: SearchUpdate) -> int:
        """Record a good check: membership, events and their outbox rows together.

        Returns how many events were written.
        """
        now = update.now
        with self._conn.atomic() as db:
            if update.baseline is not None:
                db.execute("DELETE FROM search_members WHERE search = ?", [update.name])
                db.conn.executemany(
                    """INSERT OR IGNORE INTO search_members (search, nct_id, first_seen, last_seen)
                       VALUES (?, ?, ?, ?)""",
                    ((update.name, nct, now, now) for nct in update.baseline),
                )
            written = 0
            for event in update.entered:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO search_members (search, nct_id, first_seen, last_seen)
                       VALUES (?, ?, ?, ?)""",
                    [update.name, event.nct_id, now, now],
                )
                written += self._event(db, update, event) if cursor.rowcount else 0
            for event in update.left:
                cursor = db.execute(
                    "DELETE FROM search_members WHERE search = ? AND nct_id = ?",
                    [update.name, event.nct_id],
                )
                written += self._event(db, update, event) if cursor.rowcount else 0
            db.conn.executemany(
                "UPDATE search_members SET last_seen = ? WHERE search = ? AND nct_id = ?",
                ((now, update.name, nct) for nct in update.seen),
            )
            _upsert(db, update.name, update.query, now, stamp=update.stamp)
            db.execute(
                """UPDATE searches SET baseline_at = CASE WHEN ? THEN ? ELSE baseline_at END,
                       last_event_at = CASE WHEN ? THEN ? ELSE last_event_at END
                   WHERE name = ?""",
                [update.baseline is not None, now, written > 0, now, update.name],
            )
            if update.trouble is not None:
                troubles.end(db, update.trouble, list(update.recovered), now)
        return written

    def over(self, name: str, query: str, count: int, stamp: str | None, now: str) -> None:
        """A check found more than ``max_trials`` matches: nothing else is recorded, and
        the members are unknown until a new (silent) baseline - so they are dropped,
        and a followed search follows nothing meanwhile (its old members would
        otherwise go on being routed as if it still held them)."""
        with self._conn.atomic() as db:
            _upsert(db, name, query, now, stamp=stamp, over=count)
            db.execute("UPDATE searches SET baseline_at = NULL WHERE name = ?", [name])
            db.execute("DELETE FROM search_members WHERE search = ?", [name])

    def failed(self, name: str, query: str, error: str, now: str) -> int:
        """A check that could not be made: its (masked) reason, one more failure in a
        row; everything else stays. Returns how many checks have failed in a row."""
        with self._conn.atomic() as db:
            db.execute(
                """INSERT INTO searches (name, query, last_check_at, last_error,
                                         consecutive_errors)
                   VALUES (?, ?, ?, ?, 1)
                   ON CONFLICT(name) DO UPDATE SET last_check_at = excluded.last_check_at,
                       last_error = excluded.last_error,
                       consecutive_errors = searches.consecutive_errors + 1""",
                [name, query, now, self._conn.masked(error)],
            )
            row = db.execute(
                "SELECT consecutive_errors FROM searches WHERE name = ?", [name]
            ).fetchone()
        return int(row[0])

    def _event(self, db: Database, update: SearchUpdate, event: MemberEvent) -> int:
        db.execute(
            "INSERT INTO search_events (search, nct_id, kind, at, payload) VALUES (?, ?, ?, ?, ?)",
            [update.name, event.nct_id, event.kind, update.now,
             json.dumps(event.payload, ensure_ascii=False)],
        )  # fmt: skip
        insert_rows(db, event.outbox, update.now, nct_id=event.nct_id)
        return 1


def _upsert(
    db: Database, name: str, query: str, now: str, *, stamp: str | None, over: int | None = None
) -> None:
    """The search's row after a check that read the registry (good, or over the limit).

    A check made while the registry's ``dataTimestamp`` was unusable (``stamp``
    None) keeps the watermark it had: an older watermark only widens the next
    "posted since" window, while none at all would make every new trial a mere
    "now matches" (new means posted since the refresh a check processed).
    """
    db.execute(
        """INSERT INTO searches (name, query, data_timestamp, last_check_at, over_count)
           VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(name) DO UPDATE SET query = excluded.query,
               data_timestamp = COALESCE(excluded.data_timestamp, searches.data_timestamp),
               last_check_at = excluded.last_check_at,
               over_count = excluded.over_count, last_error = NULL,
               consecutive_errors = 0""",
        [name, query, stamp, now, over],
    )
