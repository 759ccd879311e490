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


def watches_digest(members: Mapping[str, Sequence[str]]) -> str:
    """SHA-256 of the watches and their trials, in config order."""
    text = "\n".join(f"{name}\t{','.join(trials)}" for name, trials in members.items())
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()


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
        wanted = {(name, nct) for name, trials in members.items() for nct in trials}
        with self._conn.atomic() as db:
            held = {(r[0], r[1]) for r in db.execute("SELECT watch, nct_id FROM watch_members")}
            db.conn.executemany(
                "DELETE FROM watch_members WHERE watch = ? AND nct_id = ?", sorted(held - wanted)
            )
            db.conn.executemany(
                "INSERT INTO watch_members (watch, nct_id) VALUES (?, ?)", sorted(wanted - held)
            )
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
