"""All SQL lives here: the SQLite memory of every version seen.

Why SQLite through sqlite-utils: one file that users can open with any SQLite
tool (``sqlite-utils rows data/ctwatch.db changes``), numbered migrations from
sqlite-utils' ``Migrations``, and real transactions. The rules that make alerts
trustworthy are enforced here:

* one row per *distinct* version (an unchanged poll writes no version);
* a version, its changes and its outbox rows commit in one transaction, so a
  crash can never leave a change recorded but its alert forgotten;
* WAL mode, so ``ctwatch status`` can read while the daemon writes.

The connection is shared by the scheduler's threads; a re-entrant lock
serialises use of it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from watcher.describe import display_value
from watcher.diff import FieldChange
from watcher.snapshot import Snapshot, compress, decompress

MIGRATIONS = Migrations("ctwatch")


class StoreError(Exception):
    """The database cannot be opened or migrated; the message names the file."""


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


@dataclass(frozen=True)
class Subscription:
    """A Slack channel following a trial because someone typed ``/ctwatch watch``.

    ``channel_name`` is what Slack sent with the command (without ``#``); it
    lets routing recognise a channel the config file names as ``#name``.
    """

    channel_id: str
    nct_id: str
    channel_name: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    created_at: str = ""


@MIGRATIONS(name="0004_scope")
def _m0004_scope(db: Database) -> None:
    # the watch list as of the last complete cycle: a trial (re-)added since gets a full fetch
    db.execute("CREATE TABLE scope (nct_id TEXT PRIMARY KEY) WITHOUT ROWID")


@dataclass(frozen=True)
class RunInfo:
    """The parts of a past run that plan the next one."""

    started_at: str
    data_timestamp: str | None
    mode: str | None


@dataclass(frozen=True)
class OutboxRow:
    """A pending alert to one destination, as stored."""

    destination: str
    paths: tuple[str, ...] | None


@dataclass(frozen=True)
class OutboxClaim:
    """A leased outbox row, ready to render and send."""

    id: int
    version_id: int
    nct_id: str
    destination: str
    paths: tuple[str, ...] | None
    attempts: int


@dataclass(frozen=True)
class OutboxProblem:
    """An alert that failed or is waiting to be retried."""

    nct_id: str
    destination: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str


@dataclass(frozen=True)
class TrialRow:
    """What ``ctwatch status`` shows for one trial."""

    nct_id: str
    title: str | None
    overall_status: str | None
    last_update_posted: str | None
    last_checked_at: str | None
    last_changed_at: str | None
    not_found: bool
    consecutive_errors: int
    last_error: str | None


@dataclass(frozen=True)
class VersionRow:
    """One recorded version with the changes it brought."""

    id: int
    nct_id: str
    fetched_at: str
    last_update_posted: str | None
    overall_status: str | None
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class RunCounts:
    """The outcome of one cycle, as stored in ``runs``."""

    checked: int = 0
    changed: int = 0
    new: int = 0
    not_found: int = 0
    errors: int = 0
    requests: int = 0
    complete: bool = False
    data_timestamp: str | None = None
    error: str | None = None
    mode: str | None = None


class Store:
    """The SQLite store. Open with :meth:`open`; close when done."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating folder and file as needed), enable WAL, migrate.

        Raises StoreError, naming the path, when the folder cannot be created or
        the file is not a usable SQLite database.
        """
        conn: sqlite3.Connection | None = None
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            db = Database(conn, execute_plugins=False)
            if str(path) != ":memory:":
                db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            MIGRATIONS.apply(db)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(f"cannot open {path} ({reason})") from None
        return cls(db)

    def close(self) -> None:
        with self._lock:
            self.db.close()

    @contextmanager
    def atomic(self) -> Iterator[Database]:
        """One write transaction, serialised across threads.

        ``BEGIN IMMEDIATE`` takes the write lock up front, so a second process
        (cron next to the daemon, the slash endpoint) waits for the busy timeout
        instead of failing at once with "database is locked" when a read turns
        into a write.
        """
        with self._lock:
            conn = self.db.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- trials and versions -------------------------------------------------

    def latest_hashes(self, nct_ids: Sequence[str]) -> dict[str, str | None]:
        """``nct_id -> content hash of its latest version`` for the trials named."""
        rows = self._select_in("SELECT nct_id, latest_hash FROM trials", nct_ids)
        return {r[0]: r[1] for r in rows}

    def _select_in(self, select: str, nct_ids: Sequence[str]) -> list[Any]:
        """``select`` + ``WHERE nct_id IN (…)``, in chunks below SQLite's variable limit."""
        rows: list[Any] = []
        with self._lock:
            for start in range(0, len(nct_ids), 500):
                chunk = list(nct_ids[start : start + 500])
                marks = ",".join("?" * len(chunk))
                query = f"{select} WHERE nct_id IN ({marks})"
                rows += self.db.execute(query, chunk).fetchall()
        return rows

    def latest_record(self, nct_id: str) -> dict[str, Any] | None:
        """The body of the newest version of a trial, or None before a baseline."""
        with self._lock:
            row = self.db.execute(
                "SELECT body FROM versions WHERE nct_id = ? ORDER BY id DESC LIMIT 1", [nct_id]
            ).fetchone()
        return decompress(row[0]) if row else None

    def _upsert_trial(self, db: Database, snap: Snapshot, now: str) -> None:
        db.execute(
            """
            INSERT INTO trials (nct_id, title, overall_status, last_update_posted, added_at,
                                last_checked_at, not_found, consecutive_errors, last_error)
            VALUES (?, ?, ?, ?, ?, ?, 0, 0, NULL)
            ON CONFLICT(nct_id) DO UPDATE SET
                title = excluded.title, overall_status = excluded.overall_status,
                last_update_posted = excluded.last_update_posted,
                last_checked_at = excluded.last_checked_at,
                not_found = 0, consecutive_errors = 0, last_error = NULL
            """,
            [snap.nct_id, snap.title, snap.overall_status, snap.last_update_posted, now, now],
        )

    def record_unchanged(self, snap: Snapshot, now: str) -> None:
        """A poll that found nothing new: refresh the trial row, add no version."""
        with self.atomic() as db:
            self._upsert_trial(db, snap, now)

    def record_version(
        self,
        snap: Snapshot,
        changes: Sequence[FieldChange],
        outbox: Sequence[OutboxRow],
        now: str,
    ) -> int:
        """Insert a version with its changes and outbox rows in one transaction."""
        with self.atomic() as db:
            self._upsert_trial(db, snap, now)
            cursor = db.execute(
                """INSERT INTO versions (nct_id, content_hash, fetched_at, last_update_posted,
                                         overall_status, change_count, body)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [
                    snap.nct_id,
                    snap.content_hash,
                    now,
                    snap.last_update_posted,
                    snap.overall_status,
                    len(changes),
                    compress(snap.body),
                ],
            )
            version_id = int(cursor.lastrowid or 0)
            db.conn.executemany(
                "INSERT INTO changes (version_id, path, label, kind, old, new)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (version_id, c.path, c.label, c.kind, _js(c.path, c.old), _js(c.path, c.new))
                    for c in changes
                ],
            )
            db.conn.executemany(
                """INSERT OR IGNORE INTO outbox (version_id, nct_id, destination, paths,
                                                 created_at, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [
                    (
                        version_id,
                        snap.nct_id,
                        row.destination,
                        None if row.paths is None else json.dumps(list(row.paths)),
                        now,
                        now,
                    )
                    for row in outbox
                ],
            )
            changed_at = now if changes else None
            db.execute(
                "UPDATE trials SET latest_hash = ?,"
                " last_changed_at = COALESCE(?, last_changed_at) WHERE nct_id = ?",
                [snap.content_hash, changed_at, snap.nct_id],
            )
        return version_id

    def record_not_found(self, nct_id: str, now: str) -> None:
        """The registry did not return this trial."""
        self._mark(nct_id, now, "not found in the registry", not_found=True)

    def record_error(self, nct_id: str, message: str, now: str) -> None:
        """This trial could not be checked this time; keep the reason."""
        self._mark(nct_id, now, message, not_found=False)

    def _mark(self, nct_id: str, now: str, message: str, *, not_found: bool) -> None:
        with self.atomic() as db:
            db.execute(
                """
                INSERT INTO trials (nct_id, added_at, last_checked_at, not_found,
                                    consecutive_errors, last_error)
                VALUES (?, ?, ?, ?, 1, ?)
                ON CONFLICT(nct_id) DO UPDATE SET
                    last_checked_at = excluded.last_checked_at,
                    not_found = excluded.not_found,
                    consecutive_errors = trials.consecutive_errors + 1,
                    last_error = excluded.last_error
                """,
                [nct_id, now, now, int(not_found), message],
            )

    def trials(self, nct_ids: Sequence[str] | None = None) -> list[TrialRow]:
        """Status rows, for all trials (by NCT ID) or the ones named (in that order)."""
        columns = """SELECT nct_id, title, overall_status, last_update_posted, last_checked_at,
                            last_changed_at, not_found, consecutive_errors, last_error
                     FROM trials"""
        if nct_ids is None:
            with self._lock:
                rows = self.db.execute(columns + " ORDER BY nct_id").fetchall()
        else:
            rows = self._select_in(columns, nct_ids)
        found = {
            r[0]: TrialRow(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), r[7], r[8]) for r in rows
        }
        if nct_ids is None:
            return list(found.values())
        return [found[n] for n in nct_ids if n in found]

    def versions(self, nct_id: str) -> list[VersionRow]:
        """Every recorded version of a trial with its changes, newest first."""
        with self._lock:
            versions = self.db.execute(
                """SELECT id, fetched_at, last_update_posted, overall_status FROM versions
                   WHERE nct_id = ? ORDER BY id DESC""",
                [nct_id],
            ).fetchall()
            out = []
            for vid, fetched_at, lup, status in versions:
                out.append(VersionRow(vid, nct_id, fetched_at, lup, status, self.changes(vid)))
        return out

    def changes(self, version_id: int) -> tuple[FieldChange, ...]:
        """The changes a version brought, in the order they were found."""
        with self._lock:
            rows = self.db.execute(
                "SELECT path, label, kind, old, new FROM changes WHERE version_id = ? ORDER BY id",
                [version_id],
            ).fetchall()
        return tuple(FieldChange(r[0], r[1], r[2], _unjs(r[3]), _unjs(r[4])) for r in rows)

    def version_meta(self, version_id: int) -> tuple[str, str | None]:
        """``(nct_id, last_update_posted)`` of a version."""
        with self._lock:
            row = self.db.execute(
                "SELECT nct_id, last_update_posted FROM versions WHERE id = ?", [version_id]
            ).fetchone()
        return str(row[0]), row[1]

    # ---- outbox ------------------------------------------------------------

    def claim_due(self, now: str, lease_until: str, *, force: bool) -> list[OutboxClaim]:
        """Lease the pending rows that are due (all pending ones when ``force``).

        The lease keeps a second process (cron next to a daemon) from sending
        the same row at the same time; a process killed mid-send leaves the row
        pending, so the next run sends it again once the lease has expired.
        """
        due = "" if force else " AND next_attempt_at <= :now"
        with self.atomic() as db:
            rows = db.execute(
                f"""SELECT id, version_id, nct_id, destination, paths, attempts FROM outbox
                    WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= :now)
                    {due} ORDER BY id""",  # noqa: S608 - fixed fragments
                {"now": now},
            ).fetchall()
            db.conn.executemany(
                "UPDATE outbox SET lease_until = ? WHERE id = ?",
                [(lease_until, r[0]) for r in rows],
            )
        return [
            OutboxClaim(
                r[0], r[1], r[2], r[3], None if r[4] is None else tuple(json.loads(r[4])), r[5]
            )
            for r in rows
        ]

    def mark_sent(self, outbox_id: int, now: str) -> None:
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1,
                       lease_until = NULL, last_error = NULL WHERE id = ?""",
                [now, outbox_id],
            )

    def mark_retry(self, outbox_id: int, error: str, next_attempt_at: str) -> None:
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET attempts = attempts + 1, last_error = ?,
                       next_attempt_at = ?, lease_until = NULL WHERE id = ?""",
                [error, next_attempt_at, outbox_id],
            )

    def mark_failed(self, outbox_id: int, error: str) -> None:
        with self.atomic() as db:
            db.execute(
                """UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ?,
                       lease_until = NULL WHERE id = ?""",
                [error, outbox_id],
            )

    def outbox_counts(self) -> dict[str, int]:
        """``{"pending": n, "sent": n, "failed": n}``."""
        with self._lock:
            rows = self.db.execute("SELECT status, COUNT(*) FROM outbox GROUP BY status").fetchall()
        counts = {"pending": 0, "sent": 0, "failed": 0}
        counts.update({r[0]: r[1] for r in rows})
        return counts

    def outbox_problems(self) -> list[OutboxProblem]:
        """Rows that failed for good or are waiting after an error, newest first."""
        with self._lock:
            rows = self.db.execute(
                """SELECT nct_id, destination, status, attempts, last_error, next_attempt_at
                   FROM outbox WHERE status = 'failed' OR (status = 'pending' AND attempts > 0)
                   ORDER BY id DESC"""
            ).fetchall()
        return [OutboxProblem(*r) for r in rows]

    # ---- Slack subscriptions -------------------------------------------------

    def add_subscriptions(self, subscriptions: Sequence[Subscription]) -> list[str]:
        """Store subscriptions (idempotent); return the NCT IDs that were new.

        An existing subscription keeps who made it and when; the channel's
        name is refreshed on all its rows, since channels get renamed.
        """
        added = []
        with self.atomic() as db:
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
                if sub.channel_name:
                    db.execute(
                        "UPDATE subscriptions SET channel_name = ? WHERE channel_id = ?",
                        [sub.channel_name, sub.channel_id],
                    )
        return added

    def remove_subscriptions(self, channel_id: str, nct_ids: Sequence[str]) -> list[str]:
        """Delete a channel's subscriptions to ``nct_ids``; return the ones that existed."""
        removed = []
        with self.atomic() as db:
            for nct in nct_ids:
                cursor = db.execute(
                    "DELETE FROM subscriptions WHERE channel_id = ? AND nct_id = ?",
                    [channel_id, nct],
                )
                if cursor.rowcount:
                    removed.append(nct)
        return removed

    def subscriptions(self, channel_id: str | None = None) -> list[Subscription]:
        """Every subscription (or one channel's), oldest first."""
        where = "" if channel_id is None else "WHERE channel_id = :channel"
        sql = f"""SELECT channel_id, nct_id, channel_name, team_id, user_id, created_at
                  FROM subscriptions {where} ORDER BY created_at, channel_id, nct_id"""  # noqa: S608 - fixed fragments
        with self._lock:
            rows = self.db.execute(sql, {"channel": channel_id}).fetchall()
        return [Subscription(*r) for r in rows]

    # ---- runs --------------------------------------------------------------

    def start_run(self, now: str) -> int:
        with self.atomic() as db:
            cursor = db.execute("INSERT INTO runs (started_at) VALUES (?)", [now])
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, counts: RunCounts, now: str) -> None:
        with self.atomic() as db:
            db.execute(
                """UPDATE runs SET finished_at = ?, checked = ?, changed = ?, new = ?,
                       not_found = ?, errors = ?, requests = ?, complete = ?,
                       data_timestamp = ?, error = ?, mode = ?
                   WHERE id = ?""",
                [
                    now,
                    counts.checked,
                    counts.changed,
                    counts.new,
                    counts.not_found,
                    counts.errors,
                    counts.requests,
                    int(counts.complete),
                    counts.data_timestamp,
                    counts.error,
                    counts.mode,
                    run_id,
                ],
            )

    def last_complete_run(self) -> RunInfo | None:
        """The newest run that read everything it needed without errors."""
        with self._lock:
            row = self.db.execute(
                """SELECT started_at, data_timestamp, mode FROM runs
                   WHERE complete = 1 ORDER BY id DESC LIMIT 1"""
            ).fetchone()
        return RunInfo(*row) if row else None

    def last_full_sweep(self) -> datetime | None:
        """When the newest complete full cycle started."""
        with self._lock:
            row = self.db.execute(
                """SELECT started_at FROM runs WHERE complete = 1 AND mode = 'full'
                   ORDER BY id DESC LIMIT 1"""
            ).fetchone()
        return parse_iso(row[0]) if row else None

    def needs_full_fetch(self, nct_ids: Sequence[str]) -> tuple[str, ...]:
        """Trials always fetched in full: never recorded, last check failed, or not in
        the watch list of the last complete cycle (added, or removed and added back)."""
        with self._lock:
            rows = self.db.execute(
                """SELECT t.nct_id FROM trials t JOIN scope s ON s.nct_id = t.nct_id
                   WHERE t.latest_hash IS NOT NULL AND t.last_error IS NULL"""
            ).fetchall()
        healthy = {r[0] for r in rows}
        return tuple(n for n in nct_ids if n not in healthy)

    def set_scope(self, nct_ids: Sequence[str]) -> None:
        """Remember the watch list of a complete cycle (writes only the difference)."""
        wanted = set(nct_ids)
        with self._lock:
            current = {r[0] for r in self.db.execute("SELECT nct_id FROM scope").fetchall()}
        if current == wanted:
            return
        with self.atomic() as db:
            db.conn.executemany(
                "DELETE FROM scope WHERE nct_id = ?", [(n,) for n in current - wanted]
            )
            db.conn.executemany(
                "INSERT INTO scope (nct_id) VALUES (?)", [(n,) for n in wanted - current]
            )

    def last_run(self, *, complete: bool = False) -> dict[str, Any] | None:
        """The newest finished run (optionally: the newest complete one)."""
        where = "finished_at IS NOT NULL" + (" AND complete = 1" if complete else "")
        with self._lock:
            cursor = self.db.execute(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT 1")  # noqa: S608 - fixed fragments
            row = cursor.fetchone()
            names = [d[0] for d in cursor.description]
        return dict(zip(names, row, strict=True)) if row else None


MAX_STORED_VALUE = 16_384


def parse_iso(text: str) -> datetime:
    """Stored timestamps (``2026-11-25T14:30:00Z``) back to aware datetimes."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def _js(path: str, value: Any) -> str | None:
    """JSON for a change value; huge values (a whole results section) become a gist.

    The full data is in the version body; repeating it per change would double
    the database for nothing, and no renderer shows more than the gist.
    """
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) <= MAX_STORED_VALUE:
        return text
    gist = f"{display_value(path, value)} ({len(text) // 1024} KB; see the stored version)"
    return json.dumps(gist, ensure_ascii=False)


def _unjs(text: str | None) -> Any:
    return None if text is None else json.loads(text)
