"""The time-event pass: results due / overdue and stale records, told once per transition.

A trial is evaluated at most once per UTC day unless its facts moved: its state depends
on its facts and the date alone, so a second cycle on the same day only looks at the
trials recorded since.

Why each cycle and without a request: these events happen as days pass, not
as records change; everything they need is stored with each trial's newest
version (``event_clock``: :class:`~watcher.core.events.ClockFacts`), so the pass
reads one small row per trial, compares today's state (the injected clock's
UTC date, never the registry's timestamp) with the stored one, and writes only
the trials that moved - events, new state and outbox rows in one transaction.
A trial evaluated for the first time (its baseline, or a database from before
events) has its current state recorded as silent events: no alert for what was
already so. Alerts are notices (``kind = 'notice'``) to the destinations whose
filters want the event; a trial's ``fields`` filter does not apply (no field
changed).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from watcher.alerts.routing import Route
from watcher.core.events import ClockFacts, ClockState, Event, Thresholds, clock_facts, evaluate
from watcher.core.events.clock import IRRELEVANT
from watcher.core.text import counted, one_line
from watcher.store import OutboxRow, Store
from watcher.store.events import ClockWrite, TimeUpdate
from watcher.timeutil import Clock, iso, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TimeReport:
    """What one pass did."""

    evaluated: int
    events: int
    alerts: int


@dataclass
class TimeEvents:
    """Evaluates the time rules for every trial with stored facts."""

    store: Store
    clock: Clock = utc_now
    thresholds: Thresholds = field(default_factory=Thresholds)

    def run(self, routes: Mapping[str, Sequence[Route]]) -> TimeReport:
        """One pass (see the module doc); never a registry request."""
        now = self.clock()
        today = now.date()
        self._fill_missing()
        updates: list[TimeUpdate] = []
        rows = self.store.events.clock_rows(today.isoformat())
        for row in rows:
            facts = ClockFacts.from_json(row.facts) if row.facts else IRRELEVANT
            state, events = evaluate(facts, row.state, today, self.thresholds)
            if state == row.state:
                continue
            silent = row.state is None
            outbox = [] if silent else _rows(row.nct_id, events, routes.get(row.nct_id, ()))
            updates.append(
                TimeUpdate(row.nct_id, state.to_text(), tuple(events), silent, tuple(outbox))
            )
        if rows:
            evaluated = [row.nct_id for row in rows]
            self.store.events.record_clock(updates, evaluated, iso(now), today.isoformat())
        told = sum(len(u.events) for u in updates)
        alerts = sum(len(u.outbox) for u in updates)
        if told:
            log.info("time events: %s, %s queued", counted(told, "event"), counted(alerts, "alert"))
        return TimeReport(len(rows), told, alerts)

    def _fill_missing(self) -> None:
        """Trials recorded before events existed (or without the event rules) get their
        facts from their newest version, once."""
        missing = self.store.events.without_clock()
        for nct in missing:
            record = self.store.versions.latest_record(nct)
            if record is not None:
                self.store.events.set_clock(
                    nct, clock_write(clock_facts(record)), iso(self.clock())
                )
        if missing:
            self.store.events.settle_missing(missing)


def clock_write(
    facts: ClockFacts, first_sight: tuple[date, Thresholds] | None = None
) -> ClockWrite:
    """What the store keeps of ``facts``; at a trial's ``first_sight`` (today, thresholds)
    its state is evaluated at once, its current time events recorded silently."""
    if not facts.relevant:  # nothing to evaluate, ever (until the facts move)
        if first_sight is None:
            return _NOTHING_TO_EVALUATE
        return _nothing_on(first_sight[0])
    if facts.deadline is None:  # facts shared by every trial of a status and a date
        return _undated_write(facts, first_sight)
    return _write(facts, first_sight)


def _write(facts: ClockFacts, first_sight: tuple[date, Thresholds] | None) -> ClockWrite:
    if first_sight is None:
        return ClockWrite(facts.to_json(), relevant=True)
    today, thresholds = first_sight
    state, events = evaluate(facts, None, today, thresholds)
    return ClockWrite(facts.to_json(), True, state.to_text(), today.isoformat(), tuple(events))


@functools.lru_cache(maxsize=4096)
def _undated_write(facts: ClockFacts, first_sight: tuple[date, Thresholds] | None) -> ClockWrite:
    """:func:`_write` of facts without a deadline (:func:`watcher.core.events.clock.undated`:
    a status and a primary completion date), made once per pair, day and thresholds. Why:
    a baseline evaluates every trial at first sight, and trials share these pairs (in the
    10,000-trial benchmark 144 pairs cover the 4,939 trials that have one); the write,
    its events included, is a value, the same for each."""
    return _write(facts, first_sight)


_NOTHING_TO_EVALUATE = ClockWrite("", relevant=False)


@functools.lru_cache(maxsize=4)
def _nothing_on(today: date) -> ClockWrite:
    """The write of a trial that can make no time event, first seen ``today``: one value
    shared by every such trial of a baseline (about half of them), not one each."""
    return ClockWrite("", False, ClockState().to_text(), today.isoformat())


def _rows(nct_id: str, events: Sequence[Event], routes: Sequence[Route]) -> list[OutboxRow]:
    """One notice per destination and event its filters want."""
    out: list[OutboxRow] = []
    for event in events:
        wanted = dict.fromkeys(r.destination for r in routes if r.events.passes([event]))
        payload = {
            "headline": f"{nct_id}: {one_line(event.summary, 120)}",
            "body": event.summary,
            "event": event.as_json(),
        }
        out += [OutboxRow(d, kind="notice", payload=payload, nct_id=nct_id) for d in wanted]
    return out


__all__ = ["ClockState", "TimeEvents", "TimeReport"]
