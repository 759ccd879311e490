"""Events as rows: written with their version, read per trial, per version, or recent.

Why rows: what a change meant is part of the trial's record, queried later
(``ctwatch events``, the ``trial_events`` view, the web UI, digests) without
running the rules again - and written in the same transaction as the version
it belongs to, so a version never exists without its events.

The public reads are :meth:`Events.for_trial`, :meth:`Events.recent` and
:meth:`Events.of_versions`; each gives :class:`StoredEvent` values (the
:class:`~watcher.core.events.Event` plus where and when). The version number is
the one ``ctwatch history`` prints, computed in :data:`VERSION_NUMBER` alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlite_utils import Database

from watcher.core.events import ClockState, Event, Level
from watcher.core.events.model import LEVEL_NAMES, STORED_LEVELS
from watcher.core.jsoncodec import loads
from watcher.store.base import Connection
from watcher.store.outbox import insert_rows
from watcher.store.rows import OutboxRow

Source = Literal["observed", "imported", "clock"]

VERSION_NUMBER = "COALESCE('#' || v.number, 'r' || v.registry_version)"
"""The SQL for a version's name as ``ctwatch history`` prints it (``#2``, ``r7``; see
:func:`watcher.core.history.version_ref`): the one place that decides it."""

_COLUMNS = f"""SELECT e.id, e.nct_id, e.version_id, e.type, e.level, e.summary, e.value_json,
                      e.detected_at, e.source, e.silent, {VERSION_NUMBER} AS version
               FROM events e LEFT JOIN versions v ON v.id = e.version_id"""  # noqa: S608 - a constant


@dataclass(frozen=True)
class StoredEvent:
    """One recorded event: the event, its trial and version, when and how it was found."""

    id: int
    nct_id: str
    event: Event
    version_id: int | None
    version: str | None
    """The version's name as ``ctwatch history`` prints it (``#2``, ``r7``); None for a
    time event, which belongs to no version."""
    detected_at: str
    source: str
    silent: bool

    def as_json(self) -> dict[str, Any]:
        """The documented shape of ``ctwatch events --json`` (one object)."""
        return {
            "nct_id": self.nct_id,
            **self.event.as_json(),
            "version": self.version,
            "detected_at": self.detected_at,
            "source": self.source,
        }


DUE_TODAY = """
SELECT nct_id, facts, state FROM event_clock WHERE evaluated_on IS NULL
UNION ALL
SELECT nct_id, facts, state FROM event_clock WHERE relevant = 1 AND evaluated_on < :today
UNION ALL
SELECT nct_id, facts, state FROM event_clock WHERE relevant = 1 AND evaluated_on > :today
"""
"""The trials the time pass looks at on ``:today`` (:meth:`Events.clock_rows`): ``evaluated_on
IS NULL OR (relevant = 1 AND evaluated_on != :today)`` in three parts, each through a partial
index (migration 0022). In one WHERE, SQLite reads every row: 1 ms at 10,000 trials and about
50 ms at 580,000, on every cycle. No ORDER BY: it makes SQLite walk the primary key instead,
so the caller sorts."""


def _stored(row: Any) -> StoredEvent:
    event = _event(row["type"], row["level"], row["summary"], row["value_json"])
    return StoredEvent(
        int(row["id"]), row["nct_id"], event, row["version_id"], row["version"],
        row["detected_at"], row["source"], bool(row["silent"]),
    )  # fmt: skip


def _event(type_: str, level: str, summary: str, value_json: str) -> Event:
    """An event as stored; a damaged level reads as info, damaged values as none."""
    try:
        values = loads(value_json)
    except ValueError:
        values = {}
    known = STORED_LEVELS.get(level, Level.INFO)
    return Event(type_, known, summary, values if isinstance(values, dict) else {})


def insert_events(
    db: Database,
    nct_id: str,
    version_id: int | None,
    events: Sequence[Event],
    now: str,
    *,
    source: Source,
    silent: bool,
) -> None:
    """Write ``events`` (inside the caller's transaction)."""
    write_event_rows(db, event_rows(nct_id, version_id, events, now, source=source, silent=silent))


def event_rows(
    nct_id: str,
    version_id: int | None,
    events: Sequence[Event],
    now: str,
    *,
    source: Source,
    silent: bool,
) -> list[tuple[Any, ...]]:
    """The rows :func:`insert_events` writes, made now and written later (a batch writes
    every trial's rows in one statement: :func:`write_event_rows`)."""
    return [_event_row(nct_id, version_id, e, now, source=source, silent=silent) for e in events]


def write_event_rows(db: Database, rows: Sequence[tuple[Any, ...]]) -> None:
    """Rows of :func:`event_rows`, in the caller's transaction."""
    db.conn.executemany(_INSERT_EVENT, rows)


_INSERT_EVENT = """INSERT INTO events (nct_id, version_id, type, level, summary, value_json,
                                       detected_at, source, silent)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"""


def _event_row(
    nct_id: str, version_id: int | None, e: Event, now: str, *, source: Source, silent: bool
) -> tuple[Any, ...]:
    return (nct_id, version_id, e.type, e.level.value, e.summary, e.values_json, now, source,
            int(silent))  # fmt: skip


def replace_events(
    db: Database, nct_id: str, version_id: int, events: Sequence[Event], now: str
) -> None:
    """The events of an imported version, recomputed (its neighbours moved)."""
    db.execute("DELETE FROM events WHERE version_id = ? AND source = 'imported'", [version_id])
    insert_events(db, nct_id, version_id, events, now, source="imported", silent=True)


@dataclass(frozen=True)
class ClockWrite:
    """A trial's time-event facts from its newest version, as the store keeps them.

    ``facts`` is the JSON the time rules read ("" when they can never make a time event:
    ``relevant`` false). At a trial's first sight the cycle evaluates it at once:
    ``state`` and ``evaluated_on`` are set and ``events`` (its current state) are
    recorded silently, if the trial had no row yet.
    """

    facts: str
    relevant: bool
    state: str | None = None
    evaluated_on: str | None = None
    events: tuple[Event, ...] = ()


def write_clock(
    db: Database, nct_id: str, clock: ClockWrite, now: str, version_id: int | None = None
) -> None:
    """Store a trial's facts (see :class:`ClockWrite`). Facts that moved are evaluated
    again at the next pass (``evaluated_on`` cleared); an existing state is kept, and a
    first evaluation's events are only recorded for a trial that had no row."""
    if clock.evaluated_on is not None:
        fresh = db.execute(
            """INSERT OR IGNORE INTO event_clock (nct_id, facts, relevant, state, evaluated_on)
               VALUES (?, ?, ?, ?, ?)""",
            [nct_id, clock.facts, int(clock.relevant), clock.state, clock.evaluated_on],
        ).rowcount
        if fresh:
            if clock.events:
                insert_events(db, nct_id, version_id, clock.events, now, source="clock",
                              silent=True)  # fmt: skip
            return
    db.execute(_UPDATE_FACTS, [nct_id, clock.facts, int(clock.relevant)])


_UPDATE_FACTS = """INSERT INTO event_clock (nct_id, facts, relevant) VALUES (?, ?, ?)
                   ON CONFLICT(nct_id) DO UPDATE SET facts = excluded.facts,
                       relevant = excluded.relevant,
                       evaluated_on = CASE WHEN event_clock.facts = excluded.facts
                                           THEN event_clock.evaluated_on END"""


@dataclass(frozen=True, slots=True)
class PendingClock:
    """A :class:`ClockWrite` waiting for the end of its batch (:func:`write_clocks`), its
    first-sight events already rendered as rows: made inside the trial's fault boundary,
    so what is left for the batch's end is plain SQL."""

    nct_id: str
    clock: ClockWrite
    now: str
    version_id: int | None
    event_rows: tuple[tuple[Any, ...], ...] = ()

    @classmethod
    def of(cls, nct_id: str, clock: ClockWrite, now: str, version_id: int | None) -> PendingClock:
        if not clock.events:  # most trials: no rows to render
            return cls(nct_id, clock, now, version_id)
        rows = event_rows(nct_id, version_id, clock.events, now, source="clock", silent=True)
        return cls(nct_id, clock, now, version_id, tuple(rows))


def write_clocks(conn: Connection, db: Database, writes: Sequence[PendingClock]) -> None:
    """:func:`write_clock` for a whole batch of trials, in a handful of statements.

    Why: a baseline writes one row per trial, and ten thousand single statements
    cost more than the rules that make them. The rows and events are exactly those
    of :func:`write_clock`: a first sight inserts its row if the trial has none (its
    events then recorded silently); a first sight of a trial that has a row, and
    every later write, update the facts. A trial named twice is written one at a
    time, in order, as the rule demands.
    """
    names = [w.nct_id for w in writes]
    if len(set(names)) != len(names):
        for w in writes:
            write_clock(db, w.nct_id, w.clock, w.now, w.version_id)
        return
    first = [w for w in writes if w.clock.evaluated_on is not None]
    known: set[str] = set()
    if first:
        known = {r["nct_id"] for r in conn.rows_in(
            "SELECT nct_id FROM event_clock", "nct_id", [w.nct_id for w in first])}  # fmt: skip
        fresh = [w for w in first if w.nct_id not in known]
        db.conn.executemany(
            """INSERT INTO event_clock (nct_id, facts, relevant, state, evaluated_on)
               VALUES (?, ?, ?, ?, ?)""",
            [(w.nct_id, w.clock.facts, int(w.clock.relevant), w.clock.state,
              w.clock.evaluated_on) for w in fresh],
        )  # fmt: skip
        write_event_rows(db, [row for w in fresh for row in w.event_rows])
    db.conn.executemany(
        _UPDATE_FACTS,
        [(w.nct_id, w.clock.facts, int(w.clock.relevant)) for w in writes
         if w.clock.evaluated_on is None or w.nct_id in known],
    )  # fmt: skip


@dataclass(frozen=True)
class ClockRow:
    """One trial's stored time-event facts and last state (None: never evaluated)."""

    nct_id: str
    facts: str
    state: ClockState | None


@dataclass(frozen=True)
class TimeUpdate:
    """A trial whose time-event state moved: its new state, the events, their alerts."""

    nct_id: str
    state: str
    events: tuple[Event, ...]
    silent: bool
    outbox: tuple[OutboxRow, ...]


class Events:
    """Reads ``events``; the time-event state in ``event_clock``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def for_trial(self, nct_id: str) -> list[StoredEvent]:
        """Every event of a trial, oldest first."""
        rows = self._conn.rows(_COLUMNS + " WHERE e.nct_id = ? ORDER BY e.id", [nct_id])
        return [_stored(r) for r in rows]

    def top_levels(self, version_ids: Sequence[int]) -> dict[int, str]:
        """Each version's highest event level (``high``…``info``): what a destination's
        ``urgent`` compares (a version with no event is absent: info)."""
        return {
            vid: events[0].level.value
            for vid, events in self.of_versions(version_ids).items()
            if events
        }

    def of_versions(self, version_ids: Sequence[int]) -> dict[int, tuple[Event, ...]]:
        """The events of each version (highest level first), one query per 500 versions.

        Only the columns an event needs, without the version join of :class:`StoredEvent`:
        every alert sent is rebuilt through here, so it is on each cycle's path."""
        rows = self._conn.rows_in(
            "SELECT e.id, e.version_id, e.type, e.level, e.summary, e.value_json, e.source"
            " FROM events e",
            "e.version_id",
            version_ids,
        )
        grouped: dict[int, list[Event]] = {}
        for row in sorted(rows, key=lambda r: r[0]):
            if row[6] != "clock" and row[1] is not None:
                grouped.setdefault(row[1], []).append(_event(row[2], row[3], row[4], row[5]))
        return {
            vid: tuple(sorted(events, key=lambda e: -e.level.rank))
            for vid, events in grouped.items()
        }

    def recent(
        self,
        *,
        since: str | None = None,
        min_level: Level = Level.INFO,
        nct_ids: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        """Events detected at or after ``since`` (all without), at ``min_level`` or higher,
        of the trials named (all without), newest first. Type patterns are the caller's
        (:func:`watcher.core.events.matches`)."""
        where, params = ["1 = 1"], []
        if since is not None:
            where.append("e.detected_at >= ?")
            params.append(since)
        levels = [n for n in LEVEL_NAMES if Level(n).at_least(min_level)]
        where.append(f"e.level IN ({', '.join('?' for _ in levels)})")
        params += levels
        sql = _COLUMNS + " WHERE " + " AND ".join(where) + " ORDER BY e.id DESC"
        if nct_ids is not None:
            wanted = set(nct_ids)
            rows = [r for r in self._conn.rows(sql, params) if r["nct_id"] in wanted]
        else:
            rows = self._conn.rows(sql + (f" LIMIT {int(limit)}" if limit else ""), params)
        found = [_stored(r) for r in rows]
        return found[:limit] if limit else found

    def clock_rows(self, today: str) -> list[ClockRow]:
        """The trials the time rules must look at today: not yet evaluated on ``today``, or
        whose facts moved since (state depends on nothing else); trials whose facts can make
        no time event only after their facts moved. One query."""
        rows = self._conn.rows(DUE_TODAY, {"today": today})
        rows.sort(key=lambda r: str(r["nct_id"]))
        return [ClockRow(r["nct_id"], r["facts"], ClockState.from_text(r["state"])) for r in rows]

    def without_clock(self) -> list[str]:
        """Trials whose time-event facts must be read from their newest version (recorded
        before events existed, or a version recorded without the event rules): those
        listed in ``clock_missing`` (migration 0021), an empty table but for them, so an
        idle cycle reads nothing here. A listed trial with older facts is listed too: its
        newest version decides."""
        rows = self._conn.rows("SELECT nct_id FROM clock_missing ORDER BY nct_id")
        return [r["nct_id"] for r in rows]

    def settle_missing(self, nct_ids: Sequence[str]) -> None:
        """Strike these trials from ``clock_missing``: their facts were read."""
        with self._conn.atomic() as db:
            db.conn.executemany(
                "DELETE FROM clock_missing WHERE nct_id = ?", [(n,) for n in nct_ids]
            )

    def set_clock(self, nct_id: str, clock: ClockWrite, now: str) -> None:
        with self._conn.atomic() as db:
            write_clock(db, nct_id, clock, now)

    def record_clock(
        self, updates: Sequence[TimeUpdate], evaluated: Sequence[str], now: str, today: str
    ) -> None:
        """One transaction: each moved trial's new state, its events (on the trial's newest
        version) and their outbox rows; every ``evaluated`` trial marked done for ``today``."""
        with self._conn.atomic() as db:
            db.conn.executemany(
                "UPDATE event_clock SET evaluated_on = ? WHERE nct_id = ?",
                [(today, nct) for nct in evaluated],
            )
            db.conn.executemany(
                "UPDATE event_clock SET state = ? WHERE nct_id = ?",
                [(u.state, u.nct_id) for u in updates],
            )
            for u in updates:
                if u.events:
                    latest = db.execute(
                        "SELECT id FROM versions WHERE nct_id = ? ORDER BY position DESC LIMIT 1",
                        [u.nct_id],
                    ).fetchone()
                    version_id = latest["id"] if latest else None
                    insert_events(db, u.nct_id, version_id, u.events, now, source="clock",
                                  silent=u.silent)  # fmt: skip
                if u.outbox:
                    insert_rows(db, u.outbox, now, nct_id=u.nct_id)
