"""Digest schedules and quiet hours: when a destination's held changes go out.

Why here, beside :mod:`watcher.config.crontab`: the config validates
``digest``, ``quiet_hours`` and ``timezone`` with these parsers, and the
delivery side asks the same values when a digest is due. Fire-time arithmetic
is APScheduler 3's ``CronTrigger`` (a pure value that knows time zones and
daylight-saving changes), so a "daily 08:00" digest fires once per local day,
also on the days the clocks move; nothing here reads the clock or the world.

Forms accepted for ``digest``:

- ``hourly`` (on the hour),
- ``daily HH:MM``,
- ``weekly DAY HH:MM`` (``mon``…``sun`` or full names),
- a 5-field crontab expression (weekdays numbered as crontab does).

``quiet_hours = "HH:MM-HH:MM"``: the window starts at the first time and ends
at the second, exclusive; it may cross midnight; equal ends are refused (an
always-quiet destination would never hear an alert).
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from watcher.config.crontab import cron_trigger
from watcher.core.events.model import Level

if TYPE_CHECKING:  # APScheduler loads when a schedule is checked or asked: not to read
    from apscheduler.triggers.cron import CronTrigger

DAY_NAMES = {
    "mon": "mon",
    "monday": "mon",
    "tue": "tue",
    "tuesday": "tue",
    "wed": "wed",
    "wednesday": "wed",
    "thu": "thu",
    "thursday": "thu",
    "fri": "fri",
    "friday": "fri",
    "sat": "sat",
    "saturday": "sat",
    "sun": "sun",
    "sunday": "sun",
}

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)
_NEVER = timedelta(days=5 * 366)
"""A schedule with no slot within five years of a fixed day never fires: refused."""


def parse_clock(text: str) -> time:
    """``HH:MM`` (24-hour) -> time; ValueError naming the value otherwise."""
    match = _CLOCK.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 24-hour)")
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (HH:MM, 00:00 to 23:59)")
    return time(hour, minute)


def check_timezone(name: str) -> str:
    """An IANA time zone name, or ValueError naming it."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{name!r} is not a known time zone (an IANA name like Europe/Paris)"
        ) from None
    return name


@dataclass(frozen=True)
class DigestSchedule:
    """When a destination's digest goes out: the text as written and its time zone."""

    text: str
    timezone: str

    @property
    def trigger(self) -> CronTrigger:
        """The APScheduler trigger (built on use: triggers hold no state we keep)."""
        return _trigger(self.text, self.timezone)

    def next_after(self, moment: datetime) -> datetime:
        """The first slot strictly after ``moment`` (an aware datetime), in UTC."""
        fire = next(self._fires_after(moment), None)
        if fire is None:
            raise ValueError(f"digest {self.text!r} never fires")
        return fire

    def latest_slot(self, since: datetime, now: datetime) -> datetime | None:
        """The last slot in ``(since, now]``, or None when no slot fell in it.

        ``since`` is when the schedule started counting (first loaded) or its
        last slot sent: slots from before it are never sent, and however many
        slots a stopped daemon missed, one digest covers them all. The search
        looks back from ``now`` in growing windows, so a minutely cron after
        months of downtime costs a few hundred steps, not every minute.
        """
        if now <= since:
            return None
        window = timedelta(hours=2)
        while True:
            start = max(since, now - window)
            latest = None
            for fire in self._fires_after(start):
                if fire > now:
                    break
                latest = fire
            if latest is not None or start == since:
                return latest
            window *= 8

    def _fires_after(self, moment: datetime) -> Iterator[datetime]:
        """Every slot after ``moment``, in UTC. Steps are taken in UTC (adding to a local
        time is wall-clock arithmetic, which goes back an hour on the night the clocks
        go back), and a local time that happens twice that night fires once."""
        trigger = self.trigger
        zone = zoneinfo.ZoneInfo(self.timezone)
        after = moment.astimezone(UTC)
        while True:
            fire = trigger.get_next_fire_time(None, after + timedelta(microseconds=1))
            if fire is None:
                return
            when = fire.astimezone(UTC)
            local = when.astimezone(zone)
            if local.replace(fold=0).astimezone(UTC) == when:  # not the repeated hour
                yield when
            after = when

    def describe(self) -> str:
        """``daily 08:00 (Europe/Paris)``."""
        return f"{self.text} ({self.timezone})"


