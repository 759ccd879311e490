"""One poll cycle: plan -> fetch -> snapshot -> compare -> record.

Why faults are caught where they are: one odd record (or a bug in the diff
on one shape of data) must not cost any other trial its check, so a trial's
exception becomes that trial's ``last_error`` and nothing else of it is kept (a
batch is recorded again with a savepoint per trial when one fails: see
:meth:`Pipeline._record`); a batch that cannot be recorded fails that batch alone; and
anything unexpected at the level of the cycle ends it as *failed*, with its
reason, never as complete - a complete cycle moves the incremental
watermark, and a cycle that skipped a change must never move it. A cycle in
which some trials failed is complete: a failing trial is fetched in full every
cycle until it is recorded, so its changes cannot slip past the watermark,
and one bad record does not cost every later cycle a full fetch. Its
destinations hear about it after ``trouble_after`` failures in a row; a
request that failed for a whole batch is registry trouble, told to everyone.

Detection ends here. Alerts are only written to the outbox (with the version,
in the same transaction); sending them is :mod:`watcher.alerts.delivery`'s job.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field, replace
from typing import Any

from watcher.alerts.routing import Routes
from watcher.alerts.search_routes import SearchSpec
from watcher.core.events import Thresholds
from watcher.cycle import notices
from watcher.cycle.backfill import Backfiller
from watcher.cycle.report import CycleReport, Interrupted, Outcome, describe_failure
from watcher.cycle.searches import SearchRound
from watcher.cycle.time_events import TimeEvents
from watcher.cycle.versioning import Compared, Versioning, has_stored_version, stale_copy
from watcher.registry.client import FetchResult, RegistryClient
from watcher.registry.errors import RegistryError
from watcher.registry.planner import Memory, Plan, Planner
from watcher.store import Store, StoreError
from watcher.store.versions import TrialState, VersionBatch
from watcher.timeutil import Clock, iso, utc_now

log = logging.getLogger(__name__)

ProgressFactory = Callable[[int], AbstractContextManager[Callable[[int], None] | None]]
"""Given how many records will be fetched, a context yielding an ``advance(n)``."""


INTERRUPTED = "interrupted before it finished"


class _TrialFault(Exception):
    """A trial failed in a batch recorded without savepoints: undo it, record it again."""


@dataclass(frozen=True)
class _Recording:
    """What recording one fetched batch shares across its trials."""

    batch: VersionBatch
    fetched: FetchResult
    plan: Plan
    routes: Routes
    report: CycleReport
    now: str
    versions: Versioning


@dataclass
class Pipeline:
    """Runs cycles against one store and one registry client."""

    store: Store
    registry: RegistryClient
    planner: Planner
    clock: Clock = utc_now
    progress: ProgressFactory | None = None
    trouble_after: int = 3
    history: Backfiller | None = None
    """Learns registry numbers of new versions of trials whose history is known."""
    queue_history: bool = False
    """Queue the registry history of every newly watched trial (``registry.backfill``)."""
    thresholds: Thresholds = field(default_factory=Thresholds)
    """The ``[events]`` table: thresholds of the event rules."""
    classify_events: bool = True
    """Make events for each change (False only for the benchmark's comparison)."""

    def __post_init__(self) -> None:
        self.searching = SearchRound(self.store, self.registry, self.clock, self.trouble_after)

    def run_cycle(
        self,
        trials: Sequence[str],
        routes: Routes,
        should_stop: Callable[[], bool] = lambda: False,
        *,
        full: bool = False,
        searches: Sequence[SearchSpec] = (),
    ) -> CycleReport:
        """Check ``trials`` and ``searches`` once and record what changed.

        The planner decides what needs fetching (see :mod:`watcher.registry.planner`);
        trials it rules out are counted as checked, unchanged. The searches follow
        the trials (:mod:`watcher.cycle.searches`), sharing the planner's listing.
        Raises Interrupted (after closing the run record) when ``should_stop``
        turns true or a pacing sleep is cut short by a shutdown, and StoreError
        when the database itself cannot be used; every other failure is
        recorded in the report and the run.
        """
        report = CycleReport()
        run_id = self.store.runs.start(iso(self.clock()))
        stats = self.registry.stats
        before, bytes_before = stats.requests, stats.bytes_received
        stamp: str | None = None
        settled = False  # True once the cycle's outcome is known; anything else is interrupted
        scope: Sequence[str] = trials  # not a copy: a whole-registry list is 5 MB of pointers
        try:
            stamp, members = self._check(trials, routes, searches, report, should_stop, full=full)
            if members:
                scope = [*trials, *members]
            self._time_events(routes)
            settled = True
        except RegistryError as exc:
            report.registry_down, report.registry_error = True, str(exc)
            settled = True
        except Interrupted:
            report.failure, report.mode = "interrupted by shutdown", "interrupted"
            raise
        except StoreError as exc:
            report.failure = f"the database failed: {exc}"
            raise
        except Exception as exc:  # a fault nobody foresaw: the cycle failed, loudly but once
            report.failure = describe_failure(exc)
            log.error("the cycle failed: %s", report.failure)
            log.debug("the cycle failed", exc_info=True)
            settled = True
        finally:
            if not settled and report.failure is None:  # Interrupted, Ctrl-C, SystemExit…
                report.failure, report.mode = INTERRUPTED, "interrupted"
            report.requests = self.registry.stats.requests - before
            report.bytes = self.registry.stats.bytes_received - bytes_before
            self._finish(run_id, report, scope, stamp)
        self._tell_trouble(report, routes)
        return report

    def _check(
        self,
        trials: Sequence[str],
        routes: Routes,
        searches: Sequence[SearchSpec],
        report: CycleReport,
        should_stop: Callable[[], bool],
        *,
        full: bool,
    ) -> tuple[str | None, list[str]]:
        """Plan, fetch and record the trials, then the searches: the registry's data
        timestamp, and the search members that join the cycle's scope."""
        memory = self._memory(trials)
        members = self.searching.members_of(searches) if searches else ()
        plan = self.planner.plan(trials, memory, self.clock(), full=full, members=members)
        report.mode = plan.mode
        log.info("cycle plan: %s, %d to fetch (%s)", plan.mode, len(plan.fetch), plan.reason)
        batches, failed, first = self._fetch_and_record(plan, routes, report, should_stop)
        report.checked += len(trials) - len(plan.fetch)
        if failed == batches and batches:
            report.registry_down, report.registry_error = True, first
            return plan.data_timestamp, []
        if failed:  # the cycle completes (those trials are fetched again), told as trouble
            report.registry_error = f"{failed} of {batches} registry requests failed: {first}"
        if not searches:
            return plan.data_timestamp, []
        joined = self._searches(searches, plan, memory, routes, report, should_stop)
        return plan.data_timestamp, joined

    def _finish(
        self, run_id: int, report: CycleReport, trials: Sequence[str], stamp: str | None
    ) -> None:
        counts = report.counts
        if counts.complete:
            self.store.runs.set_scope(trials)
        final = replace(counts, data_timestamp=stamp if counts.complete else None, mode=report.mode)
        self.store.runs.finish(run_id, final, iso(self.clock()))

    def _searches(  # noqa: PLR0917 - the cycle's state, passed as _fetch_and_record takes it
        self,
        searches: Sequence[SearchSpec],
        plan: Plan,
        memory: Memory,
        routes: Routes,
        report: CycleReport,
        should_stop: Callable[[], bool],
    ) -> list[str]:
        """Ask, baseline new members of followed searches, record; the trials followed now."""
        found = self.searching.ask(searches, plan, memory, report, should_stop)
        follow = self.searching.follow_needs(found, routes)
        if follow:  # baseline on entry, before the events (their cards read the new versions)
            joining = replace(plan, fetch=tuple(follow), listed={}, reason="followed by a search")
            self._fetch_and_record(joining, routes, report, should_stop)
        self.searching.record(found, report, should_stop, watched=routes, joined=follow)
        return follow

    def _memory(self, trials: Sequence[str]) -> Memory:
        """What the store remembers that the planner needs."""
        last = self.store.runs.last_complete()
        stamped = self.store.runs.last_stamped()  # registry dates only, never the clock
        return Memory(
            last_complete_stamp=last.data_timestamp if last else None,
            last_complete_day=stamped[:10] if stamped else None,
            last_full_sweep=self.store.runs.last_full_sweep(),
            # never recorded, failing, or (re-)added since the last complete cycle
            fresh=self.store.runs.needs_full_fetch(trials),
            stored_posted=self.store.versions.posted_dates,
        )

    def _fetch_and_record(
        self,
        plan: Plan,
        routes: Routes,
        report: CycleReport,
        should_stop: Callable[[], bool],
    ) -> tuple[int, int, str | None]:
        """Fetch batch by batch, recording each before the next: how many batches there
        were, how many could not be read at all, and why the first of those failed."""
        batches = failed = 0
        first: str | None = None
        with self._progress(len(plan.fetch)) as advance:
            # a plan's IDs are distinct: the cycle's scope is (build_routes), and so its parts
            for batch in self.registry.iter_batches(plan.fetch, on_progress=advance, unique=True):
                batches += 1
                if batch.all_failed:
                    failed += 1
                    first = first or next(iter(batch.failed.values()))
                recorded = len(report.changed), len(report.new)
                try:
                    self._record(batch, plan, routes, report, should_stop)
                except (Interrupted, StoreError):
                    raise
                except Exception as exc:  # the batch as a whole: its trials failed, others go on
                    self._batch_failed(batch, describe_failure(exc), report)
                else:
                    if self.history is not None:  # before delivery: exact compare links
                        fresh = report.changed[recorded[0] :] + report.new[recorded[1] :]
                        self.history.number_recorded(fresh)
                del batch  # memory holds one batch: this one goes before the next is read
                # and so does any cycle its recording left (a traceback holding a record):
                # a one-shot check walks the collector's older generations rarely
                # (watcher/memory.py), so the young and middle ones are walked here, when
                # little is alive in them
                gc.collect(1)
        return batches, failed, first

    def _batch_failed(self, batch: FetchResult, reason: str, report: CycleReport) -> None:
        log.error("a batch of %d trials could not be recorded: %s", len(batch.requested), reason)
        log.debug("batch failure", exc_info=True)
        now = iso(self.clock())
        with self.store.versions.batch() as writes:
            for nct in batch.requested:
                report.errors[nct] = f"could not record: {reason}"
                writes.record_error(nct, report.errors[nct], now)

    def _progress(self, total: int) -> AbstractContextManager[Callable[[int], None] | None]:
        if self.progress is None:
            return nullcontext(None)
        return self.progress(total)

    def _record(
        self,
        fetched: FetchResult,
        plan: Plan,
        routes: Routes,
        report: CycleReport,
        should_stop: Callable[[], bool],
    ) -> None:
        """One transaction for the batch, and a fault boundary per trial.

        Why twice: a savepoint per trial costs about a tenth of a baseline's CPU, and a
        fault is rare. So the batch is first recorded without them; if any trial fails,
        the whole transaction is undone and the batch recorded again with a savepoint
        per trial, where that trial's fault is kept as its error and the others are
        recorded. Either way what commits is the same; the outcomes reach ``report``
        only once their transaction committed. The price of a fault: its batch is
        recorded twice (and its trials' log lines written twice), every cycle while a
        record keeps failing.
        """
        record = functools.partial(self._record_batch, fetched, plan, routes, should_stop)
        part = CycleReport()
        fault: str | None = None
        try:
            stopped = record(part, isolated=False)
        except _TrialFault as exc:  # left before recording again: its traceback holds the
            fault = str(exc)  # frames of the failed pass (a compared run's old records)
        if fault is not None:
            log.debug("a trial failed; the batch is recorded again trial by trial: %s", fault)
            part = CycleReport()
            stopped = record(part, isolated=True)
        report.absorb(part)
        if stopped:
            raise Interrupted

    def _record_batch(
        self,
        fetched: FetchResult,
        plan: Plan,
        routes: Routes,
        should_stop: Callable[[], bool],
        report: CycleReport,
        *,
        isolated: bool,
    ) -> bool:
        """Record the batch in one transaction into ``report``; True when ``should_stop``
        cut it short. ``isolated``: each trial in its own savepoint, its fault kept as
        its error; otherwise a trial's fault undoes the batch (:class:`_TrialFault`)."""
        now = iso(self.clock())
        with self.store.versions.batch() as batch:
            states = batch.states(fetched.requested)
            versions = Versioning(
                self.clock, self.thresholds, classify=self.classify_events,
                queue_history=self.queue_history,
            )  # fmt: skip
            context = _Recording(batch, fetched, plan, routes, report, now, versions)
            compared: dict[str, Compared] = {}
            run_ends = 0
            for at, nct in enumerate(fetched.requested):
                if should_stop():
                    return True
                if not isolated and at == run_ends:
                    compared = {}  # the last run goes before the next is compared
                    compared, run_ends = _compare(context, states, at)
                try:
                    with batch.trial(isolated=isolated):  # popped: used once, if at all
                        self._record_trial(context, nct, states.get(nct), compared.pop(nct, None))
                except StoreError:
                    raise
                except Exception as exc:  # one bad record must not stop the others
                    if not isolated:
                        raise _TrialFault(f"{nct}: {describe_failure(exc)}") from exc
                    message = f"could not record: {describe_failure(exc)}"
                    log.error("%s: %s", nct, message)
                    log.debug("%s: could not record", nct, exc_info=True)
                    self._trial_failed(context, nct, states.get(nct), message)
        return False

    def _record_trial(
        self, context: _Recording, nct: str, state: TrialState | None, compared: Compared | None
    ) -> None:
        batch, fetched, report, now = context.batch, context.fetched, context.report, context.now
        routes = context.routes.get(nct, ())
        destinations = [r.destination for r in routes]
        if nct in fetched.failed:
            self._trial_failed(context, nct, state, fetched.failed[nct])
            return
        record = fetched.records.get(nct)
        if record is None:
            report.not_found.append(nct)
            batch.record_not_found(nct, now)
            if state is not None and state.latest_hash is not None and not state.not_found:
                rows = notices.trial_gone(destinations, nct, now[:10])
                batch.tell_once(notices.gone_key(nct), rows, now)
            return
        stale = stale_copy(record, context.plan.listed.get(nct), state)
        if stale is not None:
            self._trial_failed(context, nct, state, stale)
            return
        outcome = context.versions.record(
            batch, nct, record, state=state, routes=routes, now=now, compared=compared
        )
        if state is not None and state.not_found:
            batch.all_clear(notices.gone_key(nct), notices.trial_back(destinations, nct), now)
        if state is not None and state.consecutive_errors:
            again = notices.trial_checked_again(destinations, nct)
            batch.all_clear(notices.failing_key(nct), again, now)
        report.checked += 1
        if outcome is Outcome.NEW:
            report.new.append(nct)
        elif outcome is Outcome.CHANGED:
            report.changed.append(nct)

    def _trial_failed(
        self, context: _Recording, nct: str, state: TrialState | None, message: str
    ) -> None:
        """Keep the reason; after ``trouble_after`` failures in a row, tell the trial's
        destinations once. The cycle still completes: a failing trial is fetched in
        full every cycle until it is recorded, so no change of it can slip past. A
        request that failed for its whole batch is registry trouble, told to everyone
        (:meth:`_tell_trouble`), not once per trial."""
        context.report.errors[nct] = message
        context.batch.record_error(nct, message, context.now)
        failures = (state.consecutive_errors if state is not None else 0) + 1
        if failures >= self.trouble_after and not context.fetched.all_failed:
            destinations = [r.destination for r in context.routes.get(nct, ())]
            masked = self.store.conn.masked(message)
            rows = notices.trial_failing(destinations, nct, failures, masked)
            context.batch.tell_once(notices.failing_key(nct), rows, context.now)

    def _time_events(self, routes: Routes) -> None:
        """Results due / overdue and stale records, from stored data (no request); a fault
        here is logged and never fails the cycle's detection."""
        if not self.classify_events:
            return
        try:
            TimeEvents(self.store, self.clock, self.thresholds).run(routes)
        except StoreError:
            raise
        except Exception as exc:
            log.error("time events could not be evaluated: %s", describe_failure(exc))
            log.debug("time events failed", exc_info=True)

    def _tell_trouble(self, report: CycleReport, routes: Routes) -> None:
        """After ``trouble_after`` failed cycles in a row, tell every destination, once."""
        now = iso(self.clock())
        everyone = routes.destinations()
        error = report.registry_error or report.failure
        trouble = self.store.troubles
        if error is None:
            since = trouble.get(notices.REGISTRY)
            if since is not None:
                trouble.end(notices.REGISTRY, notices.checks_recovered(everyone, since.since), now)
            return
        trouble.begin(notices.REGISTRY, now, error)
        failures = self.store.runs.consecutive_failures()
        began = trouble.get(notices.REGISTRY)
        if failures >= self.trouble_after and began is not None and not began.told:
            rows = notices.checks_failing(
                everyone, failures, began.since, self.store.conn.masked(error)
            )
            trouble.tell(notices.REGISTRY, rows, now)


COMPARED_TOGETHER = 100
"""How many requested trials a run looks at, to compare (and classify their changes)
ahead of recording them (:meth:`Versioning.compare`): enough for the rules to run warm.
What a run holds is bounded in bytes apart from this (:data:`versioning.RUN_BYTES`)."""


def _compare(
    context: _Recording, states: dict[str, TrialState], at: int
) -> tuple[dict[str, Compared], int]:
    """From the requested trial ``at``, a run of up to :data:`COMPARED_TOGETHER` of those
    that will be recorded against a stored version (known, fetched, not a stale copy),
    compared ahead; and where the next run starts (a run of big records stops early:
    :meth:`Versioning.compare`). Only in a batch recorded without savepoints: a fault here
    undoes the batch, which is recorded again trial by trial, each compared on its own."""
    fetched, listed = context.fetched, context.plan.listed
    requested = fetched.requested
    ends = at + 1  # a run is never empty of requested trials: the loop moves on

    def known() -> Iterator[tuple[str, dict[str, Any], TrialState]]:
        nonlocal ends
        for i in range(at, min(at + COMPARED_TOGETHER, len(requested))):
            ends = i + 1
            nct = requested[i]
            state, record = states.get(nct), fetched.records.get(nct)
            if state is None or not has_stored_version(state) or record is None:
                continue  # new, imported-only, or not fetched (a failed request has none)
            if stale_copy(record, listed.get(nct), state) is None:  # a stale copy: no record
                yield nct, record, state

    try:
        return context.versions.compare(context.batch, known()), ends
    except StoreError:
        raise
    except Exception as exc:
        notes = "".join(f" ({note})" for note in getattr(exc, "__notes__", ()))
        raise _TrialFault(describe_failure(exc) + notes) from exc
