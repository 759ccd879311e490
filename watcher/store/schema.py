"""The database schema: numbered migrations, applied in order on open.

Why sqlite-utils ``Migrations``: each step runs once, with its own record in
``_sqlite_migrations``, so a database from any earlier ctwatch is brought up
to date in place and never rebuilt. :func:`migrate` runs them all inside one
``BEGIN IMMEDIATE`` transaction, so two processes opening a new database at
once never race (the second waits, then finds nothing left to do), and it
refuses a database that a newer ctwatch has migrated further.

Statements run one by one (never ``executescript``, which would commit the
surrounding transaction first).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

MIGRATIONS = Migrations("ctwatch")
KNOWN: list[str] = []


class NewerDatabase(Exception):
    """The database holds migrations this ctwatch does not know."""


def migration(name: str) -> Callable[[Callable[[Database], None]], Callable[[Database], None]]:
    """Register a migration (and remember its name, to recognise newer databases)."""

    def register(fn: Callable[[Database], None]) -> Callable[[Database], None]:
        KNOWN.append(name)
        return MIGRATIONS(name=name)(fn)

    return register


def _script(db: Database, sql: str) -> None:
    """Run ``;``-separated DDL statement by statement, inside the caller's transaction."""
    for statement in sql.split(";"):
        if statement.strip():
            db.execute(statement)


def migrate(db: Database) -> None:
    """Apply pending migrations atomically; NewerDatabase for an unknown one.

    An up-to-date database is recognised with a plain read first: opening one
    takes no write lock, so a reader (the web UI, ``status``) opened while a
    cycle holds a write transaction does not wait for it (WAL).
    """
    conn = db.conn
    if not MIGRATIONS.pending(db) and set(KNOWN) >= {m.name for m in MIGRATIONS.applied(db)}:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        applied = [m.name for m in MIGRATIONS.applied(db)]
        unknown = [name for name in applied if name not in KNOWN]
        if unknown:
            raise NewerDatabase(
                f"it was written by a newer ctwatch (schema step {unknown[-1]!r}); "
                "upgrade ctwatch to use it"
            )
        MIGRATIONS.apply(db)
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


@migration("0001_initial")
def _m0001_initial(db: Database) -> None:
    _script(
        db,
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
        """,
    )


@migration("0002_run_modes")
def _m0002_run_modes(db: Database) -> None:
    _script(
        db,
        """
        ALTER TABLE runs ADD COLUMN mode TEXT;
        CREATE INDEX runs_complete ON runs(complete, id);
        """,
    )


@migration("0003_subscriptions")
def _m0003_subscriptions(db: Database) -> None:
    _script(
        db,
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
        """,
    )


@migration("0004_scope")
def _m0004_scope(db: Database) -> None:
    # the watch list as of the last complete cycle: a trial (re-)added since gets a full fetch
    db.execute("CREATE TABLE scope (nct_id TEXT PRIMARY KEY) WITHOUT ROWID")


@migration("0005_outbox_notices")
def _m0005_outbox_notices(db: Database) -> None:
    """Outbox rows for more than field changes (notices: no version), with a lease owner;
    ``troubles`` remembers which trouble was told, so it is told once."""
    _script(
        db,
        """
        CREATE TABLE outbox_new (
            id INTEGER PRIMARY KEY,
            version_id INTEGER REFERENCES versions(id),
            nct_id TEXT,
            kind TEXT NOT NULL DEFAULT 'change',
            payload TEXT,
            destination TEXT NOT NULL,
            paths TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            lease_until TEXT,
            lease_owner TEXT,
            last_error TEXT,
            sent_at TEXT,
            UNIQUE (version_id, destination)
        );
        INSERT INTO outbox_new (id, version_id, nct_id, destination, paths, status, attempts,
                                created_at, next_attempt_at, lease_until, last_error, sent_at)
            SELECT id, version_id, nct_id, destination, paths, status, attempts,
                   created_at, next_attempt_at, lease_until, last_error, sent_at FROM outbox;
        DROP TABLE outbox;
        ALTER TABLE outbox_new RENAME TO outbox;
        CREATE INDEX outbox_due ON outbox(status, next_attempt_at);
        CREATE INDEX outbox_by_destination ON outbox(status, destination);
        CREATE TABLE troubles (
            key TEXT PRIMARY KEY,
            since TEXT NOT NULL,
            told INTEGER NOT NULL DEFAULT 0,
            detail TEXT
        )
        """,
    )