def _trigger(text: str, timezone: str) -> CronTrigger:
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415 - see the imports

    words = text.split()
    if not words:
        raise ValueError("is empty (use 'hourly', 'daily 08:00', 'weekly mon 08:00' or cron)")
    head = words[0].lower()
    if head == "hourly" and len(words) == 1:
        return CronTrigger(minute=0, timezone=timezone)
    if head == "daily" and len(words) == 2:
        at = parse_clock(words[1])
        return CronTrigger(hour=at.hour, minute=at.minute, timezone=timezone)
    if head == "weekly" and len(words) == 3:
        day = DAY_NAMES.get(words[1].lower())
        if day is None:
            raise ValueError(f"{words[1]!r} is not a day (mon…sun, or monday…sunday)")
        at = parse_clock(words[2])
        return CronTrigger(day_of_week=day, hour=at.hour, minute=at.minute, timezone=timezone)
    if head in ("hourly", "daily", "weekly"):
        forms = {"hourly": "'hourly'", "daily": "'daily HH:MM'", "weekly": "'weekly DAY HH:MM'"}
        raise ValueError(f"{text!r} is not a schedule (write {forms[head]})")
    if len(words) != 5:
        raise ValueError(
            f"{text!r} is not a schedule: a cron expression has 5 fields "
            f"(minute hour day month weekday), this has {len(words)}; or use 'hourly', "
            "'daily HH:MM', 'weekly DAY HH:MM'"
        )
    try:
        return cron_trigger(text, timezone)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a cron expression ({exc})") from None


def parse_digest(text: str, timezone: str = "UTC") -> DigestSchedule:
    """A checked schedule; ValueError with a one-line reason naming the value."""
    check_timezone(timezone)
    schedule = DigestSchedule(" ".join(text.split()), timezone)
    schedule.trigger  # noqa: B018 - validates the form now, not at the first slot
    first = next(schedule._fires_after(_EPOCH), None)
    if first is None or first - _EPOCH > _NEVER:
        raise ValueError(f"{schedule.text!r} never fires (no such date, e.g. 30 February)")
    return schedule


@dataclass(frozen=True)
class QuietHours:
    """A daily window, local to ``timezone``, during which immediate alerts wait."""

    start: time
    end: time
    timezone: str

    def _local(self, moment: datetime) -> datetime:
        return moment.astimezone(zoneinfo.ZoneInfo(self.timezone))

    def _at(self, day: date, clock: time) -> datetime:
        return datetime.combine(day, clock, tzinfo=zoneinfo.ZoneInfo(self.timezone))

    def is_quiet(self, moment: datetime) -> bool:
        """Whether ``moment`` falls inside the window (its end is exclusive)."""
        now = self._local(moment).time().replace(second=0, microsecond=0, tzinfo=None)
        if self.start < self.end:
            return self.start <= now < self.end
        return now >= self.start or now < self.end

    def ends_at(self, moment: datetime) -> datetime:
        """When the quiet window holding ``moment`` ends (``moment`` itself if not quiet)."""
        if not self.is_quiet(moment):
            return moment
        local = self._local(moment)
        day = local.date()
        if self.start > self.end and local.time().replace(tzinfo=None) >= self.start:
            day += timedelta(days=1)  # the window crossed midnight: it ends tomorrow
        end = self._at(day, self.end)
        # A window ending in a skipped hour (spring forward) ends when the clock jumps.
        return max(end, moment)

    def describe(self) -> str:
        """``20:00-08:00 (Europe/Paris)``."""
        return f"{self.start:%H:%M}-{self.end:%H:%M} ({self.timezone})"


def parse_quiet_hours(text: str, timezone: str = "UTC") -> QuietHours:
    """``HH:MM-HH:MM`` -> QuietHours; ValueError naming the value otherwise."""
    check_timezone(timezone)
    start_text, sep, end_text = text.partition("-")
    if not sep:
        raise ValueError(f"{text!r} is not a quiet window (write HH:MM-HH:MM, e.g. 20:00-08:00)")
    start, end = parse_clock(start_text), parse_clock(end_text)
    if start == end:
        raise ValueError(f"{text!r} starts and ends at the same time (nothing would be sent)")
    return QuietHours(start, end, timezone)


def check_level(text: str) -> str:
    """An event level name (``urgent``), or ValueError naming the choices."""
    return Level.parse(text).value
