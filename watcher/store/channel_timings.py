"""What ``/ctwatch digest`` and ``/ctwatch quiet`` set for a Slack channel.

Why in the database: like subscriptions, these are made in Slack, by the
channel's members, and must outlive restarts and config reloads; the config
file is never rewritten from Slack.
"""

from __future__ import annotations

from dataclasses import dataclass

from watcher.store.base import Connection
from watcher.store.rows import from_row


@dataclass(frozen=True)
class ChannelTiming:
    """A channel's digest and quiet hours as typed in Slack (checked before storing)."""

    channel_id: str
    channel_name: str | None = None
    team_id: str | None = None
    digest: str | None = None
    timezone: str | None = None
    quiet_hours: str | None = None
    user_id: str | None = None


class ChannelTimings:
    """Reads and writes ``channel_timings``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, channel_id: str) -> ChannelTiming | None:
        row = self._conn.one("SELECT * FROM channel_timings WHERE channel_id = ?", [channel_id])
        return None if row is None else from_row(ChannelTiming, row)

    def list(self) -> list[ChannelTiming]:
        rows = self._conn.rows("SELECT * FROM channel_timings ORDER BY channel_id")
        return [from_row(ChannelTiming, r) for r in rows]

    def save(self, timing: ChannelTiming, now: str) -> None:
        """Store a channel's timing; one with neither digest nor quiet hours is removed."""
        with self._conn.atomic() as db:
            if timing.digest is None and timing.quiet_hours is None:
                db.execute("DELETE FROM channel_timings WHERE channel_id = ?", [timing.channel_id])
                return
            db.execute(
                """INSERT INTO channel_timings (channel_id, channel_name, team_id, digest,
                       timezone, quiet_hours, user_id, updated_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (channel_id) DO UPDATE SET channel_name = excluded.channel_name,
                       team_id = excluded.team_id, digest = excluded.digest,
                       timezone = excluded.timezone, quiet_hours = excluded.quiet_hours,
                       user_id = excluded.user_id, updated_at = excluded.updated_at""",
                [
                    timing.channel_id,
                    timing.channel_name,
                    timing.team_id,
                    timing.digest,
                    timing.timezone,
                    timing.quiet_hours,
                    timing.user_id,
                    now,
                ],
            )