@migration("0006_compression")
def _m0006_compression(db: Database) -> None:
    """zstd dictionaries for version bodies (see :mod:`watcher.store.bodies`).

    Bodies written before stay zlib streams and are read as such: nothing is rewritten.
    """
    db.execute(
        """CREATE TABLE body_dictionaries (
               id INTEGER PRIMARY KEY,
               trained_on INTEGER NOT NULL,
               data BLOB NOT NULL
           )"""
    )


@migration("0007_history")
def _m0007_history(db: Database) -> None:
    """Versions in the trial's own order, with the registry's numbering and their source.

    ``position`` (1…n per trial) orders versions chronologically whatever order they
    were inserted in: versions imported from the registry's history are older than
    the ones ctwatch observed but are written later. ``registry_version`` is the
    website's number (API ``version`` + 1; NULL while unknown), ``source`` is
    ``observed`` or ``registry``, ``submitted`` the version's lastUpdateSubmitDate
    (NULL for rows written before this step: read from the body when needed).
    ``histories`` remembers trials whose version list was read; ``backfill_queue``
    holds the trials whose history the daemon still has to import.
    """
    _script(
        db,
        """
        ALTER TABLE versions ADD COLUMN position INTEGER;
        ALTER TABLE versions ADD COLUMN registry_version INTEGER;
        ALTER TABLE versions ADD COLUMN source TEXT NOT NULL DEFAULT 'observed';
        ALTER TABLE versions ADD COLUMN submitted TEXT;
        UPDATE versions SET position = (
            SELECT COUNT(*) FROM versions AS earlier
            WHERE earlier.nct_id = versions.nct_id AND earlier.id <= versions.id
        );
        CREATE INDEX versions_in_order ON versions(nct_id, position);
        CREATE TABLE histories (
            nct_id TEXT PRIMARY KEY,
            read_at TEXT NOT NULL,
            versions INTEGER NOT NULL
        );
        CREATE TABLE backfill_queue (
            nct_id TEXT PRIMARY KEY,
            queued_at TEXT NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT
        );
        CREATE INDEX backfill_due ON backfill_queue(next_attempt_at)
        """,
    )


@migration("0008_scope_digest")
def _m0008_scope_digest(db: Database) -> None:
    """A digest of the watch list in ``scope``: an unchanged list is recognised without
    reading half a million rows (see :meth:`watcher.store.runs.Runs.set_scope`)."""
    db.execute(
        """CREATE TABLE scope_digest (
               id INTEGER PRIMARY KEY CHECK (id = 1),
               digest TEXT NOT NULL
           )"""
    )


@migration("0010_searches")
def _m0010_searches(db: Database) -> None:
    """Searches and their members (issue 10).

    ``searches``: one row per search name - the query its members belong to
    (canonical JSON of the API parameters; another query means a new silent
    baseline), when that baseline was recorded, the ``dataTimestamp`` its last
    good check processed, the last check and event, ``over_count`` when that
    check found more than ``max_trials`` matches (members then unknown), the
    last error. ``search_members``: who matches, first and last seen.
    ``search_events``: every new / now-matching / no-longer-matching trial with
    the facts of its card (what feeds and ``status`` read; the outbox holds the
    deliveries). ``search_subscriptions``: searches a Slack channel follows.
    """
    _script(
        db,
        """
        CREATE TABLE searches (
            name TEXT PRIMARY KEY,
            query TEXT NOT NULL,
            baseline_at TEXT,
            data_timestamp TEXT,
            last_check_at TEXT,
            last_event_at TEXT,
            over_count INTEGER,
            last_error TEXT
        );
        CREATE TABLE search_members (
            search TEXT NOT NULL,
            nct_id TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (search, nct_id)
        ) WITHOUT ROWID;
        CREATE INDEX search_members_by_trial ON search_members(nct_id);
        CREATE TABLE search_events (
            id INTEGER PRIMARY KEY,
            search TEXT NOT NULL,
            nct_id TEXT NOT NULL,
            kind TEXT NOT NULL,
            at TEXT NOT NULL,
            payload TEXT NOT NULL
        );
        CREATE INDEX search_events_by_search ON search_events(search, id);
        CREATE TABLE search_subscriptions (
            channel_id TEXT NOT NULL,
            name TEXT NOT NULL,
            url TEXT NOT NULL,
            query TEXT NOT NULL,
            channel_name TEXT,
            team_id TEXT,
            user_id TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel_id, name)
        )
        """,
    )


