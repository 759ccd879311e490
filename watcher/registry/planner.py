"""Decide what a cycle must fetch: nothing, the trials that moved, or everything.

Why: the registry publishes no rate limit and refreshes its data once per
weekday. Asking for every watched record on every cycle - what generic page
monitors do - costs the registry thousands of requests for nothing. So a cycle:

1. probes ``GET /version``; if ``dataTimestamp`` has not moved since the last
   complete cycle, it fetches nothing (except trials it has never seen);
2. otherwise lists what was posted since the day of the last complete cycle
   minus a look-back (``lookback``, default 3 days: records can appear late,
   with an older post date) - ID batches with
   ``filter.advanced=AREA[LastUpdatePostDate]RANGE[day,MAX]`` and
   ``fields=NCTId,LastUpdatePostDate`` (small pages), or, for watch lists over
   ``registry_wide_over`` trials, the registry-wide list intersected locally,
   so the cost follows the registry's daily changes rather than the watch
   list's length;
3. fetches full records only for listed trials whose post date differs from
   the stored one or falls on/after the last processed day (so the wider
   window costs no extra full fetches), plus new or previously failing trials;
4. sweeps everything periodically (``full_sweep``, default weekly) and on
   ``ctwatch check --full``, to catch anything an incremental pass could miss.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Literal

from watcher.core.record import last_update_posted
from watcher.core.text import counted
from watcher.registry.client import RegistryClient, requested_id
from watcher.registry.errors import RegistryUnavailable

log = logging.getLogger(__name__)

Mode = Literal["full", "incremental", "skipped"]
# NCTIdAlias too: a trial watched under an older ID must be recognised in the listing
ID_FIELDS = ("NCTId", "NCTIdAlias", "LastUpdatePostDate")


@dataclass(frozen=True)
class FetchPolicy:
    """The tunables of incremental fetching (from ``[registry]``)."""

    incremental: bool = True
    registry_wide_over: int = 5000
    full_sweep: timedelta = timedelta(days=7)
    lookback: timedelta = timedelta(days=3)


@dataclass(frozen=True)
class Memory:
    """What the store remembers that plans the next cycle.

    The pipeline reads it from the store and hands it over, so planning
    depends on the registry alone and is tested without a database.
    """

    last_complete_stamp: str | None
    """``dataTimestamp`` processed by the last complete cycle (None: no such cycle)."""
    last_complete_day: str | None
    """The day (YYYY-MM-DD) of the refresh processed by the last complete cycle that had a
    usable ``dataTimestamp``; listing starts before it. Registry dates only: a cycle
    whose stamp was unusable never moves it, and the host's clock never sets it (None:
    no such cycle, so the cycle reads everything)."""
    last_full_sweep: datetime | None
    fresh: tuple[str, ...]
    """Trials that need a full fetch whatever the registry says (new, failing, re-added)."""
    stored_posted: Callable[[Sequence[str]], Mapping[str, str | None]] = lambda ids: {}
    """The stored LastUpdatePostDate of the trials named."""


@dataclass(frozen=True)
class Plan:
    """What this cycle fetches in full, and why."""

    mode: Mode
    fetch: tuple[str, ...]
    data_timestamp: str | None
    """The refresh this cycle processes; None when the registry's value was unusable."""
    reason: str
    listed: Mapping[str, str | None] = field(default_factory=dict)
    """The post date the listing gave each trial it fetches (to spot stale copies)."""
    listing: Mapping[str, str | None] | None = None
    """Everything the listing found posted since its day - watched trials and search
    members alike (None: no listing was made this cycle)."""
    since: str | None = None
    """The day the listing started from (the last processed refresh minus the look-back)."""


def since_clause(day: str) -> str:
    """The Essie filter for records posted on or after ``day`` (YYYY-MM-DD)."""
    return f"AREA[LastUpdatePostDate]RANGE[{day},MAX]"


def usable_stamp(stamp: str) -> str | None:
    """``dataTimestamp`` when it reads as ``yyyy-MM-ddTHH:mm:ss``; None otherwise.

    An unusable value counts as "moved" and is never stored as the watermark.
    """
    try:
        datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S")
    except ValueError:
        return None
    return stamp


@dataclass
class Planner:
    """Plans one cycle from the store's memory and a probe of the registry."""

    registry: RegistryClient
    policy: FetchPolicy

    def plan(
        self,
        trials: Sequence[str],
        memory: Memory,
        now: datetime,
        *,
        full: bool = False,
        members: Sequence[str] = (),
    ) -> Plan:
        """Probe the registry and decide; RegistryError when it cannot be read.

        ``members`` (search members not watched as trials) join the listing only:
        the searches learn which of them moved from the same requests.
        """
        if not self.policy.incremental:
            return Plan("full", _as_tuple(trials), None, "incremental fetching is off")
        raw = self.registry.data_timestamp()
        stamp = usable_stamp(raw)
        if stamp is None:
            log.warning("registry: unusable dataTimestamp %r; treating the data as moved", raw[:40])
        fresh = memory.fresh
        swept = memory.last_full_sweep
        if full:
            return Plan("full", _as_tuple(trials), stamp, "full check requested")
        if memory.last_complete_day is None or swept is None:
            return Plan(
                "full", _as_tuple(trials), stamp, "no complete cycle with a registry stamp yet"
            )
        if now - swept >= self.policy.full_sweep:
            return Plan("full", _as_tuple(trials), stamp, "periodic full sweep")
        if stamp is not None and memory.last_complete_stamp == stamp:
            reason = "registry data unchanged" + (f"; {len(fresh)} new" if fresh else "")
            return Plan("skipped" if not fresh else "incremental", fresh, stamp, reason)
        day = memory.last_complete_day
        since = (date.fromisoformat(day) - self.policy.lookback).isoformat()
        every = list(dict.fromkeys([*trials, *members])) if members else trials
        listed = self._listed_since(every, since)
        if members:
            mine = set(trials)
            listed_trials = {n: d for n, d in listed.items() if n in mine}
        else:
            listed_trials = listed
        stored = memory.stored_posted(list(listed_trials))
        moved = {
            n: d for n, d in listed_trials.items() if d is None or d != stored.get(n) or d >= day
        }
        wanted = set(moved) | set(fresh)
        ordered = tuple(t for t in trials if t in wanted)
        reason = f"{len(moved)} posted since {day} (listed from {since})"
        return Plan("incremental", ordered, stamp, reason, moved, listed, since)

    def _listed_since(self, trials: Sequence[str], day: str) -> dict[str, str | None]:
        """Watched trials posted on or after ``day``, with the post date listed."""
        watched = set(trials)
        if len(trials) > self.policy.registry_wide_over:
            listed = self.registry.list_studies(ID_FIELDS, since_clause(day))
            keyed = ((requested_id(r, watched), r) for r in listed)
            found = {nct: r for nct, r in keyed if nct is not None}
        else:
            fetched = self.registry.fetch_studies(
                trials, fields=ID_FIELDS, advanced=since_clause(day)
            )
            if fetched.failed:
                raise RegistryUnavailable(next(iter(fetched.failed.values())))
            found = dict(fetched.records)  # keyed by the requested (possibly alias) ID
        log.info(
            "registry: %s listed as posted since %s", counted(len(found), "watched trial"), day
        )
        return {nct: last_update_posted(record) for nct, record in found.items()}


def _as_tuple(trials: Sequence[str]) -> tuple[str, ...]:
    """The watch list as a tuple, itself when it is one: a whole-registry list copied is
    5 MB of pointers held for the whole fetch."""
    return trials if isinstance(trials, tuple) else tuple(trials)
