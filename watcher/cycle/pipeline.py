"""One poll cycle: fetch -> snapshot -> compare -> record.

Why isolated per trial: one odd record (or a bug in the diff on one shape of
data) must not cost every other trial its check. Each trial is recorded in its
own transaction, and an exception becomes that trial's ``last_error``.

Detection ends here. Alerts are only written to the outbox (with the version,
in the same transaction); sending them is :mod:`watcher.outbox`'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from typing import Any

from watcher.alerts.routing import Route, outbox_rows
from watcher.core.describe import stored_json
from watcher.core.diff import FieldChange, diff_records
from watcher.core.snapshot import take_snapshot
from watcher.cycle.report import CycleReport, Interrupted, Outcome
from watcher.registry.client import FetchResult, RegistryClient
from watcher.registry.errors import RegistryError
from watcher.registry.planner import Memory, Planner
from watcher.store import ChangeRow, Store
from watcher.timeutil import Clock, iso, utc_now

log = logging.getLogger(__name__)

ProgressFactory = Callable[[int], AbstractContextManager[Callable[[int], None] | None]]
"""Given how many records will be fetched, a context yielding an ``advance(n)``."""


@dataclass
class Pipeline:
    """Runs cycles against one store and one registry client."""

    store: Store
    registry: RegistryClient
    planner: Planner
    clock: Clock = utc_now
    progress: ProgressFactory | None = None

    def run_cycle(
        self,
        trials: Sequence[str],
        routes: Mapping[str, list[Route]],
        should_stop: Callable[[], bool] = lambda: False,
        *,
        full: bool = False,
    ) -> CycleReport:
        """Check ``trials`` once and record what changed.

        The planner decides what needs fetching (see :mod:`watcher.planner`);
        trials it rules out are counted as checked, unchanged. Raises
        Interrupted (after closing the run record) when ``should_stop`` turns
        true or a pacing sleep is cut short by a shutdown.
        """
        report = CycleReport()
        run_id = self.store.runs.start(iso(self.clock()))
        before = self.registry.stats.requests
        stamp: str | None = None
        try:
            try:
                plan = self.planner.plan(trials, self._memory(trials), self.clock(), full=full)
            except RegistryError as exc:
                report.registry_down, report.registry_error = True, str(exc)
            else:
                stamp, report.mode = plan.data_timestamp, plan.mode
                log.info(
                    "cycle plan: %s, %d to fetch (%s)", plan.mode, len(plan.fetch), plan.reason
                )
                read_any = self._fetch_and_record(plan.fetch, routes, report, should_stop)
                report.checked += len(trials) - len(plan.fetch)
                if plan.fetch and not read_any:
                    report.registry_down = True
                    report.registry_error = next(iter(report.errors.values()), None)
        except Interrupted:
            report.registry_down, report.registry_error = True, "interrupted by shutdown"
            raise
        finally:
            report.requests = self.registry.stats.requests - before
            counts = report.counts
            complete = counts.complete
            if complete:
                self.store.runs.set_scope(trials)
            self.store.runs.finish(
                run_id,
                replace(counts, data_timestamp=stamp if complete else None, mode=report.mode),
                iso(self.clock()),
            )
        return report

    def _memory(self, trials: Sequence[str]) -> Memory:
        """What the store remembers that the planner needs."""
        last = self.store.runs.last_complete()
        return Memory(
            last_complete_stamp=last.data_timestamp if last else None,
            last_complete_day=(last.data_timestamp or last.started_at)[:10] if last else None,
            last_full_sweep=self.store.runs.last_full_sweep(),
            # never recorded, failing, or (re-)added since the last complete cycle
            fresh=self.store.runs.needs_full_fetch(trials),
        )

    def _fetch_and_record(
        self,
        nct_ids: Sequence[str],
        routes: Mapping[str, list[Route]],
        report: CycleReport,
        should_stop: Callable[[], bool],
    ) -> bool:
        """Fetch batch by batch, recording each before the next; True if any batch read."""
        read_any = False
        with self._progress(len(nct_ids)) as advance:
            batches = self.registry.iter_batches(nct_ids, on_progress=advance)
            for batch in batches:
                read_any = read_any or not batch.all_failed
                self._record(batch, routes, report, should_stop)
        return read_any

    def _progress(self, total: int) -> AbstractContextManager[Callable[[int], None] | None]:
        if self.progress is None:
            return nullcontext(None)
        return self.progress(total)

    def _record(
        self,
        fetched: FetchResult,
        routes: Mapping[str, list[Route]],
        report: CycleReport,
        should_stop: Callable[[], bool],
    ) -> None:
        hashes = self.store.versions.latest_hashes(fetched.requested)
        for nct in fetched.requested:
            if should_stop():
                raise Interrupted
            now = iso(self.clock())
            if nct in fetched.failed:
                report.errors[nct] = fetched.failed[nct]
                self.store.versions.record_error(nct, fetched.failed[nct], now)
                continue
            record = fetched.records.get(nct)
            if record is None:
                report.not_found.append(nct)
                self.store.versions.record_not_found(nct, now)
                continue
            try:
                outcome = self.record_one(nct, record, hashes.get(nct), routes.get(nct, []), now)
            except Exception as exc:  # one bad record must not stop the others
                log.exception("%s: could not record this version", nct)
                message = f"could not record: {exc.__class__.__name__}: {exc}"
                report.errors[nct] = message
                self.store.versions.record_error(nct, message, now)
                continue
            report.checked += 1
            if outcome is Outcome.NEW:
                report.new.append(nct)
            elif outcome is Outcome.CHANGED:
                report.changed.append(nct)

    def record_one(
        self,
        nct: str,
        record: dict[str, Any],
        latest_hash: str | None,
        routes: Sequence[Route],
        now: str,
    ) -> Outcome:
        """Baseline, touch, or record a new version with its changes and alerts."""
        snap = take_snapshot(nct, record)
        if latest_hash is None:
            self.store.versions.record_version(snap, [], [], now)
            log.info("%s: baseline recorded", nct)
            return Outcome.NEW
        if latest_hash == snap.content_hash:
            self.store.versions.record_unchanged(snap, now)
            return Outcome.UNCHANGED
        previous = self.store.versions.latest_record(nct)
        changes = diff_records(previous or {}, snap.record)
        if not changes:
            self.store.versions.record_unchanged(snap, now)
            return Outcome.UNCHANGED
        rows = outbox_rows(changes, routes)
        self.store.versions.record_version(snap, _stored(changes), rows, now)
        log.info("%s: %d change(s), %d alert(s) queued", nct, len(changes), len(rows))
        return Outcome.CHANGED


def _stored(changes: Sequence[FieldChange]) -> list[ChangeRow]:
    """Changes as the store keeps them: values as JSON text, huge ones as a gist."""
    return [
        ChangeRow(c.path, c.label, c.kind, stored_json(c.path, c.old), stored_json(c.path, c.new))
        for c in changes
    ]
