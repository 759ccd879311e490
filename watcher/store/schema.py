"""The database schema: numbered migrations, applied in order on open.

Why sqlite-utils ``Migrations``: each step runs once, inside a transaction with
its own record in ``_sqlite_migrations``, so a database from any earlier
ctwatch is brought up to date in place and never rebuilt.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("ctwatch")


@MIGRATIONS(name="0001_initial")
def _m0001_initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE trials (
            nct_id TEXT PRIMARY KEY,
            title TEXT,
            overall_status TEXT,
            last_update_posted TEXT,
            latest_hash TEXT,
            added_at TEXT NOT NULL,
            last_checked_at TEXT,
            last_changed_at TEXT,
            not_found INTEGER NOT NULL DEFAULT 0,
            consecutive_errors INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            nct_id TEXT NOT NULL REFERENCES trials(nct_id),
            content_hash TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            last_update_posted TEXT,
            overall_status TEXT,
            change_count INTEGER NOT NULL DEFAULT 0,
            body BLOB NOT NULL
        );
        CREATE INDEX versions_by_trial ON versions(nct_id, id);
        CREATE TABLE changes (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id),
            path TEXT NOT NULL,
            label TEXT NOT NULL,
            kind TEXT NOT NULL,
            old TEXT,
            new TEXT
        );
        CREATE INDEX changes_by_version ON changes(version_id);
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            version_id INTEGER NOT NULL REFERENCES versions(id),
            nct_id TEXT NOT NULL,
            destination TEXT NOT NULL,
            paths TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (version_id, destination)
        );
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            checked INTEGER NOT NULL DEFAULT 0,
            changed INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            not_found INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            requests INTEGER NOT NULL DEFAULT 0,
            complete INTEGER NOT NULL DEFAULT 0,
            data_timestamp TEXT,
            error TEXT
        );
        """
    )


@MIGRATIONS(name="0002_run_modes")
def _m0002_run_modes(db: Database) -> None:
    db.executescript(
        """
        ALTER TABLE runs ADD COLUMN mode TEXT;
        CREATE INDEX runs_complete ON runs(complete, id);
        """
    )


@MIGRATIONS(name="0003_subscriptions")
def _m0003_subscriptions(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE subscriptions (
            channel_id TEXT NOT NULL,
            channel_name TEXT,
            nct_id TEXT NOT NULL,
            team_id TEXT,
            user_id TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel_id, nct_id)
        );
        CREATE INDEX subscriptions_by_trial ON subscriptions(nct_id);
        """
    )


@MIGRATIONS(name="0004_scope")
def _m0004_scope(db: Database) -> None:
    # the watch list as of the last complete cycle: a trial (re-)added since gets a full fetch
    db.execute("CREATE TABLE scope (nct_id TEXT PRIMARY KEY) WITHOUT ROWID")
