"""Trials, their distinct versions and the field changes each version brought.

The rules that make alerts trustworthy are enforced here: one row per
*distinct* version (an unchanged poll writes no version), and a version, its
changes and its outbox rows commit together, so a crash can never leave a
change recorded but its alert forgotten.

Writes happen in a :class:`VersionBatch`: one ``BEGIN IMMEDIATE`` transaction
per fetched batch (a thousand trials cost one commit, not a thousand), a
trial inside its own savepoint when the caller asks (:meth:`VersionBatch.trial`:
one bad record is then undone alone), and the
reads that decide "changed?" are made inside that transaction, so no other
writer can slip a version in between the decision and the write. Bodies are
compressed by :mod:`watcher.store.bodies` (zstd with a trained dictionary).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from typing import Any, Literal

from sqlite_utils import Database

from watcher.core import record as rec
from watcher.core.diff import FieldChange
from watcher.core.events import Event
from watcher.core.facts import COLUMNS as FACT_COLUMNS
from watcher.core.facts import facts
from watcher.core.snapshot import Snapshot
from watcher.store import history, troubles
from watcher.store.base import Connection, StoreError
from watcher.store.bodies import BodyCodec, BodyError
from watcher.store.events import (
    ClockWrite,
    PendingClock,
    event_rows,
    write_clocks,
    write_event_rows,
)
from watcher.store.outbox import insert_rows
from watcher.store.rows import ChangeRow, OutboxRow, TrialRow, VersionRow, from_row

# "latest" is the last in the trial's own order, never the last inserted (imports come later)
_LATEST_BODY = "SELECT body, position FROM versions WHERE nct_id = ? ORDER BY position DESC LIMIT 1"
FACTS_INTO = (  # after INSERT / INSERT OR REPLACE: the typed row of a trial's latest version
    f"INTO trial_facts (nct_id, {', '.join(FACT_COLUMNS)}) "
    f"VALUES (?, {', '.join('?' * len(FACT_COLUMNS))})"
)
_TRIAL_COLUMNS = """SELECT nct_id, title, overall_status, last_update_posted, last_checked_at,
                          last_changed_at, not_found, consecutive_errors, last_error
                   FROM trials"""


RecordCopies = Literal["columns", "json", "none"]
"""What readable copy of each current record the store keeps beside the compressed body
(``database.readable_records``): ``columns`` (the ``latest`` view's typed columns,
the default), ``json`` (those and the whole record as JSON text) or ``none``."""


def copy_mode(readable: bool | str) -> RecordCopies:
    """``database.readable_records`` (true, false or "json") as a copy mode."""
    if readable is True or readable == "columns":
        return "columns"
    if readable is False or readable == "none":
        return "none"
    if readable == "json":
        return "json"
    raise ValueError(f"readable_records: {readable!r} is not true, false or 'json'")


def _decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _change(row: Any) -> FieldChange:
    old, new = _decode(row["old"]), _decode(row["new"])
    return FieldChange(row["path"], row["label"], row["kind"], old, new)


@dataclass(frozen=True)
class TrialState:
    """What decides how a freshly fetched record is recorded."""

    latest_hash: str | None
    last_update_posted: str | None
    not_found: bool
    consecutive_errors: int = 0
    """Checks in a row that failed (or found nothing) before this one."""


class VersionBatch:
    """The writes of one fetched batch, inside one transaction (see the module doc)."""

    def __init__(
        self, conn: Connection, db: Database, codec: BodyCodec, *, copies: RecordCopies = "none"
    ) -> None:
        self._conn = conn
        self._db = db
        self._codec = codec
        self._copies = copies
        self._last_version: int | None = None
        self._clocks: list[PendingClock] = []
        """Time-event facts of the batch's trials, written together by :meth:`finish`."""
        self._events: list[tuple[Any, ...]] = []
        """The event rows of the batch's new versions, likewise (one statement in all)."""
        self._newest_at: dict[str, int] = {}
        """The position of each trial's newest version as :meth:`latest_body` read it, so
        :meth:`earlier_records` needs no second look (and no query for a single version)."""

    @contextmanager
    def trial(self, *, isolated: bool = True) -> Iterator[None]:
        """One trial's writes: undone alone when the block raises (its pending
        time-event facts too). ``isolated=False`` skips the savepoint: the caller then
        undoes the whole batch if the block raises (see ``Pipeline._record``).

        Once the trial is whole, the body dictionary is trained if it is due
        (see :mod:`watcher.store.bodies`): between trials, never inside one.
        """
        self._last_version = None
        pending, events = len(self._clocks), len(self._events)
        try:
            with self._conn.savepoint() if isolated else nullcontext():
                yield
        except BaseException:
            del self._clocks[pending:]
            del self._events[events:]
            raise
        if self._last_version is not None:  # versions are never deleted: the ID counts them
            self._codec.train_if_due(self._db, self._last_version)

    def finish(self) -> None:
        """The batch's deferred writes, inside its transaction (:meth:`Versions.batch`):
        each version's events before the time-event facts and their first-sight events,
        as when each was written at once."""
        if self._events:
            write_event_rows(self._db, self._events)
            self._events.clear()
        if self._clocks:
            write_clocks(self._conn, self._db, self._clocks)
            self._clocks.clear()

    def states(self, nct_ids: Sequence[str]) -> dict[str, TrialState]:
        """Each named trial's latest hash, post date, not-found flag and failures in a row
        (known trials only)."""
        rows = self._conn.rows_in(
            """SELECT nct_id, latest_hash, last_update_posted, not_found, consecutive_errors
               FROM trials""",
            "nct_id",
            nct_ids,
        )
        return {
            r["nct_id"]: TrialState(
                r["latest_hash"],
                r["last_update_posted"],
                bool(r["not_found"]),
                r["consecutive_errors"],
            )
            for r in rows
        }

    def latest_body(self, nct_id: str) -> bytes | None:
        """The canonical bytes of the trial's newest version, or None before a baseline."""
        row = self._db.execute(_LATEST_BODY, [nct_id]).fetchone()
        if row is None:
            self._newest_at.pop(nct_id, None)
            return None
        self._newest_at[nct_id] = int(row["position"])
        return self._codec.decompress(self._db, row["body"])

    def queue_history(self, nct_id: str, now: str) -> None:
        """Queue the import of this trial's registry history (unless it is known)."""
        history.enqueue(self._db, [nct_id], now)

    def record_unchanged(self, snap: Snapshot, now: str) -> None:
        """Nothing new: refresh the trial row (and its hash), add no version.

        A trial without typed columns yet (recorded while they were off) gets them; with
        them off (``readable_records = false``) a trial's are cleared, never left stale.
        """
        _upsert_trial(self._db, snap, now, keep_hash=True, copies=self._copies)
        if self._copies == "none":
            self._db.execute("DELETE FROM trial_facts WHERE nct_id = ?", [snap.nct_id])
        elif not self._db.execute(
            "SELECT 1 FROM trial_facts WHERE nct_id = ?", [snap.nct_id]
        ).fetchone():
            self._db.execute("INSERT " + FACTS_INTO, [snap.nct_id, *facts(snap.record)])

    def earlier_records(self, nct_id: str) -> list[dict[str, Any]]:
        """Every stored version of a trial but the newest, oldest first (what the
        history-aware event rules read; loaded only when a rule needs it). After
        :meth:`latest_body`, by the position it read: positions run 1…n, so a newest
        version at 1 has nothing before it and costs no query."""
        newest = self._newest_at.get(nct_id)
        if newest is not None and newest <= 1:
            return []
        rows = self._db.execute(
            """SELECT body FROM versions WHERE nct_id = ? AND position < COALESCE(?,
                   (SELECT MAX(position) FROM versions WHERE nct_id = ?)) ORDER BY position""",
            [nct_id, newest, nct_id],
        ).fetchall()  # the newest body is not read: the caller holds it already
        return [self._codec.record(self._db, r["body"]) for r in rows]

    def record_version(
        self,
        snap: Snapshot,
        changes: Sequence[ChangeRow],
        outbox: Sequence[OutboxRow],
        now: str,
        *,
        events: Sequence[Event] = (),
        clock: ClockWrite | None = None,
    ) -> int:
        """A version with its changes, events and outbox rows; ``clock``: the facts the
        time-event rules read from this (the newest) version."""
        db = self._db
        self._newest_at.pop(snap.nct_id, None)  # a newer version now: read it again
        _upsert_trial(db, snap, now, changed=bool(changes), copies=self._copies)
        # ``number``: ctwatch's own, the next one for this trial, never changed afterwards
        cursor = db.execute(
            """INSERT INTO versions (nct_id, content_hash, fetched_at, last_update_posted,
                                     overall_status, change_count, body, submitted, position,
                                     number)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?,
                       (SELECT COALESCE(MAX(position), 0) + 1 FROM versions WHERE nct_id = ?),
                       (SELECT COALESCE(MAX(number), 0) + 1 FROM versions WHERE nct_id = ?))""",
            [snap.nct_id, snap.content_hash, now, snap.last_update_posted,
             snap.overall_status, len(changes), self._codec.compress(snap.body),
             rec.last_update_submitted(snap.record), snap.nct_id, snap.nct_id],
        )  # fmt: skip
        if self._copies == "none":
            db.execute("DELETE FROM trial_facts WHERE nct_id = ?", [snap.nct_id])
        else:
            db.execute("INSERT OR REPLACE " + FACTS_INTO, [snap.nct_id, *facts(snap.record)])
        version_id = int(cursor.lastrowid or 0)
        self._last_version = version_id
        db.conn.executemany(
            "INSERT INTO changes (version_id, path, label, kind, old, new, old_text, new_text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (version_id, c.path, c.label, c.kind, c.old, c.new, c.old_text, c.new_text)
                for c in changes
            ],
        )
        insert_rows(db, outbox, now, version_id=version_id, nct_id=snap.nct_id)
        if events:
            silent = not any(r.kind == "change" for r in outbox)
            self._events += event_rows(snap.nct_id, version_id, events, now, source="observed",
                                       silent=silent)  # fmt: skip
        if clock is not None:
            self._clocks.append(PendingClock.of(snap.nct_id, clock, now, version_id))
        else:  # recorded without the event rules: the cycle's time pass reads its facts
            db.execute("INSERT OR IGNORE INTO clock_missing (nct_id) VALUES (?)", [snap.nct_id])
        return version_id

    def tell_once(self, key: str, rows: list[OutboxRow], now: str) -> bool:
        """Queue a notice about a condition (a trial gone) unless it was told already."""
        return troubles.tell(self._db, key, rows, now)

    def all_clear(self, key: str, rows: list[OutboxRow], now: str) -> bool:
        """End a condition; queue ``rows`` if it had been told."""
        return troubles.end(self._db, key, rows, now)

    def record_not_found(self, nct_id: str, now: str) -> None:
        """The registry did not return this trial."""
        self._mark(nct_id, now, "not found in the registry", not_found=True)

    def record_error(self, nct_id: str, message: str, now: str) -> None:
        """This trial could not be checked this time; keep the (masked) reason."""
        self._mark(nct_id, now, self._conn.masked(message), not_found=False)

    def _mark(self, nct_id: str, now: str, message: str, *, not_found: bool) -> None:
        self._db.execute(
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


class Versions:
    """Reads ``trials``, ``versions`` and ``changes``; writes through :meth:`batch`."""

    def __init__(
        self, conn: Connection, codec: BodyCodec, *, copies: RecordCopies = "none"
    ) -> None:
        self._conn = conn
        self._codec = codec
        self._copies = copies

    @contextmanager
    def batch(self) -> Iterator[VersionBatch]:
        """One write transaction for a batch of trials (see :class:`VersionBatch`).

        The codec first catches up with the database's newest body dictionary.
        """
        with self._conn.atomic() as db:
            self._codec.refresh(db)
            batch = VersionBatch(self._conn, db, self._codec, copies=self._copies)
            yield batch
            batch.finish()

    # ---- single writes (one transaction each) ---------------------------------------

    def record_version(
        self, snap: Snapshot, changes: Sequence[ChangeRow], outbox: Sequence[OutboxRow], now: str
    ) -> int:
        with self.batch() as batch:
            return batch.record_version(snap, changes, outbox, now)

    def record_unchanged(self, snap: Snapshot, now: str) -> None:
        with self.batch() as batch:
            batch.record_unchanged(snap, now)

    def record_not_found(self, nct_id: str, now: str) -> None:
        with self.batch() as batch:
            batch.record_not_found(nct_id, now)

    def record_error(self, nct_id: str, message: str, now: str) -> None:
        with self.batch() as batch:
            batch.record_error(nct_id, message, now)

    # ---- reads -----------------------------------------------------------------

    def latest_hashes(self, nct_ids: Sequence[str]) -> dict[str, str | None]:
        """``nct_id -> content hash of its latest version`` for the trials named."""
        rows = self._conn.rows_in("SELECT nct_id, latest_hash FROM trials", "nct_id", nct_ids)
        return {r["nct_id"]: r["latest_hash"] for r in rows}

    def posted_dates(self, nct_ids: Sequence[str]) -> dict[str, str | None]:
        """``nct_id -> stored LastUpdatePostDate`` for the trials named."""
        rows = self._conn.rows_in(
            "SELECT nct_id, last_update_posted FROM trials", "nct_id", nct_ids
        )
        return {r["nct_id"]: r["last_update_posted"] for r in rows}

    def latest_record(self, nct_id: str) -> dict[str, Any] | None:
        """The body of the newest version of a trial, or None before a baseline."""
        with self._conn.lock:
            row = self._conn.one(_LATEST_BODY, [nct_id])
            return self._read(row["body"]) if row else None

    def record(self, version_id: int) -> dict[str, Any] | None:
        """The stored body of one version (as recorded: the registry's markup kept)."""
        row = self._conn.one("SELECT body FROM versions WHERE id = ?", [version_id])
        return self._read(row["body"]) if row else None

    def _read(self, blob: bytes) -> dict[str, Any]:
        try:
            return self._codec.record(self._conn.db, blob)
        except BodyError as exc:
            raise StoreError(f"cannot read {self._conn.path} ({exc})") from None

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
        """Every version of a trial with its changes, newest first (two queries).

        Newest by the trial's own order in time (``position``), not by insertion:
        versions imported from the registry's history are written after newer
        ones. Each carries its fixed name (:attr:`VersionRow.ref`).
        """
        versions = self._conn.rows(
            """SELECT id, nct_id, fetched_at, last_update_posted, overall_status,
                      number, position, registry_version, source, submitted
               FROM versions WHERE nct_id = ? ORDER BY position DESC""",
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

    def changes_since(self, nct_id: str, after: str) -> tuple[FieldChange, ...]:
        """What changed in the versions observed after ``after``, one change per field:
        the oldest value before, the newest after (what explains a trial leaving a search)."""
        rows = self._conn.rows(
            """SELECT c.path, c.label, c.kind, c.old, c.new FROM changes c
               JOIN versions v ON v.id = c.version_id
               WHERE v.nct_id = ? AND v.fetched_at > ? AND v.source = 'observed'
               ORDER BY v.position, c.id""",
            [nct_id, after],
        )
        merged: dict[str, FieldChange] = {}
        for latest in (_change(r) for r in rows):
            first = merged.get(latest.path)
            merged[latest.path] = latest if first is None else _spanning(first, latest)
        return tuple(c for c in merged.values() if c.old != c.new)

    def last_changes(self, nct_id: str) -> tuple[FieldChange, ...]:
        """The changes of the newest version that had any (one query)."""
        rows = self._conn.rows(
            """SELECT path, label, kind, old, new FROM changes
               WHERE version_id = (SELECT id FROM versions WHERE nct_id = ? AND change_count > 0
                                   ORDER BY position DESC LIMIT 1)
               ORDER BY id""",
            [nct_id],
        )
        return tuple(_change(r) for r in rows)


def _spanning(first: FieldChange, latest: FieldChange) -> FieldChange:
    """One change from the value before ``first`` to the value after ``latest``."""
    if first.old is None:
        return replace(latest, old=None, kind="added")
    return replace(latest, old=first.old, kind="removed" if latest.new is None else "changed")


def _upsert_trial(
    db: Database,
    snap: Snapshot,
    now: str,
    *,
    keep_hash: bool = False,
    changed: bool = False,
    copies: RecordCopies = "none",
) -> None:
    """The trial's row after a good fetch, with its latest hash, in one statement.

    ``keep_hash``: an unchanged record only refreshes a hash that exists (a
    trial whose baseline failed has none, and must get one from a version).
    ``copies == "json"``: keep the record as JSON text in ``trials.record`` (the
    ``latest`` view's ``record``); an unchanged record only fills it when it is
    missing. Any other mode clears it, so a text kept before is never stale.
    """
    readable = copies == "json"
    db.execute(
        """
        INSERT INTO trials (nct_id, title, overall_status, last_update_posted, latest_hash,
                            added_at, last_checked_at, last_changed_at, not_found,
                            consecutive_errors, last_error, record)
        VALUES (:nct, :title, :status, :posted, CASE WHEN :keep THEN NULL ELSE :hash END,
                :now, :now, :changed_at, 0, 0, NULL, :record)
        ON CONFLICT(nct_id) DO UPDATE SET
            record = CASE WHEN :keep AND :readable THEN COALESCE(trials.record, :record)
                          ELSE :record END,
            title = excluded.title, overall_status = excluded.overall_status,
            last_update_posted = excluded.last_update_posted,
            latest_hash = CASE WHEN :keep AND trials.latest_hash IS NULL THEN NULL
                               ELSE :hash END,
            last_checked_at = excluded.last_checked_at,
            last_changed_at = COALESCE(excluded.last_changed_at, trials.last_changed_at),
            not_found = 0, consecutive_errors = 0, last_error = NULL
        """,
        {
            "nct": snap.nct_id, "title": snap.title, "status": snap.overall_status,
            "posted": snap.last_update_posted, "hash": snap.content_hash, "now": now,
            "changed_at": now if changed else None, "keep": int(keep_hash),
            "record": snap.body.decode("utf-8") if readable else None,
            "readable": int(readable),
        },
    )  # fmt: skip
