"""Slack subscriptions: channels that follow trials (or searches) because someone typed
``/ctwatch``.

Kept in the database (not the config file) so a channel can follow a trial or
a search without anyone editing files; the next cycle routes alerts to them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from watcher.store.base import Connection
from watcher.store.outbox import insert_rows
from watcher.store.rows import OutboxRow, SearchSubscription, Subscription, from_row


def _patterns(text: str | None) -> tuple[str, ...]:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return ()
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


class Subscriptions:
    """Reads and writes ``subscriptions``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Store subscriptions (idempotent); return the NCT IDs that were new.

        An existing subscription keeps who made it and when; the channel's
        name is refreshed on all its rows, since channels get renamed.
        """
        added = []
        with self._conn.atomic() as db:
            for sub in subscriptions:
                cursor = db.execute(
                    """INSERT OR IGNORE INTO subscriptions
                           (channel_id, channel_name, nct_id, team_id, user_id, created_at)
                       VALUES (?, ?, ?, ?, ?, ?)""",
                    [sub.channel_id, sub.channel_name, sub.nct_id, sub.team_id, sub.user_id,
                     sub.created_at],
                )  # fmt: skip
                if cursor.rowcount:
                    added.append(sub.nct_id)
                if sub.min_level is not None or sub.events:  # a filter given: it replaces
                    db.execute(
                        """UPDATE subscriptions SET min_level = ?, events = ?
                           WHERE channel_id = ? AND nct_id = ?""",
                        [sub.min_level, json.dumps(list(sub.events)) if sub.events else None,
                         sub.channel_id, sub.nct_id],
                    )  # fmt: skip
                if sub.channel_name:
                    db.execute(
                        "UPDATE subscriptions SET channel_name = ? WHERE channel_id = ?",
                        [sub.channel_name, sub.channel_id],
                    )
        return added

    def remove(self, channel_id: str, nct_ids: Sequence[str]) -> list[str]:
        """Delete a channel's subscriptions to ``nct_ids``; return the ones that existed."""
        removed = []
        with self._conn.atomic() as db:
            for nct in nct_ids:
                cursor = db.execute(
                    "DELETE FROM subscriptions WHERE channel_id = ? AND nct_id = ?",
                    [channel_id, nct],
                )
                if cursor.rowcount:
                    removed.append(nct)
        return removed

    def list(self, channel_id: str | None = None) -> list[Subscription]:
        """Every subscription (or one channel's), oldest first."""
        where = "" if channel_id is None else "WHERE channel_id = :channel"
        sql = f"""SELECT channel_id, nct_id, channel_name, team_id, user_id, created_at,
                         min_level, events
                  FROM subscriptions {where} ORDER BY created_at, channel_id, nct_id"""  # noqa: S608 - fixed fragments
        return [
            from_row(Subscription, r, events=_patterns(r["events"]))
            for r in self._conn.rows(sql, {"channel": channel_id})
        ]


class SearchSubscriptions:
    """Reads and writes ``search_subscriptions`` (``/ctwatch watch <search URL>``)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, sub: SearchSubscription) -> bool:
        """Store a channel's search (idempotent); True when it was new."""
        with self._conn.atomic() as db:
            cursor = db.execute(
                """INSERT OR IGNORE INTO search_subscriptions (channel_id, name, url, query,
                       channel_name, team_id, user_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [sub.channel_id, sub.name, sub.url, sub.query, sub.channel_name, sub.team_id,
                 sub.user_id, sub.created_at],
            )  # fmt: skip
        return bool(cursor.rowcount)

    def remove(self, channel_id: str, name: str) -> bool:
        """Delete a channel's subscription to a search; True when there was one."""
        with self._conn.atomic() as db:
            cursor = db.execute(
                "DELETE FROM search_subscriptions WHERE channel_id = ? AND name = ?",
                [channel_id, name],
            )
        return bool(cursor.rowcount)

    def rename(self, old: str, query: str, new: str, rows: Sequence[OutboxRow], now: str) -> bool:
        """Call the channels' search ``old`` (of ``query``) ``new``, with its members, events
        and watermark when the stored search is that query, and queue ``rows`` (telling
        its channels) - all in one transaction, once: False when nothing was renamed."""
        with self._conn.atomic() as db:
            cursor = db.execute(
                "UPDATE search_subscriptions SET name = ? WHERE name = ? AND query = ?",
                [new, old, query],
            )
            if not cursor.rowcount:
                return False
            moved = db.execute(
                "UPDATE searches SET name = ? WHERE name = ? AND query = ?", [new, old, query]
            )
            if moved.rowcount:  # the state is the channels' search's: it goes with it
                db.execute("UPDATE search_members SET search = ? WHERE search = ?", [new, old])
                db.execute("UPDATE search_events SET search = ? WHERE search = ?", [new, old])
            insert_rows(db, rows, now)
        return True

    def list(self, channel_id: str | None = None) -> list[SearchSubscription]:
        """Every search subscription (or one channel's), oldest first."""
        where = "" if channel_id is None else "WHERE channel_id = :channel"
        sql = f"""SELECT channel_id, name, url, query, channel_name, team_id, user_id, created_at
                  FROM search_subscriptions {where} ORDER BY created_at, channel_id, name"""  # noqa: S608 - fixed fragments
        rows = self._conn.rows(sql, {"channel": channel_id})
        return [from_row(SearchSubscription, r) for r in rows]
