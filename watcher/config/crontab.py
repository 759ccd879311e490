"""Standard crontab expressions -> APScheduler 3 CronTrigger, weekdays done right.

Why: APScheduler 3.x numbers weekdays from Monday = 0, while crontab numbers them
from Sunday = 0 (and accepts 7 for Sunday). ``CronTrigger.from_crontab("30 14 * *
1-5")`` therefore fires Tuesday to Saturday. Users write crontab, so numeric
weekdays are translated to names before APScheduler sees them.

It lives with the config because the config validates ``schedule.cron`` with
it; the daemon builds its trigger from the same function. A CronTrigger is a
pure value (fire-time arithmetic), so nothing here touches the outside world.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # APScheduler loads only for a config that has a cron schedule
    from apscheduler.triggers.cron import CronTrigger

_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_part(part: str) -> list[str]:
    body, _, step_text = part.partition("/")
    step = int(step_text) if step_text else 1
    if body == "*":
        first, last = 0, 6
    elif "-" in body:
        start, end = body.split("-", 1)
        first, last = int(start), int(end)
    else:
        first = last = int(body)
        if step_text:
            last = 6
    if not (0 <= first <= 7 and 0 <= last <= 7) or step < 1 or first > last:
        raise ValueError(f"bad day-of-week value {part!r}")
    return [_DAYS[day % 7] for day in range(first, last + 1, step)]


def crontab_weekdays(field: str) -> str:
    """Crontab day-of-week field -> APScheduler names (``1-5`` -> ``mon,...,fri``)."""
    if field == "*" or not any(ch.isdigit() for ch in field):
        return field
    days: list[str] = []
    for part in field.split(","):
        names = [part] if not any(ch.isdigit() for ch in part) else _weekday_part(part)
        days.extend(d for d in names if d not in days)
    return ",".join(days)


def cron_trigger(expr: str, timezone: str) -> CronTrigger:
    """A CronTrigger for a 5-field crontab expression; ValueError when invalid."""
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields, got {len(fields)}")
    from apscheduler.triggers.cron import CronTrigger  # noqa: PLC0415

    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=crontab_weekdays(weekday),
        timezone=timezone,
    )
