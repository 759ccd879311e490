"""Import a trial's registry history, learn registry numbers, work the daemon's queue.

Why here, between the registry adapter and the store: an import reads the
version list, decides what is missing (:mod:`watcher.core.history`), fetches
those versions, then writes them - with the changes between neighbours - in one
transaction per trial. The network part happens *before* the transaction, so
a slow registry never holds the database's write lock; the plan is made again
inside the transaction, on what the store holds then.

Imported versions never alert. A history that cannot be read is one line for
that trial and stores nothing; it never fails a cycle.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from watcher.core.diff import FieldChange, diff_records
from watcher.core.events import Event, Thresholds, clock_facts
from watcher.core.events.classify import classify
from watcher.core.events.facts import Facts, facts_of
from watcher.core.history import (
    Held,
    ListedVersion,
    Slot,
    import_order,
    learn_numbers,
    moved,
    plan_import,
)
from watcher.core.jsoncodec import loads
from watcher.core.snapshot import Snapshot, take_snapshot
from watcher.core.text import counted
from watcher.cycle.report import Interrupted
from watcher.cycle.stored import stored_changes
from watcher.cycle.time_events import clock_write
from watcher.registry.errors import RegistryError
from watcher.registry.history import HistoryClient, HistoryUnavailable
from watcher.store import Busy, Store, StoredVersion, StoreError
from watcher.timeutil import Clock, iso, utc_now

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
"""``(nct_id, versions fetched, versions to fetch)`` after each version."""

MAX_IMPORT_BYTES = 256 << 20  # of JSON read for one trial's import: a lying server's ceiling
RETRY_FIRST = timedelta(days=1)
RETRY_MAX = timedelta(days=30)


@dataclass(frozen=True)
class TrialBackfill:
    """What importing one trial's history amounted to."""

    nct_id: str
    imported: tuple[int, ...] = ()
    """Registry numbers of the versions imported."""
    numbered: tuple[int, ...] = ()
    """Registry numbers learnt for versions ctwatch observed."""
    listed: int = 0
    error: str | None = None
    """Why the history could not be read (nothing was stored)."""
    deferred: bool = False
    """More versions to fetch than the request budget left; tried again later."""
    needed: int = 0
    """Requests the import takes (the list's included), when it was deferred."""
    unplaced: bool = False

    @property
    def summary(self) -> str:
        """``NCT…: 12 registry versions imported (1–12)`` and the like, one line."""
        nct = self.nct_id
        if self.error is not None:
            return f"{nct}: {self.error}"
        numbered = ""
        if self.numbered:
            own = "version" if len(self.numbered) == 1 else "versions"
            numbered = f"; ctwatch's own {own} numbered {_span(self.numbered)}"
        if self.imported:
            count = _versions(len(self.imported))
            return f"{nct}: {count} imported ({_span(self.imported)}){numbered}"
        if self.unplaced:
            return (
                f"{nct}: nothing imported: ctwatch's own versions cannot be placed among the "
                f"{_versions(self.listed)} (they carry no submission or post date)"
            )
        return f"{nct}: complete, nothing to import ({_versions(self.listed)}){numbered}"


def _versions(count: int) -> str:
    return counted(count, "registry version")


def _span(numbers: Sequence[int]) -> str:
    ordered = sorted(numbers)
    if ordered == list(range(ordered[0], ordered[-1] + 1)):
        return str(ordered[0]) if len(ordered) == 1 else f"{ordered[0]}–{ordered[-1]}"
    return ", ".join(str(n) for n in ordered)


@dataclass
class QueueReport:
    """One round of the daemon's backfill queue."""

    imported: list[TrialBackfill] = field(default_factory=list)
    unavailable: list[TrialBackfill] = field(default_factory=list)
    requests: int = 0
    left: int = 0


def _held(versions: Sequence[StoredVersion]) -> list[Held]:
    return [
        Held(v.id, v.source, v.registry_version, v.submitted, v.last_update_posted)
        for v in versions
    ]


