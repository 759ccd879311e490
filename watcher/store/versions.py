"""Trials, their distinct versions and the field changes each version brought.

The rules that make alerts trustworthy are enforced here: one row per
*distinct* version (an unchanged poll writes no version), and a version, its
changes and its outbox rows commit in one transaction, so a crash can never
leave a change recorded but its alert forgotten.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from watcher.core.diff import FieldChange
from watcher.core.snapshot import Snapshot, compress, decompress
from watcher.store.base import Connection
from watcher.store.rows import ChangeRow, OutboxRow, TrialRow, VersionRow, from_row

_TRIAL_COLUMNS = """SELECT nct_id, title, overall_status, last_update_posted, last_checked_at,
                          last_changed_at, not_found, consecutive_errors, last_error
                   FROM trials"""


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _change(row: Any) -> FieldChange:
    old, new = _decode(row["old"]), _decode(row["new"])
    return FieldChange(row["path"], row["label"], row["kind"], old, new)


class Versions:
    """Reads and writes ``trials``, ``versions`` and ``changes``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    # ---- reads -----------------------------------------------------------------

    def latest_hashes(self, nct_ids: Sequence[str]) -> dict[str, str | None]:
        """``nct_id -> content hash of its latest version`` for the trials named."""
        rows = self._conn.rows_in("SELECT nct_id, latest_hash FROM trials", "nct_id", nct_ids)
        return {r["nct_id"]: r["latest_hash"] for r in rows}

    def latest_record(self, nct_id: str) -> dict[str, Any] | None:
        """The body of the newest version of a trial, or None before a baseline."""
        row = self._conn.one(
            "SELECT body FROM versions WHERE nct_id = ? ORDER BY id DESC LIMIT 1", [nct_id]
        )
        return decompress(row["body"]) if row else None

    def trials(self, nct_ids: Sequence[str] | None = None) -> list[TrialRow]:
        """Status rows, for all trials (by NCT ID) or the ones named (in that order)."""
        if nct_ids is None:
            rows = self._conn.rows(_TRIAL_COLUMNS + " ORDER BY nct_id")
        else:
            rows = self._conn.rows_in(_TRIAL_COLUMNS, "nct_id", nct_ids)
        found = {r["nct_id"]: from_row(TrialRow, r, not_found=bool(r["not_found"])) for r in rows}
        if nct_ids is None:
            return list(found.values())
        return [found[n] for n in nct_ids if n in found]

    def history(self, nct_id: str) -> list[VersionRow]:
        """Every recorded version of a trial with its changes, newest first (two queries)."""
        versions = self._conn.rows(
            """SELECT id, nct_id, fetched_at, last_update_posted, overall_status FROM versions
               WHERE nct_id = ? ORDER BY id DESC""",
            [nct_id],
        )
        changes = self.changes_of([v["id"] for v in versions])
        return [from_row(VersionRow, v, changes=changes.get(v["id"], ())) for v in versions]

    def changes_of(self, version_ids: Sequence[int]) -> dict[int, tuple[FieldChange, ...]]:
        """The changes of each version, in the order they were found, in one query per 500."""
        rows = self._conn.rows_in(
            "SELECT id, version_id, path, label, kind, old, new FROM changes",
            "version_id",
            version_ids,
        )
        grouped: dict[int, list[FieldChange]] = {}
        for row in sorted(rows, key=lambda r: int(r["id"])):
            grouped.setdefault(row["version_id"], []).append(_change(row))
        return {vid: tuple(items) for vid, items in grouped.items()}

    def last_changes(self, nct_id: str) -> tuple[FieldChange, ...]:
        """The changes of the newest version that had any (one query)."""
        rows = self._conn.rows(
            """SELECT path, label, kind, old, new FROM changes
               WHERE version_id = (SELECT id FROM versions WHERE nct_id = ? AND change_count > 0
                                   ORDER BY id DESC LIMIT 1)
               ORDER BY id""",
            [nct_id],
        )
        return tuple(_change(r) for r in rows)

    # ---- writes ----------------------------------------------------------------

    def record_unchanged(self, snap: Snapshot, now: str) -> None:
        """A poll that found nothing new: refresh the trial row, add no version."""
        with self._conn.atomic() as db:
            _upsert_trial(db, snap, now)

    def record_version(
        self,
        snap: Snapshot,
        changes: Sequence[ChangeRow],
        outbox: Sequence[OutboxRow],
        now: str,
    ) -> int:
        """Insert a version with its changes and outbox rows in one transaction."""
        with self._conn.atomic() as db:
            _upsert_trial(db, snap, now)
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
                [(version_id, c.path, c.label, c.kind, c.old, c.new) for c in changes],
            )
            db.conn.executemany(
                """INSERT OR IGNORE INTO outbox (version_id, nct_id, destination, paths,
                                                 created_at, next_attempt_at)
                   VALUES (?, ?, ?, ?, ?, ?)""",
                [
                    (
                        version_id,
                        snap.nct_id,
                        row.destination.key,
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
        with self._conn.atomic() as db:
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


def _upsert_trial(db: Any, snap: Snapshot, now: str) -> None:
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
