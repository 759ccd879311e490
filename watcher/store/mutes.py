"""Mutes: "no alerts for this trial in this channel for a week", set from an alert's button.

Why rows and not a config edit: the person who clicks *Mute 7 days* is in the
channel, not at the server. Delivery reads the active mutes just before it
sends (:mod:`watcher.alerts.delivery`), so an alert already queued when the
mute was set is held back too, and marked ``muted`` rather than silently lost.
A second click extends the mute; an expired one stays as a record. A mute
belongs to one workspace (``team_id``) and one channel ID in it: the button
handler refuses clicks from a workspace other than the bot token's, so a
channel elsewhere that shares a name never mutes one of ours.
"""

from __future__ import annotations

from watcher.store.base import Connection
from watcher.store.rows import Mute, from_row


class Mutes:
    """Reads and writes ``mutes``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def set(self, mute: Mute) -> None:
        """Mute (or re-mute until a new time) one trial in one channel."""
        with self._conn.atomic() as db:
            db.execute(
                """INSERT INTO mutes
                       (team_id, channel_id, channel_name, nct_id, until, user_id, created_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(team_id, channel_id, nct_id) DO UPDATE SET
                       until = excluded.until, user_id = excluded.user_id,
                       created_at = excluded.created_at,
                       channel_name = COALESCE(excluded.channel_name, mutes.channel_name)""",
                [mute.team_id, mute.channel_id, mute.channel_name, mute.nct_id, mute.until,
                 mute.user_id, mute.created_at],
            )  # fmt: skip

    def active(self, now: str) -> list[Mute]:
        """Mutes still in force at ``now``, soonest to end first."""
        rows = self._conn.rows(
            """SELECT team_id, channel_id, channel_name, nct_id, until, user_id, created_at
               FROM mutes
               WHERE until > ? ORDER BY until, channel_id, nct_id""",
            [now],
        )
        return [from_row(Mute, r) for r in rows]
