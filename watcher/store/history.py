"""A trial's registry history in the store: imported versions, numbering, the queue.

Why these rules (the decisions themselves are in :mod:`watcher.core.history`):

* One trial's import is one transaction (:meth:`Histories.writing`): its
  versions, their changes, the new order, the numbers learnt for observed
  versions and the "history read" mark commit together or not at all, so a
  kill at any line leaves the trial as it was.
* Imported versions write no outbox rows: they are history, not news. The
  changes of an observed version that alerts were written for are never
  rewritten (they are what people were told).
* ``trials.latest_hash`` is never touched by an import: the next check still
  compares the registry's record with the version ctwatch observed last.
* ``backfill_queue`` lists trials whose history the daemon still has to
  import; a trial whose history was read (``histories``) is never queued again.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlite_utils import Database

from watcher.core import record as rec
from watcher.core.events import Event
from watcher.core.history import IMPORTED
from watcher.core.snapshot import Snapshot
from watcher.store.base import Connection
from watcher.store.bodies import BodyCodec
from watcher.store.events import ClockWrite, Source, insert_events, write_clock
from watcher.store.rows import ChangeRow, StoredVersion

_OUTLINE = """SELECT v.id, v.position, v.source, v.registry_version, v.submitted,
                     v.last_update_posted,
                     EXISTS (SELECT 1 FROM outbox o WHERE o.version_id = v.id) AS alerted,
                     CASE WHEN v.submitted IS NULL THEN v.body END AS body
              FROM versions v WHERE v.nct_id = ? ORDER BY v.position"""


def enqueue(db: Database, nct_ids: Sequence[str], now: str) -> int:
    """Queue trials for a history import, unless queued already or their history is known."""
    cursor = db.conn.executemany(
        """INSERT OR IGNORE INTO backfill_queue (nct_id, queued_at, next_attempt_at)
           SELECT ?, ?, ? WHERE NOT EXISTS (SELECT 1 FROM histories WHERE nct_id = ?)""",
        [(nct, now, now, nct) for nct in nct_ids],
    )
    return max(cursor.rowcount, 0)


def _outline(db: Database, codec: BodyCodec, rows: Sequence[Any]) -> list[StoredVersion]:
    """Rows -> versions; a row from before submission dates were stored reads its body."""
    out = []
    for row in rows:
        submitted = row["submitted"]
        if submitted is None and row["body"] is not None:
            submitted = rec.last_update_submitted(codec.record(db, row["body"]))
        version = StoredVersion(
            row["id"], row["position"], row["source"], row["registry_version"], submitted,
            row["last_update_posted"], bool(row["alerted"]),
        )  # fmt: skip
        out.append(version)
    return out


class HistoryWrite:
    """The writes of one trial's import, inside its transaction."""

    def __init__(self, db: Database, codec: BodyCodec, nct_id: str) -> None:
        self._db = db
        self._codec = codec
        self.nct_id = nct_id

    def outline(self) -> list[StoredVersion]:
        """The trial's versions in order, read inside the transaction."""
        rows = self._db.execute(_OUTLINE, [self.nct_id]).fetchall()
        versions = _outline(self._db, self._codec, rows)
        self._db.conn.executemany(
            "UPDATE versions SET submitted = ? WHERE id = ? AND submitted IS NULL",
            [(v.submitted, v.id) for v in versions if v.submitted is not None],
        )
        return versions

    def record(self, version_id: int) -> dict[str, Any]:
        row = self._db.execute("SELECT body FROM versions WHERE id = ?", [version_id]).fetchone()
        return self._codec.record(self._db, row["body"]) if row else {}

    def insert(self, snap: Snapshot, registry_version: int, submitted: str, now: str) -> int:
        """An imported version (placed by :meth:`reorder`); no outbox rows, ever.

        It gets no ``number``: ctwatch numbers the versions it observed, and an
        import (older than all of them) is named by its registry number instead,
        so nothing anyone was shown is renumbered.
        """
        cursor = self._db.execute(
            """INSERT INTO versions (nct_id, content_hash, fetched_at, last_update_posted,
                                     overall_status, change_count, body, submitted,
                                     registry_version, source, position)
               VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, 0)""",
            [snap.nct_id, snap.content_hash, now, snap.last_update_posted, snap.overall_status,
             self._codec.compress(snap.body), submitted, registry_version, IMPORTED],
        )  # fmt: skip
        return int(cursor.lastrowid or 0)

    def set_number(self, version_id: int, registry_version: int) -> None:
        self._db.execute(
            "UPDATE versions SET registry_version = ? WHERE id = ?", [registry_version, version_id]
        )

    def set_changes(self, version_id: int, changes: Sequence[ChangeRow]) -> None:
        """Replace a version's changes (relative to the version now before it)."""
        self._db.execute("DELETE FROM changes WHERE version_id = ?", [version_id])
        self._db.conn.executemany(
            "INSERT INTO changes (version_id, path, label, kind, old, new, old_text, new_text)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (version_id, c.path, c.label, c.kind, c.old, c.new, c.old_text, c.new_text)
                for c in changes
            ],
        )
        self._db.execute(
            "UPDATE versions SET change_count = ? WHERE id = ?", [len(changes), version_id]
        )

    def set_events(
        self, version_id: int, events: Sequence[Event], now: str, *, imported: bool
    ) -> None:
        """Replace a version's events (recomputed with the versions now before it); they
        are silent: an import never alerts."""
        self._db.execute(
            "DELETE FROM events WHERE version_id = ? AND source != 'clock'", [version_id]
        )
        source: Source = "imported" if imported else "observed"
        insert_events(self._db, self.nct_id, version_id, events, now, source=source, silent=True)

    def set_clock(self, clock: ClockWrite, now: str) -> None:
        """The time-event facts, from the trial's newest version."""
        write_clock(self._db, self.nct_id, clock, now)

    def reorder(self, version_ids: Sequence[int]) -> None:
        """Put the trial's versions in this order in time (``position`` 1…n; names stay)."""
        self._db.conn.executemany(
            "UPDATE versions SET position = ? WHERE id = ? AND nct_id = ?",
            [(index, vid, self.nct_id) for index, vid in enumerate(version_ids, start=1)],
        )

    def ensure_trial(self, newest: Snapshot, now: str) -> None:
        """The trial's row, before its versions: a trial never checked takes its title and
        status from its newest import (a checked one keeps its own).

        ``latest_hash`` and ``last_update_posted`` stay as they are (NULL before a
        check): the first check of a trial is still a silent baseline, and is never
        judged stale against a version the history endpoint served before the API
        v2 did.
        """
        self._db.execute(
            """INSERT INTO trials (nct_id, title, overall_status, added_at) VALUES (?, ?, ?, ?)
               ON CONFLICT(nct_id) DO UPDATE SET
                   title = COALESCE(trials.title, excluded.title),
                   overall_status = COALESCE(trials.overall_status, excluded.overall_status)""",
            [self.nct_id, newest.title, newest.overall_status, now],
        )

    def mark_read(self, listed: int, now: str) -> None:
        """The registry's version list was read: the history is known, the queue done."""
        self._db.execute(
            """INSERT INTO histories (nct_id, read_at, versions) VALUES (?, ?, ?)
               ON CONFLICT(nct_id) DO UPDATE SET read_at = excluded.read_at,
                                                 versions = excluded.versions""",
            [self.nct_id, now, listed],
        )
        self._db.execute("DELETE FROM backfill_queue WHERE nct_id = ?", [self.nct_id])