@dataclass
class Backfiller:
    """Imports registry history into one store through one history client."""

    store: Store
    client: HistoryClient
    clock: Clock = utc_now
    max_bytes: int = MAX_IMPORT_BYTES
    """JSON read for one trial's import beyond which it is given up (a lying server)."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The ``[events]`` table: imported changes get their events, silently."""

    def backfill(
        self,
        nct_id: str,
        *,
        should_stop: Callable[[], bool] = lambda: False,
        progress: Progress | None = None,
        budget: int | None = None,
        guard: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> TrialBackfill:
        """Import the versions of ``nct_id`` the store does not hold (see the module doc).

        ``budget`` (requests, the list's included) makes a trial that needs more
        come back ``deferred`` after the one list request. The write runs inside
        ``guard()`` (the process lock). Raises Interrupted when ``should_stop``
        turns true between two requests.
        """
        try:
            listed = self.client.versions(nct_id)
        except HistoryUnavailable as exc:
            return TrialBackfill(nct_id, error=str(exc))
        plan = plan_import(_held(self.store.histories.outline(nct_id)), listed)
        needed = 1 + len(plan.fetch)
        if budget is not None and needed > budget:
            return TrialBackfill(nct_id, listed=len(listed), deferred=True, needed=needed)
        stats = self.client.http.stats
        received = stats.bytes_received
        bodies: dict[int, bytes] = {}  # compressed: memory stays a fraction of what was read
        for done, entry in enumerate(plan.fetch, start=1):
            if should_stop():
                raise Interrupted
            try:
                study = self.client.version(nct_id, entry.number)
            except HistoryUnavailable as exc:
                return TrialBackfill(nct_id, listed=len(listed), error=str(exc))
            if stats.bytes_received - received > self.max_bytes:
                too_big = f"its history is over {self.max_bytes:,} bytes; not imported"
                return TrialBackfill(nct_id, listed=len(listed), error=too_big)
            bodies[entry.number] = zlib.compress(take_snapshot(nct_id, study).body, 1)
            if progress is not None:
                progress(nct_id, done, len(plan.fetch))
        with guard():
            return self._write(nct_id, listed, bodies)

    def _write(
        self, nct_id: str, listed: Sequence[ListedVersion], bodies: dict[int, bytes]
    ) -> TrialBackfill:
        """One transaction: insert, number, reorder, recompute the changes that moved."""
        now = iso(self.clock())

        def fetched(number: int) -> Snapshot:
            return take_snapshot(nct_id, _record(bodies[number]))

        with self.store.histories.writing(nct_id) as write:
            stored = write.outline()
            held = _held(stored)
            plan = plan_import(held, listed)
            new = [e for e in plan.fetch if e.number in bodies]
            ids: dict[Slot, int] = {("stored", v.id): v.id for v in stored}
            if new:
                write.ensure_trial(fetched(new[-1].number), now)  # the row before its versions
            for entry in new:
                snap = fetched(entry.number)
                ids[("new", entry.number)] = write.insert(snap, entry.number, entry.date, now)
            for version_id, number in plan.numbering.items():
                write.set_number(version_id, number)
            before: list[Slot] = [("stored", v.id) for v in stored]
            after = import_order(held, [e.number for e in new], plan.numbering)
            write.reorder([ids[slot] for slot in after])
            alerted = {v.id for v in stored if v.alerted}

            def body(slot: Slot) -> dict[str, Any]:
                return _record(bodies[slot[1]]) if slot[0] == "new" else write.record(slot[1])

            history = _Classifier(body, after, self.thresholds)
            for slot, predecessor in moved(before, after):
                if ids[slot] in alerted:
                    continue  # what people were told stays as it was told
                changes = diff_records(body(predecessor), body(slot)) if predecessor else []
                write.set_changes(ids[slot], stored_changes(changes))
                if predecessor is not None:
                    found = history.events(slot, predecessor, changes)
                    write.set_events(ids[slot], found, now, imported=slot[0] == "new")
            if after:
                write.set_clock(clock_write(clock_facts(history.body(after[-1]))), now)
            write.mark_read(len(listed), now)
        return TrialBackfill(
            nct_id,
            imported=tuple(e.number for e in new),
            numbered=tuple(sorted(plan.numbering.values())),
            listed=len(listed),
            unplaced=plan.unplaced,
        )

    def number_recorded(self, nct_ids: Sequence[str]) -> None:
        """Learn the registry numbers of versions just recorded, for trials with known history.

        One version-list request per such trial, so the alerts written in this
        cycle link to the registry's exact comparison. A failure is logged and
        changes nothing else: the alert then links to the history tab.
        """
        for nct in sorted(self.store.histories.known(nct_ids)):
            try:
                listed = self.client.versions(nct)
                with self.store.histories.writing(nct) as write:
                    for version_id, number in learn_numbers(_held(write.outline()), listed).items():
                        write.set_number(version_id, number)
                    write.mark_read(len(listed), iso(self.clock()))
            except RegistryError as exc:
                log.warning("%s: registry number not learnt: %s", nct, exc)
            except Interrupted:
                raise
            except Exception as exc:  # never a reason for the cycle to fail
                log.error("%s: registry number not learnt (unexpected %s)", nct, exc)
                log.debug("numbering failed", exc_info=True)

    def work_queue(
        self,
        budget: int,
        should_stop: Callable[[], bool] = lambda: False,
        guard: Callable[[], AbstractContextManager[object]] = nullcontext,
    ) -> QueueReport:
        """Import queued trials within ``budget`` registry requests.

        A trial that needs more than what is left waits for the next round; one
        that needs more than a whole round is set aside like an unreadable one
        (``ctwatch backfill NCT…`` imports it). Each trial's write runs inside
        ``guard()`` (the store's process lock), never its requests: a slow
        history endpoint must not hold up a ``ctwatch check`` next to the daemon.
        A history that cannot be read is tried again after a day, then two, four…
        (at most 30).
        """
        report = QueueReport()
        stats = self.client.http.stats
        start = stats.requests
        for nct in self.store.histories.due(iso(self.clock()), budget):
            spent = stats.requests - start
            if should_stop() or spent >= budget:
                break
            result = self._queued_one(nct, should_stop, budget - spent, guard)
            if result.deferred and result.needed > budget:  # would never fit in a round
                too_many = (
                    f"its import takes {result.needed} requests, more than "
                    f"registry.backfill_per_cycle ({budget}); run `ctwatch backfill {nct}`"
                )
                result = replace(result, error=too_many)
            elif result.deferred:
                break
            if result.error is not None:
                report.unavailable.append(result)
                with guard():
                    self._defer(nct, result.error)
            else:
                report.imported.append(result)
        report.requests = stats.requests - start
        report.left = self.store.histories.queued()
        return report

    def _queued_one(
        self,
        nct_id: str,
        should_stop: Callable[[], bool],
        budget: int | None,
        guard: Callable[[], AbstractContextManager[object]],
    ) -> TrialBackfill:
        """One queued trial; a fault of its own (an odd record) fails it alone."""
        try:
            return self.backfill(nct_id, should_stop=should_stop, budget=budget, guard=guard)
        except (Interrupted, StoreError, Busy):
            raise
        except Exception as exc:
            log.debug("%s: history import failed", nct_id, exc_info=True)
            return TrialBackfill(nct_id, error=f"could not import: {exc.__class__.__name__}: {exc}")

    def _defer(self, nct_id: str, error: str) -> None:
        attempts = self.store.histories.attempts(nct_id)
        wait = min(RETRY_FIRST * (2 ** min(attempts, 10)), RETRY_MAX)
        self.store.histories.defer(nct_id, error, iso(self.clock() + wait))
        log.warning("%s: %s; tried again in %s", nct_id, error, counted(wait.days, "day"))


class _Classifier:
    """The events of an imported history's versions, each with the facts of the versions
    before it; every body is read (and parsed) once."""

    def __init__(
        self, read: Callable[[Slot], dict[str, Any]], order: Sequence[Slot], thresholds: Thresholds
    ) -> None:
        self._read = read
        self._order = list(order)
        self._position = {slot: i for i, slot in enumerate(order)}
        self._thresholds = thresholds
        self._bodies: dict[Slot, dict[str, Any]] = {}
        self._facts: dict[Slot, Facts] = {}

    def body(self, slot: Slot) -> dict[str, Any]:
        if slot not in self._bodies:
            self._bodies[slot] = self._read(slot)
        return self._bodies[slot]

    def events(self, slot: Slot, predecessor: Slot, changes: list[FieldChange]) -> list[Event]:
        earlier = self._order[: max(self._position[slot] - 1, 0)]
        for item in earlier:
            if item not in self._facts:
                self._facts[item] = facts_of(self.body(item))
        facts = [self._facts[item] for item in earlier]
        return classify(self.body(predecessor), self.body(slot), changes, facts, self._thresholds)


def _record(held: bytes) -> dict[str, Any]:
    """A fetched version held (zlib, level 1) until its trial is written."""
    record: dict[str, Any] = loads(zlib.decompress(held))
    return record
