"""Recent versions ctwatch saw change, newest first: what a feed is made of.

Why a reader of its own: a feed wants the newest few dozen changes of some
trials, page by page, without reading bodies. A small set of trials is asked
for by ID (the ``versions_by_trial`` index answers it); a large set, or all of
them, is read by walking versions backwards and filtering, which never builds
a statement with tens of thousands of variables.
"""

from __future__ import annotations

from collections.abc import Collection

from watcher.core.history import OBSERVED
from watcher.store.base import CHUNK, Connection
from watcher.store.rows import ChangedVersion, from_row

_COLUMNS = """SELECT v.id, v.nct_id, v.content_hash, v.fetched_at, v.last_update_posted, t.title
              FROM versions v LEFT JOIN trials t ON t.nct_id = v.nct_id"""
# A feed carries what ctwatch saw change: not versions imported from the registry's
# history, and not the first observed version, whose changes (once history is
# imported) are relative to a version ctwatch never saw as current.
_SEEN_CHANGING = """v.change_count > 0 AND v.source = ? AND EXISTS (
    SELECT 1 FROM versions p
    WHERE p.nct_id = v.nct_id AND p.source = ? AND p.position < v.position)"""
_SEEN = [OBSERVED, OBSERVED]  # its parameters


class Recent:
    """Reads changed versions for feeds."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def changed_versions(
        self, nct_ids: Collection[str] | None, before_id: int | None, limit: int
    ) -> list[ChangedVersion]:
        """Up to ``limit`` versions with changes, of ``nct_ids`` (None: any trial), whose id
        is below ``before_id`` (None: from the newest), newest first."""
        before = before_id if before_id is not None else 2**62
        if nct_ids is not None and len(nct_ids) <= CHUNK:
            if not nct_ids:
                return []
            marks = ",".join("?" * len(nct_ids))
            rows = self._conn.rows(
                f"""{_COLUMNS} WHERE {_SEEN_CHANGING} AND v.id < ? AND v.nct_id IN ({marks})
                    ORDER BY v.id DESC LIMIT ?""",
                [*_SEEN, before, *nct_ids, limit],
            )
            return [from_row(ChangedVersion, r) for r in rows]
        wanted = None if nct_ids is None else set(nct_ids)
        out: list[ChangedVersion] = []
        while len(out) < limit:
            rows = self._conn.rows(
                f"{_COLUMNS} WHERE {_SEEN_CHANGING} AND v.id < ? ORDER BY v.id DESC LIMIT ?",
                [*_SEEN, before, CHUNK],
            )
            if not rows:
                break
            before = rows[-1]["id"]
            out += [
                from_row(ChangedVersion, r) for r in rows if wanted is None or r["nct_id"] in wanted
            ]
        return out[:limit]
