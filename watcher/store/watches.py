"""Which config watch follows which trial, for analysts (``watch_members``, ``trial_watches``).

Why in the database at all: watches live in the config file, but people query
the database without it (sqlite3, Datasette). ``ctwatch check`` writes the
watches it ran with; like the scope (:mod:`watcher.store.runs`), an unchanged
config is recognised by a digest and costs one read, and a changed one writes
only the rows that differ, in one transaction.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence

from watcher.store.base import Connection
from watcher.store.runs import hash_joined


def watches_digest(members: Mapping[str, Sequence[str]]) -> str:
    """SHA-256 of the watches and their trials, in config order (``name<TAB>id,id…`` per
    line), hashed a slice of IDs at a time, never the whole list joined."""
    digest = hashlib.sha256()
    for i, (name, trials) in enumerate(members.items()):
        head = ("\n" if i else "") + name + "\t"
        digest.update(head.encode("utf-8", "replace"))
        hash_joined(digest.update, trials, ",", "utf-8")
    return digest.hexdigest()


_WANTED = """CREATE TEMP TABLE IF NOT EXISTS wanted_members (
    watch TEXT NOT NULL, nct_id TEXT NOT NULL, PRIMARY KEY (watch, nct_id)) WITHOUT ROWID"""


class Watches:
    """Reads and writes ``watch_members``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def sync(self, members: Mapping[str, Sequence[str]]) -> bool:
        """Make ``watch_members`` say ``members`` (watch name -> NCT IDs); True if it wrote."""
        digest = watches_digest(members)
        row = self._conn.one("SELECT digest FROM watch_digest WHERE id = 1")
        if row is not None and row["digest"] == digest:
            return False
        # compared in SQL, through a temporary table streamed from the lists: a set of
        # (watch, trial) pairs in Python was a 90 MB passing peak for a whole registry
        pairs = ((name, nct) for name, trials in members.items() for nct in trials)
        with self._conn.atomic() as db:
            db.execute(_WANTED)
            db.execute("DELETE FROM temp.wanted_members")
            db.conn.executemany("INSERT OR IGNORE INTO temp.wanted_members VALUES (?, ?)", pairs)
            db.execute(
                """DELETE FROM watch_members WHERE NOT EXISTS (SELECT 1 FROM temp.wanted_members w
                       WHERE w.watch = watch_members.watch AND w.nct_id = watch_members.nct_id)"""
            )
            db.execute(
                """INSERT INTO watch_members (watch, nct_id)
                   SELECT watch, nct_id FROM temp.wanted_members w WHERE NOT EXISTS (SELECT 1
                       FROM watch_members m WHERE m.watch = w.watch AND m.nct_id = w.nct_id)"""
            )
            db.execute("DELETE FROM temp.wanted_members")
            db.execute(
                "INSERT INTO watch_digest (id, digest) VALUES (1, ?)"
                " ON CONFLICT(id) DO UPDATE SET digest = excluded.digest",
                [digest],
            )
        return True

    def of(self, nct_ids: Sequence[str]) -> dict[str, list[str]]:
        """``nct_id -> names`` of what follows each trial (watches, searches, Slack channels)."""
        rows = self._conn.rows_in("SELECT nct_id, name FROM trial_watches", "nct_id", nct_ids)
        out: dict[str, list[str]] = {}
        for row in rows:
            out.setdefault(row["nct_id"], []).append(row["name"])
        return {nct: sorted(set(names)) for nct, names in out.items()}