@migration("0011_slack_actions")
def _m0011_slack_actions(db: Database) -> None:
    """Mutes set from an alert's button, the state of long-lived connections (Socket
    Mode) for ``health`` in another process, and bytes read per cycle for ``/metrics``."""
    _script(
        db,
        """
        CREATE TABLE mutes (
            channel_id TEXT NOT NULL,
            channel_name TEXT,
            nct_id TEXT NOT NULL,
            until TEXT NOT NULL,
            user_id TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (channel_id, nct_id)
        );
        CREATE INDEX mutes_until ON mutes(until);
        CREATE TABLE service_state (
            name TEXT PRIMARY KEY,
            up INTEGER NOT NULL,
            since TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            detail TEXT
        );
        ALTER TABLE runs ADD COLUMN bytes INTEGER NOT NULL DEFAULT 0
        """,
    )


@migration("0012_analyst_views")
def _m0012_analyst_views(db: Database) -> None:
    """Views an analyst can query with sqlite3 or Datasette without ctwatch's code.

    ``trial_changes``: every recorded field change, one row each, numbered per trial,
    old and new in the words alerts use (``old_text``/``new_text``, written with each
    change from now on; rows from before fall back to their JSON value).
    ``latest``: each trial's current record as JSON text (``trials.record``, kept
    unless ``database.readable_records = false``; filled for older databases as
    trials are fetched again), so ``json_extract(record, '$.protocolSection…')`` works.
    """
    _script(
        db,
        """
        ALTER TABLE changes ADD COLUMN old_text TEXT;
        ALTER TABLE changes ADD COLUMN new_text TEXT;
        ALTER TABLE trials ADD COLUMN record TEXT;
        CREATE VIEW trial_changes AS
            SELECT v.nct_id AS nct_id,
                   t.title AS title,
                   v.position AS version,
                   COALESCE(v.submitted, v.last_update_posted, substr(v.fetched_at, 1, 10))
                       AS date,
                   c.path AS field,
                   c.label AS label,
                   COALESCE(c.old_text, json_extract(c.old, '$')) AS old,
                   COALESCE(c.new_text, json_extract(c.new, '$')) AS new
            FROM changes c
            JOIN versions v ON v.id = c.version_id
            LEFT JOIN trials t ON t.nct_id = v.nct_id;
        CREATE VIEW latest AS
            SELECT nct_id, title, overall_status, last_update_posted, record
            FROM trials
            WHERE latest_hash IS NOT NULL
        """,
    )


@migration("0013_outbox_age")
def _m0013_outbox_age(db: Database) -> None:
    """When an alert's retry age starts, apart from when it was queued.

    ``outbox retry --failed`` gives a failed alert a fresh ``give_up_after``;
    ``created_at`` must stay as it was, because a webhook's ``webhook-id`` is
    made from it and a receiver deduplicates on that id. NULL: from ``created_at``.
    """
    _script(db, "ALTER TABLE outbox ADD COLUMN age_from TEXT")


@migration("0014_search_failures")
def _m0014_search_failures(db: Database) -> None:
    """How many checks of a search failed in a row (0 after a check that read it): after
    ``alerts.trouble_after`` of them its destinations are told, as for a trial."""
    _script(db, "ALTER TABLE searches ADD COLUMN consecutive_errors INTEGER NOT NULL DEFAULT 0")


@migration("0015_mutes_by_workspace")
def _m0015_mutes_by_workspace(db: Database) -> None:
    """Mutes keyed on the Slack workspace too: a channel ID is unique only within its
    team, and a click from another workspace must never mute a channel of ours
    (mutes set before this carry an empty team)."""
    _script(
        db,
        """
        CREATE TABLE mutes_new (
            team_id TEXT NOT NULL DEFAULT '',
            channel_id TEXT NOT NULL,
            channel_name TEXT,
            nct_id TEXT NOT NULL,
            until TEXT NOT NULL,
            user_id TEXT,
            created_at TEXT NOT NULL,
            PRIMARY KEY (team_id, channel_id, nct_id)
        );
        INSERT INTO mutes_new (channel_id, channel_name, nct_id, until, user_id, created_at)
            SELECT channel_id, channel_name, nct_id, until, user_id, created_at FROM mutes;
        DROP TABLE mutes;
        ALTER TABLE mutes_new RENAME TO mutes;
        CREATE INDEX mutes_until ON mutes(until);
        """,
    )


# Later steps live in modules of their own, registered here in the order of their numbers
# (the module names sort in that order too, so the import sorter keeps it): the analyst
# views and numbering (0016…), events (0017; named as the numbering names versions),
# digests and quiet hours (0018), the web UI's indexes (0019, 0020), whole-registry watch
# lists (0021, 0022).
from watcher.store import (  # noqa: E402, F401
    schema_analyst,
    schema_events,
    schema_timing,
    schema_ui,
    schema_watchlists,
)
