"""The web UI's read model: a trial's story, the change log across trials, the latest news.

Why one module: what the UI shows as "what happened" (its level, its type, its
words) is decided here once, so the events of issue 22 plug in at one place.
Every recorded field change is an *entry* of level ``info`` whose type is
``field.<kind>`` (``field.changed``, ``field.added``, ``field.removed``), in
the words alerts use (:func:`watcher.core.render.change_lines`). When the
database has an ``events`` table (``version_id``, ``type``, ``level``,
``summary``: issue 22) a version's events come first, as entries of their own
level and type, and the level and type filters read them too; without it a
level filter above ``info`` matches nothing.

Versions are numbered as ``ctwatch history`` prints them (:func:`number_sql`,
the one place that says how). A version's date is the registry's
(submitted, else last update posted, else the day ctwatch fetched it): the
change log is ordered by it, newest first, and paged by a keyset cursor
``(date, version id)`` so every page costs the same whatever its depth.
Nothing here writes.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core.diff import FieldChange, diff_records
from watcher.core.history import IMPORTED, version_ref
from watcher.core.render import ChangeLine, change_lines
from watcher.core.timeline import Facts
from watcher.store.base import Connection, StoreError
from watcher.store.bodies import BodyCodec, BodyError
from watcher.store.log_filters import DENSE, TypeFilter, cursor_of, type_filters
from watcher.store.versions import _change

LEVELS = ("high", "medium", "low", "info")
"""Highest first (the events issue's levels)."""
CHANGE_LEVEL = "info"
"""The level of a field change that no event explains (every change, until events land)."""
CHANGE_TYPES = ("field.changed", "field.added", "field.removed")
EVENT_COLUMNS = frozenset({"version_id", "type", "level", "summary"})
"""What the read model needs of an ``events`` table before it shows events."""


def number_sql(alias: str = "v") -> str:
    """The SQL of a version's place in its trial's history (1 oldest, whatever order
    versions were written in). It orders and anchors; people read :func:`version_ref`'s
    name (``#2``, ``r7``), built from ``number`` and ``registry_version``."""
    return f"{alias}.position"


def date_sql(alias: str = "v") -> str:
    """The SQL of a version's date: submitted, else last update posted, else fetched day."""
    fetched_day = f"substr({alias}.fetched_at, 1, 10)"
    return f"COALESCE({alias}.submitted, {alias}.last_update_posted, {fetched_day})"


def change_type(kind: str) -> str:
    """The entry type of a field change of ``kind`` (``changed``, ``added``, ``removed``)."""
    return f"field.{kind}"


def levels_from(level: str) -> tuple[str, ...]:
    """``level`` and every level above it (``low`` -> high, medium, low)."""
    return LEVELS[: LEVELS.index(level) + 1]


@dataclass(frozen=True)
class Entry:
    """One thing that happened in a version, as every page shows it."""

    level: str
    type: str
    line: ChangeLine

    @property
    def text(self) -> str:
        return self.line.text()


def entries(changes: Sequence[FieldChange], events: Sequence[Entry] = ()) -> tuple[Entry, ...]:
    """A version's entries: its events (highest level first), then its field changes in
    the words alerts use, all ``info``."""
    kinds = {c.label: c.kind for c in changes}
    ranked = sorted(events, key=lambda e: LEVELS.index(e.level))
    return tuple(ranked) + tuple(
        Entry(CHANGE_LEVEL, change_type(kinds.get(line.label, "changed")), line)
        for line in change_lines(changes)
    )


def event_entry(type_: str, level: str, summary: str) -> Entry:
    """An event as an entry (an unknown level reads as ``info``)."""
    shown = level if level in LEVELS else CHANGE_LEVEL
    return Entry(shown, type_, ChangeLine(type_, summary=summary))


def _highest(items: Sequence[Entry]) -> str:
    return LEVELS[min((LEVELS.index(e.level) for e in items), default=len(LEVELS) - 1)]


@dataclass(frozen=True)
class ChangeSet:
    """One version that changed something: where it sits, and its entries."""

    version_id: int
    nct_id: str
    title: str
    number: int
    """The version's place in the trial's history (oldest first), for ordering and anchors."""
    date: str
    source: str
    registry_version: int | None
    fetched_at: str
    entries: tuple[Entry, ...]
    changes: tuple[FieldChange, ...]
    ref: str = ""
    """Its name as ``ctwatch history`` prints it (``#2``, ``r7``)."""

    @property
    def imported(self) -> bool:
        return self.source == IMPORTED

    @property
    def level(self) -> str:
        return _highest(self.entries)

    @property
    def cursor(self) -> str:
        """The keyset cursor of the page that follows this row (see :func:`cursor_of`)."""
        return cursor_of(self.date, self.version_id)


@dataclass(frozen=True)
class StoryVersion:
    """One version of a trial with what is drawn of it and what it changed."""

    id: int
    number: int
    """Its place in the trial's history (oldest first), for ordering and anchors."""
    date: str
    source: str
    registry_version: int | None
    fetched_at: str
    facts: Facts
    entries: tuple[Entry, ...]
    ref: str = ""
    """Its name as ``ctwatch history`` prints it (``#2``, ``r7``): what the compare takes."""

    @property
    def imported(self) -> bool:
        return self.source == IMPORTED


@dataclass(frozen=True)
class TrialStory:
    """Everything the trial page shows: the trial row, the newest record, every version."""

    nct_id: str
    title: str
    overall_status: str | None
    last_checked_at: str | None
    last_changed_at: str | None
    record: dict[str, Any]
    versions: tuple[StoryVersion, ...]
    """Oldest first."""


@dataclass(frozen=True)
class ChangeQuery:
    """A filter of the change log (every part optional); ``after`` is a keyset cursor."""

    nct_ids: Collection[str] | None = None
    """Only these trials (a trial, a watch's or a search's); None: every trial."""
    level: str = CHANGE_LEVEL
    """This level and above."""
    type_glob: str | None = None
    since: str | None = None
    until: str | None = None
    after: tuple[str, int] | None = None
    sets: tuple[int, ...] | None = None
    """Only these change sets (version ids): a digest's "…and N more"."""
    limit: int = 50


@dataclass(frozen=True)
class Member:
    """A trial in a search's history: when it joined, when last seen, when it left."""

    nct_id: str
    title: str
    joined: str | None
    last_seen: str | None
    left: str | None


_SET_COLUMNS = f"""SELECT v.id, v.nct_id, {number_sql()} AS number, {date_sql()} AS date,
                         v.source, v.registry_version, v.fetched_at, t.title,
                         v.number AS own_number
                  FROM versions v LEFT JOIN trials t ON t.nct_id = v.nct_id"""  # noqa: S608


class Timeline:
    """Reads for the web UI (no writes)."""

    def __init__(self, conn: Connection, codec: BodyCodec) -> None:
        self._conn = conn
        self._codec = codec

    def changes(self, query: ChangeQuery) -> list[ChangeSet]:
        """Up to ``query.limit`` change sets, newest version date first (then newest id)."""
        events = self.has_events()
        levels = levels_from(query.level)
        if CHANGE_LEVEL not in levels and not events:
            return []  # no events: every change is info
        where = ["v.change_count > 0"]
        params: list[Any] = []
        if CHANGE_LEVEL not in levels:
            where.append(
                "EXISTS (SELECT 1 FROM events e WHERE e.version_id = v.id "
                "AND e.level IN (SELECT value FROM json_each(?)))"
            )
            params.append(json.dumps(list(levels)))
        if query.nct_ids is not None:
            where.append("v.nct_id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(sorted(query.nct_ids)))
        if query.sets is not None:
            where.append("v.id IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(query.sets)))
        if query.since is not None:
            where.append(f"{date_sql()} >= ?")
            params.append(query.since)
        if query.until is not None:
            where.append(f"{date_sql()} <= ?")
            params.append(query.until)
        if query.after is not None:
            where.append(f"({date_sql()} < ? OR ({date_sql()} = ? AND v.id < ?))")
            params += [query.after[0], query.after[0], query.after[1]]
        if query.type_glob is not None:
            parts = type_filters(query.type_glob, events)
            dense = self._matching(parts) >= DENSE
            sql = [f"v.id IN ({p.candidates})" if not dense else p.probe for p in parts]
            where.append(f"({' OR '.join(sql) or '0'})")
            params += [p.glob for p in parts]
        rows = self._conn.rows(
            f"""{_SET_COLUMNS} WHERE {" AND ".join(where)}
                ORDER BY date DESC, v.id DESC LIMIT ?""",
            [*params, query.limit],
        )
        return self._sets(rows)

    def _matching(self, parts: Sequence[TypeFilter]) -> int:
        """How many rows the parts match, counted up to :data:`DENSE` (an index read)."""
        total = 0
        for part in parts:
            row = self._conn.one(
                f"SELECT COUNT(*) FROM ({part.candidates} LIMIT ?)",  # noqa: S608
                [part.glob, DENSE],
            )
            total += int(row[0]) if row is not None else 0
        return total

    def has_events(self) -> bool:
        """Whether the database records events (issue 22) in a shape this reads."""
        rows = self._conn.rows("SELECT name FROM pragma_table_info('events')")
        return {r["name"] for r in rows} >= EVENT_COLUMNS

    def _events_of(self, version_ids: Sequence[int]) -> dict[int, list[Entry]]:
        if not version_ids or not self.has_events():
            return {}
        rows = self._conn.rows(
            """SELECT version_id, type, level, summary FROM events
               WHERE version_id IN (SELECT value FROM json_each(?)) ORDER BY rowid""",
            [json.dumps(list(version_ids))],
        )
        out: dict[int, list[Entry]] = {}
        for row in rows:
            entry = event_entry(str(row["type"]), str(row["level"]), str(row["summary"] or ""))
            out.setdefault(row["version_id"], []).append(entry)
        return out

    def _sets(self, rows: Sequence[Any]) -> list[ChangeSet]:
        ids = [r["id"] for r in rows]
        changes = self._changes_of(ids)
        events = self._events_of(ids)
        out = []
        for r in rows:
            found = changes.get(r["id"], ())
            out.append(
                ChangeSet(
                    version_id=r["id"], nct_id=r["nct_id"], title=r["title"] or "",
                    number=r["number"], date=r["date"], source=r["source"],
                    registry_version=r["registry_version"], fetched_at=r["fetched_at"],
                    entries=entries(found, events.get(r["id"], ())), changes=found,
                    ref=version_ref(r["own_number"], r["registry_version"]),
                )
            )  # fmt: skip
        return out

    def _changes_of(self, version_ids: Sequence[int]) -> dict[int, tuple[FieldChange, ...]]:
        if not version_ids:
            return {}
        rows = self._conn.rows(
            """SELECT id, version_id, path, label, kind, old, new FROM changes
               WHERE version_id IN (SELECT value FROM json_each(?)) ORDER BY id""",
            [json.dumps(list(version_ids))],
        )
        grouped: dict[int, list[FieldChange]] = {}
        for row in rows:
            grouped.setdefault(row["version_id"], []).append(_change(row))
        return {vid: tuple(items) for vid, items in grouped.items()}

    def story(self, nct_id: str) -> TrialStory | None:
        """A trial's every version with its drawn facts (None when none is stored)."""
        trial = self._conn.one(
            """SELECT nct_id, title, overall_status, last_checked_at, last_changed_at
               FROM trials WHERE nct_id = ?""",
            [nct_id],
        )
        rows = self._conn.rows(
            f"""SELECT v.id, {number_sql()} AS number, {date_sql()} AS date, v.source,
                       v.registry_version, v.fetched_at, v.body, v.number AS own_number
                FROM versions v WHERE v.nct_id = ? ORDER BY number""",  # noqa: S608
            [nct_id],
        )
        if trial is None or not rows:
            return None
        changes = self._changes_of([r["id"] for r in rows])
        events = self._events_of([r["id"] for r in rows])
        versions = []
        record: dict[str, Any] = {}
        for r in rows:
            record = self._record(r["body"])
            versions.append(
                StoryVersion(
                    id=r["id"], number=r["number"], date=r["date"], source=r["source"],
                    registry_version=r["registry_version"], fetched_at=r["fetched_at"],
                    facts=Facts.of(record),
                    entries=entries(changes.get(r["id"], ()), events.get(r["id"], ())),
                    ref=version_ref(r["own_number"], r["registry_version"]),
                )
            )  # fmt: skip
        return TrialStory(
            nct_id=trial["nct_id"], title=trial["title"] or "",
            overall_status=trial["overall_status"], last_checked_at=trial["last_checked_at"],
            last_changed_at=trial["last_changed_at"], record=record, versions=tuple(versions),
        )  # fmt: skip

    def compare(self, nct_id: str, a: int, b: int) -> tuple[Entry, ...] | None:
        """What changed from version ``a`` to version ``b`` of a trial (places in its
        history, :func:`number_sql`); None when either is not stored."""
        rows = self._conn.rows(
            f"""SELECT {number_sql()} AS number, v.body FROM versions v
                WHERE v.nct_id = ? AND {number_sql()} IN (?, ?)""",  # noqa: S608
            [nct_id, a, b],
        )
        bodies = {r["number"]: r["body"] for r in rows}
        if a not in bodies or b not in bodies:
            return None
        return entries(diff_records(self._record(bodies[a]), self._record(bodies[b])))

    def _record(self, blob: bytes) -> dict[str, Any]:
        try:
            return self._codec.record(self._conn.db, blob)
        except BodyError as exc:
            raise StoreError(f"cannot read {self._conn.path} ({exc})") from None

    def members(self, search: str) -> list[Member]:
        """Every trial that was a member of a search: current ones first (by when they
        joined, newest first), then the ones that left (newest departure first). A member
        that left without an event of joining was in the search's baseline."""
        current = self._conn.rows(
            """SELECT m.nct_id, t.title, m.first_seen, m.last_seen FROM search_members m
               LEFT JOIN trials t ON t.nct_id = m.nct_id
               WHERE m.search = ? ORDER BY m.first_seen DESC, m.nct_id""",
            [search],
        )
        gone = self._conn.rows(
            """SELECT e.nct_id, MAX(e.at) AS left_at, t.title,
                      COALESCE(
                          (SELECT MAX(j.at) FROM search_events j WHERE j.search = e.search
                           AND j.nct_id = e.nct_id AND j.kind != 'left'),
                          (SELECT s.baseline_at FROM searches s WHERE s.name = e.search)
                      ) AS joined
               FROM search_events e LEFT JOIN trials t ON t.nct_id = e.nct_id
               WHERE e.search = ? AND e.kind = 'left' AND e.nct_id NOT IN
                     (SELECT nct_id FROM search_members WHERE search = ?)
               GROUP BY e.nct_id ORDER BY left_at DESC""",
            [search, search],
        )
        out = [
            Member(r["nct_id"], r["title"] or "", r["first_seen"], r["last_seen"], None)
            for r in current
        ]
        out += [
            Member(r["nct_id"], r["title"] or "", r["joined"], None, r["left_at"]) for r in gone
        ]
        return out

    def watch_health(self, nct_ids: Collection[str]) -> tuple[int, str | None, int]:
        """``(trials stored, last check, trials failing)`` of a set of trials (one query)."""
        row = self._conn.one(
            """SELECT COUNT(*) AS n, MAX(last_checked_at) AS last,
                      SUM(consecutive_errors > 0 OR not_found) AS failing
               FROM trials WHERE nct_id IN (SELECT value FROM json_each(?))""",
            [json.dumps(sorted(nct_ids))],
        )
        if row is None:
            return 0, None, 0
        return int(row["n"]), row["last"], int(row["failing"] or 0)
