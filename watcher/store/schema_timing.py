"""The digest steps of the schema (held alerts, digest rows, per-destination state).

Registered from :mod:`watcher.store.schema` after every earlier step, so they apply in
order on a database of any earlier ctwatch.
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.schema import _script, migration


@migration("0018_digests")
def _m0018_digests(db: Database) -> None:
    """Digests and quiet hours: alerts that wait, and when each destination's digest last went.

    ``outbox.held``: the timing (digest schedule, quiet window) a row waits for, while its
    status is ``held``; ``digest_id``: the digest row that carried it (status ``digested``);
    ``urgent``: sent at once although its destination digests (counted as already sent).
    ``digest_state``: per destination and timing, when it started counting (first loaded:
    no slot from before it is ever sent) and the last slot sent. ``channel_timings``: what
    ``/ctwatch digest`` and ``/ctwatch quiet`` set for a Slack channel.
    """
    _script(
        db,
        """
        ALTER TABLE outbox ADD COLUMN held TEXT;
        ALTER TABLE outbox ADD COLUMN digest_id INTEGER;
        ALTER TABLE outbox ADD COLUMN urgent INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX outbox_held ON outbox(destination, held) WHERE status = 'held';
        CREATE TABLE digest_state (
            destination TEXT NOT NULL,
            timing TEXT NOT NULL,
            since TEXT NOT NULL,
            last_slot TEXT,
            last_sent_at TEXT,
            PRIMARY KEY (destination, timing)
        );
        CREATE TABLE channel_timings (
            channel_id TEXT PRIMARY KEY,
            channel_name TEXT,
            team_id TEXT,
            digest TEXT,
            timezone TEXT,
            quiet_hours TEXT,
            user_id TEXT,
            updated_at TEXT NOT NULL
        )
        """,
    )
