"""Runs (one row per cycle) and the scope (the watch list of the last complete one).

Why: the planner needs to know when the last *complete* cycle happened and
which registry refresh it processed, ``health`` needs the last outcome, and a
trial that joined the watch list since the last complete cycle needs a full
fetch whatever the registry says.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from watcher.store.base import Connection
from watcher.store.rows import RunCounts, RunInfo, RunRecord, from_row
from watcher.timeutil import parse_iso


class Runs:
    """Reads and writes ``runs`` and ``scope``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def start(self, now: str) -> int:
        with self._conn.atomic() as db:
            cursor = db.execute("INSERT INTO runs (started_at) VALUES (?)", [now])
        return int(cursor.lastrowid or 0)

    def finish(self, run_id: int, counts: RunCounts, now: str) -> None:
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE runs SET finished_at = ?, checked = ?, changed = ?, new = ?,
                       not_found = ?, errors = ?, requests = ?, complete = ?,
                       data_timestamp = ?, error = ?, mode = ?, bytes = ?
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
                    self._conn.masked_optional(counts.error),
                    counts.mode,
                    counts.bytes,
                    run_id,
                ],
            )

    def last_complete(self) -> RunInfo | None:
        """The newest run that read everything it needed without errors."""
        row = self._conn.one(
            """SELECT started_at, data_timestamp, mode FROM runs
               WHERE complete = 1 ORDER BY id DESC LIMIT 1"""
        )
        return from_row(RunInfo, row) if row else None

    def last_stamped(self) -> str | None:
        """The registry ``dataTimestamp`` of the newest complete run that had a usable one.

        Why not :meth:`last_complete`: a complete cycle whose stamp was unusable
        says nothing about how far the registry's data had come, and the
        listing window must start from registry dates, never the host's clock.
        """
        row = self._conn.one(
            """SELECT data_timestamp FROM runs WHERE complete = 1 AND data_timestamp IS NOT NULL
               ORDER BY id DESC LIMIT 1"""
        )
        return str(row["data_timestamp"]) if row else None

    def last_full_sweep(self) -> datetime | None:
        """When the newest complete full cycle started."""
        row = self._conn.one(
            """SELECT started_at FROM runs WHERE complete = 1 AND mode = 'full'
               ORDER BY id DESC LIMIT 1"""
        )
        return parse_iso(row["started_at"]) if row else None

    def last(self, *, complete: bool = False) -> RunRecord | None:
        """The newest finished run (optionally: the newest complete one)."""
        where = "finished_at IS NOT NULL" + (" AND complete = 1" if complete else "")
        row = self._conn.one(f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT 1")  # noqa: S608 - fixed fragments
        return from_row(RunRecord, row, complete=bool(row["complete"])) if row else None

    def consecutive_failures(self) -> int:
        """How many of the newest finished runs failed in a row (0 after a good one); runs
        interrupted by a stop (a restart, Ctrl-C) are no failure of the registry's."""
        row = self._conn.one(
            """SELECT COUNT(*) AS n FROM runs WHERE finished_at IS NOT NULL AND error IS NOT NULL
               AND COALESCE(mode, '') != 'interrupted'
               AND id > COALESCE((SELECT MAX(id) FROM runs
                                  WHERE finished_at IS NOT NULL AND error IS NULL), 0)"""
        )
        return int(row["n"]) if row else 0

    def needs_full_fetch(self, nct_ids: Sequence[str]) -> tuple[str, ...]:
        """Trials always fetched in full: never recorded, last check failed, or not in
        the watch list of the last complete cycle (added, or removed and added back).

        A trial the registry answered "not found" is not failing: asking again
        every cycle would cost a full fetch for nothing. When it appears, its
        post date falls in the incremental listing's window (and the weekly
        sweep fetches everything anyway).

        When the watch list is the one of the last complete cycle (same digest),
        only the unhealthy trials are read; otherwise the scope is read row by
        row against the watch list, never as a second copy of it. Before any complete
        cycle every trial is fresh: the list itself is the answer (a baseline of the
        whole registry holds no copy of it).
        """
        if self._stored_digest() == scope_digest(nct_ids):
            # Every listed trial has a row (a complete cycle gave each one), or was deleted
            # by hand and noted in ``forgotten_trials`` (migration 0021): the unhealthy
            # ones are those of the partial index ``trials_unhealthy`` and the forgotten
            # ones still without a row, a short read at any size.
            rows = self._conn.rows(
                """SELECT nct_id FROM trials
                   WHERE not_found = 0 AND (latest_hash IS NULL OR last_error IS NOT NULL)
                   UNION SELECT nct_id FROM forgotten_trials
                   WHERE nct_id NOT IN (SELECT nct_id FROM trials)"""
            )
            if not rows:
                return ()
            unhealthy = {r["nct_id"] for r in rows}
            return tuple(n for n in nct_ids if n in unhealthy)
        if self._conn.one("SELECT 1 FROM scope LIMIT 1") is None:
            return nct_ids if isinstance(nct_ids, tuple) else tuple(nct_ids)  # a first cycle
        pending = set(nct_ids)
        for (nct,) in self._conn.stream(
            """SELECT t.nct_id FROM trials t JOIN scope s ON s.nct_id = t.nct_id
               WHERE t.not_found = 1 OR (t.latest_hash IS NOT NULL AND t.last_error IS NULL)"""
        ):
            pending.discard(nct)
        return tuple(n for n in nct_ids if n in pending)

    def set_scope(self, nct_ids: Sequence[str]) -> None:
        """Remember the watch list of a complete cycle (writes only the difference)."""
        digest = scope_digest(nct_ids)
        if self._stored_digest() == digest:
            return
        with self._conn.atomic() as db:
            missing = set(nct_ids)
            gone = []
            for (nct,) in self._conn.stream("SELECT nct_id FROM scope"):
                if nct in missing:
                    missing.discard(nct)
                else:
                    gone.append((nct,))
            db.conn.executemany("DELETE FROM scope WHERE nct_id = ?", gone)
            insert = ((n,) for n in missing)  # a generator: no 600,000 tuples at once
            db.conn.executemany("INSERT INTO scope (nct_id) VALUES (?)", insert)
            db.execute(
                "INSERT INTO scope_digest (id, digest) VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET digest = excluded.digest",
                [digest],
            )

    def _stored_digest(self) -> str | None:
        row = self._conn.one("SELECT digest FROM scope_digest WHERE id = 1")
        return None if row is None else str(row["digest"])


def scope_digest(nct_ids: Sequence[str]) -> str:
    """SHA-256 of the watch list in its order (another order only costs one full read),
    hashed a slice at a time: the whole list joined is a passing copy of every ID."""
    digest = hashlib.sha256()
    hash_joined(digest.update, nct_ids, "\n", "ascii")
    return digest.hexdigest()


DIGEST_SLICE = 10_000


def hash_joined(
    update: Callable[[bytes], object], items: Sequence[str], separator: str, encoding: str
) -> None:
    """``update(separator.join(items).encode(encoding, "replace"))`` (a hash's ``update``),
    the same bytes a slice of :data:`DIGEST_SLICE` items at a time: never a joined copy of
    a whole list."""
    for start in range(0, len(items), DIGEST_SLICE):
        text = separator.join(items[start : start + DIGEST_SLICE])
        update(((separator if start else "") + text).encode(encoding, "replace"))
