"""Recording one fetched record: a silent baseline, an unchanged touch, or a new version
with its changes, events and outbox rows.

Why apart from the cycle: the cycle decides *which* records to record and survives
their faults (:mod:`watcher.cycle.pipeline`); this decides *what* one record means
against what is stored, the one place where a version becomes news or stays quiet.

Why a run of known trials can be compared first (:meth:`Versioning.compare`) and
recorded after: diffing a run of records and then classifying their changes together,
rather than each between its trial's diff and its SQL, keeps the code and data of the
rules in the processor's caches. Measured on a cycle that records 100 changed trials of
10,000: 129 ms of CPU against 134 ms (medians of twelve fresh processes each; ranges
126-134 and 130-146 ms). Nothing is written while comparing, so what is recorded is the
same either way (a test compares every row, in order). What a run holds is bounded in
bytes (:data:`RUN_BYTES`, :data:`OLD_BYTES_TOGETHER`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from watcher.alerts.routing import Route, outbox_rows
from watcher.core import record as rec
from watcher.core.diff import FieldChange, diff_records
from watcher.core.events import Event, Thresholds, clock_facts
from watcher.core.events.classify import classify, needs_history
from watcher.core.events.facts import facts_of
from watcher.core.jsoncodec import loads
from watcher.core.snapshot import Snapshot, take_snapshot
from watcher.core.text import counted
from watcher.cycle.report import Outcome
from watcher.cycle.stored import stored_changes
from watcher.cycle.time_events import clock_write
from watcher.store.events import ClockWrite
from watcher.store.versions import TrialState, VersionBatch
from watcher.timeutil import Clock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Versioning:
    """How one cycle records what it fetched (the pipeline's settings, fixed for a batch)."""

    clock: Clock
    thresholds: Thresholds
    classify: bool = True
    """Make events for each change (False only for the benchmark's comparison)."""
    queue_history: bool = False
    """Queue the registry history of every newly watched trial (``registry.backfill``)."""

    def record(
        self,
        batch: VersionBatch,
        nct: str,
        record: dict[str, Any],
        *,
        state: TrialState | None,
        routes: Sequence[Route],
        now: str,
        compared: Compared | None = None,
    ) -> Outcome:
        """Baseline, touch, or record a new version with its changes and alerts;
        ``compared``: this record's :meth:`compare`, made ahead (else it is made here)."""
        if compared is None:
            snap = take_snapshot(nct, record)
            if state is None or not has_stored_version(state):
                return self._first(batch, nct, snap, state=state, routes=routes, now=now)
            compared = self._compared(batch, nct, snap, state)
            if compared.changes:
                compared = self._classified(batch, nct, compared)
        if not compared.changes:
            batch.record_unchanged(compared.snap, now)  # and stores a new hash: compared once
            return Outcome.UNCHANGED
        found = compared.events
        rows = outbox_rows(compared.changes, routes, found)
        batch.record_version(
            compared.snap, stored_changes(compared.changes), rows, now, events=found,
            clock=compared.clock,
        )  # fmt: skip
        log.info(
            "%s: %s, %s, %s queued", nct, counted(len(compared.changes), "change"),
            counted(len(found), "event"), counted(len(rows), "alert"),
        )  # fmt: skip
        return Outcome.CHANGED

    def compare(
        self, batch: VersionBatch, known: Iterable[tuple[str, dict[str, Any], TrialState]]
    ) -> dict[str, Compared]:
        """Compare a run of known trials (each with a stored version) with what is stored,
        then classify their changes together (see the module doc): each trial's
        :class:`Compared`, for :meth:`record` to write. Reads, never writes.

        What a run holds is bounded in bytes, whatever its records' size: it stops taking
        trials from ``known`` once its snapshots' bodies reach :data:`RUN_BYTES` (the rest
        are left to the caller), and the old records the rules read are classified and
        let go whenever their stored bodies reach :data:`OLD_BYTES_TOGETHER`. A fault names
        its trial (an exception note)."""
        found: dict[str, Compared] = {}
        changed: list[tuple[str, Compared]] = []
        run = old = 0
        for nct, record, state in known:
            try:
                compared = self._compared(batch, nct, take_snapshot(nct, record), state)
            except Exception as exc:
                exc.add_note(f"comparing {nct}")
                raise
            run += len(compared.snap.body)
            if compared.changes:
                changed.append((nct, compared))
                old += compared.old_bytes
            else:
                found[nct] = compared
            if old >= OLD_BYTES_TOGETHER:
                self._classify(batch, changed, found)
                old = 0
            if run >= RUN_BYTES:
                break
        self._classify(batch, changed, found)
        return found

    def _classify(
        self, batch: VersionBatch, changed: list[tuple[str, Compared]], into: dict[str, Compared]
    ) -> None:
        """The events and time facts of compared changes, in one tight loop (module doc);
        ``changed`` is emptied, so its old records go."""
        for nct, c in changed:
            try:
                into[nct] = self._classified(batch, nct, c)
            except Exception as exc:
                exc.add_note(f"classifying {nct}")
                raise
        changed.clear()

    def _classified(self, batch: VersionBatch, nct: str, c: Compared) -> Compared:
        """A compared change with its events and time facts, its old record let go."""
        events = self._events(batch, nct, c.old, c.snap.record, c.changes)
        return Compared(c.snap, c.changes, events, self._clock(c.snap.record))

    def _compared(
        self, batch: VersionBatch, nct: str, snap: Snapshot, state: TrialState
    ) -> Compared:
        """A known trial's record against its stored version, before the events: no
        changes when unchanged; else the changes and the old record (``old``)."""
        if state.latest_hash == snap.content_hash:
            return Compared(snap)
        # Another hash is not yet a change: the same bytes under a hash of another
        # form (an older ctwatch), or the same content in another list order, are not.
        previous = batch.latest_body(nct)
        if previous == snap.body:
            return Compared(snap)
        old = _parsed(previous)
        changes = diff_records(old, snap.record)
        if not changes:
            return Compared(snap)
        return Compared(snap, changes, old=old, old_bytes=len(previous or b""))

    def _first(
        self,
        batch: VersionBatch,
        nct: str,
        snap: Snapshot,
        *,
        state: TrialState | None,
        routes: Sequence[Route],
        now: str,
    ) -> Outcome:
        """A trial with no observed version: its silent baseline, or its first observed
        version after an imported history (:meth:`_after_import`)."""
        body = batch.latest_body(nct) if state is not None else None
        if body is not None:
            return self._after_import(batch, nct, snap, _parsed(body), routes=routes, now=now)
        batch.record_version(
            snap, [], [], now, clock=self._clock(snap.record, first_sight=state is None)
        )
        if self.queue_history:
            batch.queue_history(nct, now)
        log.info("%s: baseline recorded", nct)
        return Outcome.NEW

    def _after_import(
        self,
        batch: VersionBatch,
        nct: str,
        snap: Snapshot,
        imported: dict[str, Any],
        *,
        routes: Sequence[Route],
        now: str,
    ) -> Outcome:
        """The first observed version of a trial whose history was imported first: diffed
        and classified against the last imported version, and alerted as usual when it is
        a later registry version (:func:`later_version`).

        Otherwise it is that version (or an older copy: the history endpoint can serve a
        version a day before the API v2 does), so whatever differs is the two endpoints'
        representation, not news: recorded, not sent. Either way a results section the
        history copy left out while saying the trial has results is no change at all.
        """
        seam = [c for c in diff_records(imported, snap.record) if not _left_out(c, imported)]
        events = self._events(batch, nct, imported, snap.record, seam)
        news = bool(seam) and later_version(snap.record, imported)
        rows = outbox_rows(seam, routes, events) if news else []
        batch.record_version(
            snap, stored_changes(seam), rows, now, events=events, clock=self._clock(snap.record)
        )
        if not news:
            log.info("%s: first check after its imported history recorded", nct)
            return Outcome.NEW
        log.info(
            "%s: %s since its imported history, %s, %s queued", nct,
            counted(len(seam), "change"), counted(len(events), "event"),
            counted(len(rows), "alert"),
        )  # fmt: skip
        return Outcome.CHANGED

    def _events(
        self,
        batch: VersionBatch,
        nct: str,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        changes: Sequence[FieldChange],
    ) -> list[Event]:
        """What the change means (:mod:`watcher.core.events`); earlier versions are read
        only when a rule needs them (a date or enrollment change)."""
        if not self.classify or old is None or not changes:
            return []
        earlier = []
        if needs_history(changes):
            earlier = [facts_of(r) for r in batch.earlier_records(nct)]
        return classify(old, new, changes, earlier, self.thresholds)

    def _clock(self, record: dict[str, Any], *, first_sight: bool = False) -> ClockWrite | None:
        """The time-event facts of the newest version; at first sight, evaluated at once
        (its current state recorded silently), so the cycle's pass has nothing to redo."""
        if not self.classify:
            return None
        return clock_write(clock_facts(record), self._first_sight if first_sight else None)

    @functools.cached_property
    def _first_sight(self) -> tuple[date, Thresholds]:
        """Today (UTC, from the injected clock) and the thresholds, read once per batch: a
        batch is recorded in well under a second, and its trials share one day."""
        return self.clock().date(), self.thresholds


@dataclass(frozen=True, slots=True)
class Compared:
    """A fetched record of a known trial compared with its stored version
    (:meth:`Versioning.compare`): no ``changes`` means unchanged; else its events and
    time facts, and the old record the rules read (``None`` once classified)."""

    snap: Snapshot
    changes: Sequence[FieldChange] = ()
    events: Sequence[Event] = ()
    clock: ClockWrite | None = None
    old: dict[str, Any] | None = None
    old_bytes: int = 0
    """The size of the stored body ``old`` was parsed from (what :meth:`Versioning.compare`
    counts against :data:`OLD_BYTES_TOGETHER`)."""


RUN_BYTES = 4_000_000
"""The canonical bodies a compared run holds at most (its snapshots, until each trial is
written): about two hundred typical records, so a run of a hundred is whole; forty
records of 100 KB (results posted)."""

OLD_BYTES_TOGETHER = 1_000_000
"""How many bytes of stored bodies a compared run parses before it classifies what it has
and lets those old records go. Parsed, a record takes several times its JSON: a megabyte
of bodies (about fifty typical records) holds that part of a run's memory to a few
megabytes, while the changes of a run of typical records are classified in a loop or two.
"""


def _parsed(body: bytes | None) -> dict[str, Any]:
    record: dict[str, Any] = {} if body is None else loads(body)
    return record


def later_version(observed: dict[str, Any], imported: dict[str, Any]) -> bool:
    """Whether the registry posted ``observed`` after ``imported``: on a later day, or on
    the same day but submitted later (two versions can be posted the same day). A record
    without those dates cannot be placed, and is not taken for news."""
    posted, last = rec.last_update_posted(observed), rec.last_update_posted(imported)
    if posted is None or last is None:
        return False
    if posted != last:
        return posted > last
    submitted, before = rec.last_update_submitted(observed), rec.last_update_submitted(imported)
    return submitted is not None and before is not None and submitted > before


def _left_out(change: FieldChange, imported: dict[str, Any]) -> bool:
    """A change inside a results section that the history copy does not carry although
    it says the trial has results: the endpoint left it out; nothing changed."""
    return (
        change.path.startswith("resultsSection")
        and "resultsSection" not in imported
        and imported.get("hasResults") is True
    )


def has_stored_version(state: TrialState) -> bool:
    """Whether a known trial has an observed version to compare with (one with only an
    imported history, or only errors so far, has none: its first version is recorded as
    such)."""
    return state.latest_hash is not None


def stale_copy(record: dict[str, Any], listed: str | None, state: TrialState | None) -> str | None:
    """Why a fetched copy is older than what we know (a stale replica), or None: such a
    copy is not recorded (the pipeline keeps the reason as the trial's error), so it is
    not compared ahead either."""
    posted = rec.last_update_posted(record)
    if posted is None:
        return None
    if listed is not None and posted < listed:
        return (
            f"the registry returned an older copy (posted {posted}, listed as {listed}); "
            "fetched again next cycle"
        )
    if state is not None and state.last_update_posted and posted < state.last_update_posted:
        return (
            f"the registry returned an older copy (posted {posted}, "
            f"stored {state.last_update_posted}); fetched again next cycle"
        )
    return None
