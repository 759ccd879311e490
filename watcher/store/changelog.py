"""Every recorded field change across trials, streamed in keyset order (``ctwatch changes``).

Why a reader of its own: a change log over a large database must neither hold
it in memory nor slow down page after page. Rows come in the order they were
recorded, ``(version id, change id)``, a page at a time, each page starting
after the last row of the one before (keyset paging: every page costs the
same, however deep). ``since`` starts at the first version seen since then
(the ``versions_seen`` index) and filters exactly; a few trials are asked for
by ID, many are filtered as the rows stream past.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass

from watcher.core.history import IMPORTED, version_ref
from watcher.store.base import CHUNK, Connection

PAGE = 1000

_SELECT = """
SELECT c.id AS change_id, v.id AS version_id, v.nct_id, t.title, v.number, v.registry_version,
       v.source, v.fetched_at AS seen_at, COALESCE(v.submitted, v.last_update_posted) AS date,
       c.path, c.label, c.kind,
       COALESCE(c.old_text, json_extract(c.old, '$')) AS old,
       COALESCE(c.new_text, json_extract(c.new, '$')) AS new
FROM versions v JOIN changes c ON c.version_id = v.id LEFT JOIN trials t ON t.nct_id = v.nct_id
WHERE (v.id, c.id) > (?, ?) AND v.fetched_at >= ?"""


@dataclass(frozen=True)
class LoggedChange:
    """One field change with what a change log shows beside it."""

    change_id: int
    version_id: int
    nct_id: str
    title: str | None
    number: int | None
    """ctwatch's own number of the version (None for an imported one)."""
    registry_version: int | None
    source: str
    """``observed`` or ``imported``."""
    seen_at: str
    """When ctwatch recorded the version (for an imported one: when it was imported)."""
    date: str | None
    """The version's registry date (submitted, else posted)."""
    path: str
    label: str
    kind: str
    old: object
    new: object

    @property
    def ref(self) -> str:
        """The version as ``history`` prints it (``#3``, ``r7``)."""
        return version_ref(self.number, self.registry_version)


class ChangeLog:
    """Streams ``changes`` joined to their versions and trials."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def stream(
        self,
        *,
        since: str | None = None,
        nct_ids: Collection[str] | None = None,
        page: int = PAGE,
    ) -> Iterator[LoggedChange]:
        """Changes of versions seen at or after ``since`` (ISO text; None: all), of
        ``nct_ids`` (None: every trial), oldest first, ``page`` rows per query."""
        if nct_ids is not None and not nct_ids:
            return
        after = (self._first_version(since) - 1, 0) if since else (0, 0)
        floor = since or ""
        few = nct_ids is not None and len(nct_ids) <= CHUNK
        sql, extra = _SELECT, []
        if few and nct_ids is not None:
            extra = sorted(nct_ids)
            sql += f" AND v.nct_id IN ({','.join('?' * len(extra))})"
        sql += " ORDER BY v.id, c.id LIMIT ?"
        wanted = None if few or nct_ids is None else set(nct_ids)
        while True:
            rows = self._conn.rows(sql, [*after, floor, *extra, page])
            if not rows:
                return
            after = (rows[-1]["version_id"], rows[-1]["change_id"])
            for row in rows:
                if wanted is not None and row["nct_id"] not in wanted:
                    continue
                yield LoggedChange(
                    row["change_id"], row["version_id"], row["nct_id"], row["title"],
                    row["number"], row["registry_version"],
                    "imported" if row["source"] == IMPORTED else row["source"],
                    row["seen_at"], row["date"], row["path"], row["label"], row["kind"],
                    row["old"], row["new"],
                )  # fmt: skip

    def _first_version(self, since: str) -> int:
        """The lowest version id seen at or after ``since`` (past the last when none)."""
        row = self._conn.one(
            "SELECT MIN(id) AS first, (SELECT MAX(id) FROM versions) AS last FROM versions"
            " WHERE fetched_at >= ?",
            [since],
        )
        if row is None or row["first"] is None:
            return int(row["last"] or 0) + 1 if row is not None else 1
        return int(row["first"])