class Histories:
    """Reads and writes the history tables; one transaction per trial's import."""

    def __init__(self, conn: Connection, codec: BodyCodec) -> None:
        self._conn = conn
        self._codec = codec

    @contextmanager
    def writing(self, nct_id: str) -> Iterator[HistoryWrite]:
        """One trial's import or numbering, in one transaction."""
        with self._conn.atomic() as db:
            self._codec.refresh(db)
            yield HistoryWrite(db, self._codec, nct_id)

    def outline(self, nct_id: str) -> list[StoredVersion]:
        """The trial's versions in order (number, source, registry number, dates)."""
        rows = self._conn.rows(_OUTLINE, [nct_id])
        with self._conn.lock:
            return _outline(self._conn.db, self._codec, rows)

    def known(self, nct_ids: Sequence[str]) -> set[str]:
        """The trials whose registry version list has been read."""
        rows = self._conn.rows_in("SELECT nct_id FROM histories", "nct_id", nct_ids)
        return {r["nct_id"] for r in rows}

    # ---- the daemon's queue ----------------------------------------------------

    def enqueue(self, nct_ids: Sequence[str], now: str) -> int:
        """Queue trials (those queued or known already are left alone); how many were new."""
        with self._conn.atomic() as db:
            return enqueue(db, nct_ids, now)

    def due(self, now: str, limit: int) -> list[str]:
        """Queued trials whose turn has come, oldest request first."""
        rows = self._conn.rows(
            """SELECT nct_id FROM backfill_queue WHERE next_attempt_at <= ?
               ORDER BY next_attempt_at, queued_at, nct_id LIMIT ?""",
            [now, limit],
        )
        return [r["nct_id"] for r in rows]

    def queued(self) -> int:
        row = self._conn.one("SELECT COUNT(*) AS n FROM backfill_queue")
        return int(row["n"]) if row else 0

    def attempts(self, nct_id: str) -> int:
        row = self._conn.one("SELECT attempts FROM backfill_queue WHERE nct_id = ?", [nct_id])
        return int(row["attempts"]) if row else 0

    def defer(self, nct_id: str, error: str, next_attempt_at: str) -> None:
        """A queued trial could not be imported: try again later, reason kept (masked)."""
        with self._conn.atomic() as db:
            db.execute(
                """UPDATE backfill_queue SET attempts = attempts + 1, last_error = ?,
                       next_attempt_at = ? WHERE nct_id = ?""",
                [self._conn.masked(error), next_attempt_at, nct_id],
            )
