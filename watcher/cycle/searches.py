"""Searches in a cycle: decide how much to ask, ask, then record each search on its own.

How a search is checked (the registry's side is :mod:`watcher.registry.searches`):

* ``baseline`` - first check, another query, or back under ``max_trials``:
  every member recorded silently;
* nothing - the registry's ``dataTimestamp`` is the one its last check
  processed (a no-change cycle stays one request);
* ``incremental`` - its last good check processed the refresh the cycle's
  listing starts from: the "posted since" query finds new and entering
  trials, and the members the shared listing saw move but that query did not
  return are confirmed gone with one ``filter.ids`` query;
* ``full`` - the weekly sweep, ``check --full``, or a search that missed a
  refresh (its last check failed): the whole search, reconciled.

Each search keeps its own watermark (the refresh its last good check
processed), so one search failing never costs another its events, and never
holds the trials' incremental watermark back. *New trial* means first posted
on or after the day of that refresh - registry dates, never the local clock.

The records of entering and leaving trials are read once for all searches
(the stored version when it is current - the trial is watched and was checked
this cycle - else one ``filter.ids`` fetch: a version kept from when ctwatch
last watched it would show the trial as it was then), and a search whose cards
cannot be read is not recorded: it is asked again next cycle, so its events
are late, never lost. Members joining a followed search get a fresh baseline
through the pipeline (:meth:`SearchRound.follow_needs`) before their search's
events are recorded: a trial ctwatch never saw, and one it saw long ago (it
left the search, or a watch) whose fresh record becomes its current version
silently - the "Now matches" card tells of the join, and no change alert
reports the gap against an old version.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Container, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from watcher.alerts.search_routes import SearchSpec
from watcher.core.search_card import EventKind, SearchEvent, TrialCard
from watcher.cycle import notices
from watcher.cycle.report import CycleReport, Interrupted, describe_failure
from watcher.registry.client import RegistryClient
from watcher.registry.errors import RegistryError
from watcher.registry.planner import Memory, Plan, usable_stamp
from watcher.registry.searches import SearchReader, TooManyMatches
from watcher.store import SearchState, Store, StoreError
from watcher.store.searches import SearchUpdate
from watcher.timeutil import Clock, iso

log = logging.getLogger(__name__)

How = Literal["baseline", "full", "incremental"]


def decide(spec: SearchSpec, state: SearchState | None, plan: Plan, memory: Memory,
           stamp: str | None) -> How | None:  # fmt: skip
    """How this cycle checks a search (see the module doc); None: not at all."""
    if state is None or state.query != spec.query.fingerprint:
        return "baseline"
    if plan.mode != "full" and stamp is not None and state.data_timestamp == stamp:
        return None
    if state.baseline_at is None:
        return "baseline"
    last = memory.last_complete_day
    day = state.data_timestamp[:10] if state.data_timestamp else None
    if plan.mode == "full" or plan.listing is None or day is None or last is None or day < last:
        return "full"
    return "incremental"


@dataclass
class Found:
    """What the registry said about one search this cycle."""

    spec: SearchSpec
    how: How
    stamp: str | None
    previous_day: str | None
    """The day of the refresh its last good check processed: new trials are posted since."""
    members: Mapping[str, str]
    """The members before this check, with when each was last seen."""
    matched: set[str] = field(default_factory=set)
    first_posted: dict[str, str | None] = field(default_factory=dict)
    entering: list[str] = field(default_factory=list)
    leaving: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    @property
    def telling(self) -> list[str]:
        """The trials whose cards its events need."""
        return [] if self.how == "baseline" else [*self.entering, *self.leaving]


@dataclass
class SearchRound:
    """The searches' part of one cycle (see the module doc)."""

    store: Store
    registry: RegistryClient
    clock: Clock
    trouble_after: int = 3
    """Failed checks in a row before a search's destinations are told, once."""

    def __post_init__(self) -> None:
        self.reader = SearchReader(self.registry)

    def members_of(self, specs: Sequence[SearchSpec]) -> list[str]:
        """Every member of these searches: the cycle's listing covers them too."""
        members = self.store.searches.members([s.name for s in specs])
        return list(dict.fromkeys(n for group in members.values() for n in group))

    def ask(self, specs: Sequence[SearchSpec], plan: Plan, memory: Memory, report: CycleReport,
            should_stop: Callable[[], bool]) -> list[Found]:  # fmt: skip
        """Ask the registry what each search needs; over-limit and failed ones are recorded."""
        report.searches = len(specs)
        names = [s.name for s in specs]
        states = self.store.searches.states(names)
        members = self.store.searches.members(names)
        stamp = plan.data_timestamp or self._probe(specs)
        found = []
        for spec in specs:
            state = states.get(spec.name)
            how = decide(spec, state, plan, memory, stamp)
            if how is None:
                continue
            if should_stop():
                raise Interrupted
            previous = state.data_timestamp[:10] if state and state.data_timestamp else None
            check = Found(spec, how, stamp, previous, members[spec.name])
            try:
                self._ask(check, plan)
            except TooManyMatches as exc:
                self._over(spec, exc.count, stamp, report)
            except (Interrupted, StoreError):
                raise
            except RegistryError as exc:
                self._failed(spec, str(exc), report)
            except Exception as exc:  # one search's surprise must not cost the others
                log.debug("search %s", spec.name, exc_info=True)
                self._failed(spec, describe_failure(exc), report)
            else:
                found.append(check)
        return found

    def follow_needs(self, found: Sequence[Found], watched: Container[str]) -> list[str]:
        """New members of followed searches whose current version ctwatch does not hold:
        never recorded, or recorded once but not watched this cycle (it left, or was
        in a watch no more) - their stored version is old, and a join is a fresh
        baseline, never a diff against what ctwatch saw long ago."""
        wanted = list(
            dict.fromkeys(
                nct
                for check in found
                if check.spec.follow
                for nct in (check.matched if check.how == "baseline" else check.entering)
            )
        )
        hashes = self.store.versions.latest_hashes(wanted)
        return [nct for nct in wanted if nct not in watched or hashes.get(nct) is None]

    def record(
        self,
        found: Sequence[Found],
        report: CycleReport,
        should_stop: Callable[[], bool],
        *,
        watched: Container[str] = (),
        joined: Collection[str] = (),
    ) -> None:
        """Record each search in its own transaction: members, events, outbox rows.

        A card is read from the stored version only when that version is this
        cycle's: the trial is ``watched`` (checked this cycle) or ``joined`` just
        now, and was read; any other card is read from the registry.
        """
        telling = list(dict.fromkeys(n for check in found for n in check.telling))
        unread_now, joining = {*report.errors, *report.not_found}, set(joined)
        current = {n for n in telling if (n in watched or n in joining) and n not in unread_now}
        cards, unread = self._cards(telling, current)
        for check in found:
            if should_stop():
                raise Interrupted
            missing = [n for n in check.telling if n in unread]
            if missing:
                shown = ", ".join(missing[:5])
                reason = f"could not read {shown} for its alerts: {unread[missing[0]]}"
                self._failed(check.spec, reason, report)
                continue
            try:
                self._record(check, cards, report)
            except (Interrupted, StoreError):
                raise
            except Exception as exc:
                log.debug("search %s", check.spec.name, exc_info=True)
                self._failed(check.spec, f"could not record: {describe_failure(exc)}", report)

    # ---- the registry's side -------------------------------------------------------

    def _ask(self, check: Found, plan: Plan) -> None:
        spec, members = check.spec, check.members
        if check.how != "incremental" or plan.listing is None or plan.since is None:
            matched = self.reader.members(spec.query, spec.max_trials)
            check.matched = matched
            check.entering = sorted(matched - members.keys())
            check.leaving = sorted(members.keys() - matched)
            check.seen = sorted(matched & members.keys())
            return
        try:
            answer = self.reader.posted_since(spec.query, plan.since, spec.max_trials)
        except TooManyMatches as exc:  # what moved alone is too many: the search's own count
            total = self.reader.preview(spec.query, rows=1).total
            raise TooManyMatches(max(total or 0, exc.count)) from None
        absent = [n for n in members if n in plan.listing and n not in answer]
        still = self.reader.still_matching(spec.query, absent) if absent else set()
        check.first_posted = answer
        check.entering = sorted(n for n in answer if n not in members)
        check.leaving = sorted(n for n in absent if n not in still)
        check.seen = sorted({n for n in answer if n in members} | still)
        size = len(members) + len(check.entering) - len(check.leaving)
        if size > spec.max_trials:
            raise TooManyMatches(size)

    def _probe(self, specs: Sequence[SearchSpec]) -> str | None:
        """The registry's refresh when the cycle did not ask (incremental fetching off)."""
        if not specs:
            return None
        try:
            return usable_stamp(self.registry.data_timestamp())
        except RegistryError as exc:
            log.warning("searches: the registry's dataTimestamp could not be read (%s)", exc)
            return None

    def _cards(
        self, ids: Sequence[str], current: Collection[str]
    ) -> tuple[dict[str, TrialCard], dict[str, str]]:
        """Cards for ``ids``: from the stored version when it is ``current``, else fetched
        (a version ctwatch kept from long ago would show a trial as it was then)."""
        cards: dict[str, TrialCard] = {}
        wanted = list(dict.fromkeys(ids))
        stored = [n for n in wanted if n in current]
        for nct, digest in self.store.versions.latest_hashes(stored).items():
            record = self.store.versions.latest_record(nct) if digest else None
            if record is not None:
                cards[nct] = TrialCard.of(record, nct)
        rest = [n for n in wanted if n not in cards]
        failed: dict[str, str] = {}
        titles = {row.nct_id: row.title or "" for row in self.store.versions.trials(rest)}
        for batch in self.registry.iter_batches(rest):
            cards.update((n, TrialCard.of(r, n)) for n, r in batch.records.items())
            cards.update((n, TrialCard.absent(n, titles.get(n, ""))) for n in batch.missing)
            failed.update(batch.failed)
        return cards, failed

    # ---- the store's side ----------------------------------------------------------

    def _record(self, check: Found, cards: Mapping[str, TrialCard], report: CycleReport) -> None:
        spec = check.spec
        entered = []
        for nct in check.entering if check.how != "baseline" else ():
            card = cards[nct]
            posted = card.first_posted or check.first_posted.get(nct)
            since = check.previous_day
            kind: EventKind = "new" if since and posted and posted >= since else "matches"
            entered.append(spec.member_event(nct, SearchEvent(kind, spec.name, card)))
        left = []
        changed_now = set(report.changed)
        for nct in check.leaving if check.how != "baseline" else ():
            changes = (  # this cycle's version, else what changed since it was last seen
                self.store.versions.last_changes(nct)
                if nct in changed_now
                else self.store.versions.changes_since(nct, check.members[nct])
            )
            event = SearchEvent("left", spec.name, cards[nct])
            left.append(spec.member_event(nct, event, changes))
        update = SearchUpdate(
            spec.name, spec.query.fingerprint, iso(self.clock()), check.stamp,
            baseline=tuple(sorted(check.matched)) if check.how == "baseline" else None,
            entered=tuple(entered), left=tuple(left), seen=tuple(check.seen),
            trouble=notices.search_failing_key(spec.name),
            recovered=tuple(notices.search_checked_again(spec.destinations, spec.name)),
        )  # fmt: skip
        self.store.searches.apply(update)
        report.searches_checked.append(spec.name)
        report.search_events += [(spec.name, e.kind, e.nct_id) for e in (*entered, *left)]
        log.info("search %s: %s check, %d in, %d out",
                 spec.name, check.how, len(entered), len(left))  # fmt: skip

    def _over(self, spec: SearchSpec, count: int, stamp: str | None, report: CycleReport) -> None:
        log.warning("search %s: %d trials match, over max_trials (%d); nothing recorded",
                    spec.name, count, spec.max_trials)  # fmt: skip
        report.searches_over[spec.name] = count
        now = iso(self.clock())
        self.store.searches.over(spec.name, spec.query.fingerprint, count, stamp, now)

    def _failed(self, spec: SearchSpec, reason: str, report: CycleReport) -> None:
        """Keep the reason; after ``trouble_after`` failures in a row, tell the search's
        destinations once (the cycle completes: nothing else would ever say so)."""
        log.error("search %s could not be checked: %s", spec.name, reason)
        report.search_errors[spec.name] = reason
        now = iso(self.clock())
        failures = self.store.searches.failed(spec.name, spec.query.fingerprint, reason, now)
        if failures >= self.trouble_after:
            masked = self.store.conn.masked(reason)
            rows = notices.search_failing(spec.destinations, spec.name, failures, masked)
            self.store.troubles.tell(notices.search_failing_key(spec.name), rows, now)
