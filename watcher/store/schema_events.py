"""The events steps of the schema: events, the time rules' state, ``trial_events``.

Registered from :mod:`watcher.store.schema` after the analyst steps (0016…), so the
``trial_events`` view can name versions as ``ctwatch history`` does (``number``,
``#2`` / ``r7``).
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.schema import _script, migration


@migration("0017_events")
def _m0017_events(db: Database) -> None:
    """``events`` (one row per event, in its version's transaction; ``source`` observed,
    imported or clock; ``silent``: recorded without alerts), ``event_clock`` (the facts
    and last state of the time rules per trial), the ``trial_events`` view, and Slack
    subscriptions' ``min_level`` / ``events`` filters. See :mod:`watcher.store.events`."""
    _script(
        db,
        """
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            nct_id TEXT NOT NULL,
            version_id INTEGER REFERENCES versions(id),
            type TEXT NOT NULL,
            level TEXT NOT NULL,
            summary TEXT NOT NULL,
            value_json TEXT NOT NULL DEFAULT '{}',
            detected_at TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'observed',
            silent INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX events_by_trial ON events(nct_id, id);
        CREATE INDEX events_by_version ON events(version_id);
        CREATE TABLE event_clock (
            nct_id TEXT PRIMARY KEY,
            facts TEXT NOT NULL,
            relevant INTEGER NOT NULL DEFAULT 1,
            state TEXT,
            evaluated_on TEXT
        );
        ALTER TABLE subscriptions ADD COLUMN min_level TEXT;
        ALTER TABLE subscriptions ADD COLUMN events TEXT;
        CREATE VIEW trial_events AS
            SELECT e.nct_id AS nct_id,
                   t.title AS title,
                   v.number AS version,
                   COALESCE('#' || v.number, 'r' || v.registry_version) AS version_ref,
                   e.type AS type,
                   e.level AS level,
                   e.summary AS summary,
                   e.value_json AS "values",
                   e.detected_at AS detected_at,
                   e.source AS source
            FROM events e
            LEFT JOIN versions v ON v.id = e.version_id
            LEFT JOIN trials t ON t.nct_id = e.nct_id
        """,
    )
