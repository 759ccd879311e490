"""Recording one fetched record: a silent baseline, an unchanged touch, or a new version
with its changes, events and outbox rows.

Why apart from the cycle: the cycle decides *which* records to record and survives
their faults (:mod:`watcher.cycle.pipeline`); this decides *what* one record means
against what is stored, the one place where a version becomes news or stays quiet.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
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
    ) -> Outcome:
        """Baseline, touch, or record a new version with its changes and alerts."""
        snap = take_snapshot(nct, record)
        if state is None or state.latest_hash is None:
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
        if state.latest_hash == snap.content_hash:
            batch.record_unchanged(snap, now)
            return Outcome.UNCHANGED
        # Another hash is not yet a change: the same bytes under a hash of another
        # form (an older ctwatch), or the same content in another list order, are not.
        previous = batch.latest_body(nct)
        old = _parsed(previous) if previous != snap.body else {}
        changes = diff_records(old, snap.record) if previous != snap.body else []
        if not changes:
            batch.record_unchanged(snap, now)  # and stores the new hash: compared once
            return Outcome.UNCHANGED
        events = self._events(batch, nct, old, snap.record, changes)
        rows = outbox_rows(changes, routes, events)
        batch.record_version(
            snap, stored_changes(changes), rows, now, events=events, clock=self._clock(snap.record)
        )
        log.info(
            "%s: %s, %s, %s queued", nct, counted(len(changes), "change"),
            counted(len(events), "event"), counted(len(rows), "alert"),
        )  # fmt: skip
        return Outcome.CHANGED

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
        changes: list[FieldChange],
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
