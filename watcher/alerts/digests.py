"""Holding alerts for digests and quiet hours, and writing each digest when it is due.

Why before delivery, not in the cycle: the cycle writes an outbox row per
destination as it always did; just before rows are claimed, this pass looks at
the rows no timing has seen, and per destination's timing (see
:mod:`watcher.config.digest_keys`) marks each one *urgent* (it goes now),
*held* (it waits) or leaves it due. Then every digest whose slot has come, and
every quiet window that has ended, becomes one digest row
(:meth:`watcher.store.digests.Digests.bundle`). Deciding needs the clock and the
database only — never the registry — and works the same from the daemon's
minute job and from a ``ctwatch check`` run by cron; a slot missed while nothing
ran is sent once, at the next pass.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from watcher.alerts.routing import channel_destination, same_channel
from watcher.config import Config
from watcher.config.digest import parse_digest, parse_quiet_hours
from watcher.config.digest_keys import Timing
from watcher.config.timings import destination_timings
from watcher.core.destination import Destination
from watcher.core.events.model import Level
from watcher.core.text import counted
from watcher.store import Store
from watcher.store.digests import WaitingRow
from watcher.timeutil import Clock, iso, parse_iso, utc_now

log = logging.getLogger(__name__)

LevelsOf = Callable[[Sequence[int]], Mapping[int, str]]
"""version ids -> the highest event level of each (a version with no event is ``info``)."""

NOTICE_KINDS = frozenset({"notice"})
"""Operational news (a trial unreadable, gone): quiet hours hold it, a digest never does.
A notice that tells a time event (results due, a stale record) is an event like any other."""


def no_levels(_: Sequence[int]) -> Mapping[int, str]:
    return {}


def at_least(level: str, threshold: str) -> bool:
    """``high`` is at least ``medium``; unknown levels count as ``info``."""

    def known(name: str) -> Level:
        try:
            return Level.parse(name)
        except ValueError:
            return Level.INFO

    return known(level).at_least(known(threshold))


@dataclass
class DigestPass:
    """What one pass did (the daemon's log line, tests)."""

    held: int = 0
    urgent: int = 0
    digests: list[int] = field(default_factory=list)
    released: int = 0


@dataclass
class Digester:
    """Applies each destination's timing to its outbox rows."""

    store: Store
    timings: Callable[[], Mapping[Destination, Timing]]
    levels: LevelsOf = no_levels
    clock: Clock = utc_now

    def run(self, *, only: Sequence[Destination] | None = None, force: bool = False) -> DigestPass:
        """Hold what must wait, write what is due. ``force`` (``ctwatch digest send``) writes
        the digests of ``only`` now, whatever their schedule."""
        now = self.clock()
        report = DigestPass()
        timings = self.timings()
        for destination, timing in timings.items():
            if only is not None and destination not in only:
                continue
            self._sort(destination, timing, now, report)
            self._due(destination, timing, now, report, force=force)
        self._orphans(timings, now, report)
        return report

    def _sort(
        self, destination: Destination, timing: Timing, now: datetime, report: DigestPass
    ) -> None:
        fresh = self.store.digests.fresh(destination)
        if not fresh:
            return
        levels = self.levels([r.version_id for r in fresh if r.version_id is not None])
        urgent, hold = [], []
        quiet_now = timing.quiet is not None and timing.quiet.is_quiet(now)
        for row in fresh:
            level = row.event_level or levels.get(row.version_id or 0, "info")
            operational = row.kind in NOTICE_KINDS and row.event_level is None
            if timing.urgent is not None and at_least(level, timing.urgent):
                urgent.append(row.id)
            elif (timing.digest is not None and not operational) or quiet_now:
                hold.append(row.id)
        if urgent and timing.digest is not None:
            self.store.digests.mark_urgent(urgent)
        if hold:
            self.store.digests.hold(hold, timing.key)
        report.urgent += len(urgent)
        report.held += len(hold)

    def _due(
        self,
        destination: Destination,
        timing: Timing,
        now: datetime,
        report: DigestPass,
        *,
        force: bool,
    ) -> None:
        digests = self.store.digests
        state = digests.start(destination, timing.key, iso(now))
        quiet_now = timing.quiet is not None and timing.quiet.is_quiet(now)
        if quiet_now and not force:
            return  # digests that fall inside quiet hours wait for its end too
        if timing.digest is not None:
            since = parse_iso(state.last_slot or state.since)
            slot = timing.digest.latest_slot(since, now)
            if slot is not None or force:
                made = digests.bundle(
                    destination,
                    timing.key,
                    slot=iso(slot) if slot is not None else None,
                    now=iso(now),
                    reason="digest",
                    send_empty=timing.send_empty and slot is not None,
                )
                self._made(made, report)
                return
            # between slots: notices held by quiet hours that ended go on their own
            notices = [r.id for r in digests.held(destination, timing.key) if _notice(r)]
            if notices:
                digests.release(notices, iso(now))
                report.released += len(notices)
            return
        held = digests.held(destination, timing.key)
        if len(held) == 1 and not force:
            digests.release([held[0].id], iso(now))  # one alert goes as itself
            report.released += 1
        elif held:
            made = digests.bundle(
                destination, timing.key, slot=None, now=iso(now), reason="quiet hours ended"
            )
            self._made(made, report)

    def _orphans(
        self, timings: Mapping[Destination, Timing], now: datetime, report: DigestPass
    ) -> None:
        """Rows held under a timing the config no longer has. A destination that still waits
        (its schedule or quiet hours were edited) keeps them for its new timing; one that
        no longer waits gets them now, as one message. Then the state of every timing no
        longer configured is forgotten: if it comes back it starts counting afresh."""
        current = {(d, t.key) for d, t in timings.items()}
        for destination, key in self.store.digests.held_timings():
            if (destination, key) in current:
                continue
            timing = timings.get(destination)
            if timing is not None:
                self.store.digests.rekey(destination, key, timing.key)
                continue
            held = self.store.digests.held(destination, key)
            log.info(
                "%s for %s waited for a timing no longer configured; sending them now",
                counted(len(held), "alert"),
                destination.describe(),
            )
            if len(held) == 1:
                self.store.digests.release([held[0].id], iso(now))
                report.released += 1
                continue
            self.store.digests.start(destination, key, iso(now))
            made = self.store.digests.bundle(
                destination, key, slot=None, now=iso(now), reason="timing changed"
            )
            self._made(made, report)
        self.store.digests.forget(current)

    @staticmethod
    def _made(digest_id: int | None, report: DigestPass) -> None:
        if digest_id is not None:
            report.digests.append(digest_id)


def _notice(row: WaitingRow) -> bool:
    """Operational news: released when quiet hours end, never kept for a digest."""
    return row.kind in NOTICE_KINDS and row.event_level is None


def all_timings(config: Config, store: Store) -> dict[Destination, Timing]:
    """The config's timings, and the Slack channels' own (``/ctwatch digest``, ``quiet``).

    A channel's Slack-made setting wins over the config file's for that channel: its
    members asked for it last. It keeps the config's ``urgent`` level, if any.
    """
    timings = destination_timings(config)
    known = [d for d in timings if d.kind == "slack"] + [
        d for table in (*config.watch, *config.search) for d in table.destinations
    ]
    for channel in store.channel_timings.list():
        destination = channel_destination(channel.channel_id, channel.channel_name, known)
        zone = channel.timezone or config.schedule.timezone
        before = timings.get(destination)
        try:
            timing = Timing(
                parse_digest(channel.digest, zone) if channel.digest else None,
                parse_quiet_hours(channel.quiet_hours, zone) if channel.quiet_hours else None,
                before.urgent if before is not None else None,
            )
        except ValueError:  # stored by an older ctwatch with other rules: the config's stands
            log.warning("ignoring the stored timing of Slack channel %s", channel.channel_id)
            continue
        timings[destination] = timing
    return {d: t for d, t in timings.items() if not t.immediate}


def table_groups(config: Config, store: Store, destination: Destination) -> dict[str, str]:
    """Which watch or search each of ``destination``'s trials comes through, in words
    (``watch “rectal-cancer”``): a digest's sections. First table first, as routing reads
    them; Slack-made subscriptions last."""
    out: dict[str, str] = {}
    for watch in config.watch:
        if destination in watch.destinations:
            label = f"watch “{watch.name}”"
            for nct in watch.trials:
                out.setdefault(nct, label)
    searches = [s for s in config.search if destination in s.destinations]
    members = store.searches.members([s.name for s in searches]) if searches else {}
    for search in searches:
        for nct in members.get(search.name, ()):
            out.setdefault(nct, f"search “{search.name}”")
    if destination.kind == "slack":
        for sub in store.subscriptions.list():
            if same_channel(destination.target, sub.channel_id, sub.channel_name):
                out.setdefault(sub.nct_id, "followed from Slack")
    return out


def next_digest(timing: Timing, now: datetime) -> datetime | None:
    """When this timing's next digest is due (``status``, ``list``), quiet hours applied."""
    if timing.digest is None:
        return None
    slot = timing.digest.next_after(now).astimezone(ZoneInfo(timing.digest.timezone))
    if timing.quiet is not None:
        slot = timing.quiet.ends_at(slot)
    return slot
