"""Is the daemon healthy? The answer ``ctwatch health`` gives Docker and monitors.

Healthy means the last cycle succeeded and no scheduled cycle is overdue by
more than one interval. For cron schedules the gap is measured from the first
fire time after the last cycle, so a weekday schedule is not unhealthy over
the weekend.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from watcher.config import Config, ScheduleConfig, serving
from watcher.config.crontab import cron_trigger
from watcher.store import RunRecord, ServiceState, Store
from watcher.store.service_state import SOCKET_MODE
from watcher.timeutil import iso, parse_iso

SOCKET_DOWN_GRACE = timedelta(minutes=2)
"""A Socket Mode connection down this long is unhealthy (reconnects take seconds)."""
SOCKET_STALE = timedelta(minutes=5)
"""No process has reported on the connection for this long: nobody holds it."""


def service_health(config: Config, store: Store, now: datetime) -> str | None:
    """Why ``ctwatch health`` (and ``/healthz``) should say unhealthy, or None."""
    problem = health_problem(config.schedule, store.runs.last(), now)
    if problem is None and serving(config).socket_mode:
        problem = socket_problem(store.service_state.get(SOCKET_MODE), now)
    return problem


def socket_problem(state: ServiceState | None, now: datetime) -> str | None:
    """Why the Slack Socket Mode connection looks unhealthy, or None."""
    if state is None:
        return "Slack Socket Mode has not connected yet (is ctwatch run or serve running?)"
    if now - parse_iso(state.checked_at) > SOCKET_STALE:
        return (
            f"no ctwatch process has reported on the Slack Socket Mode connection since "
            f"{state.checked_at} (is ctwatch run or serve running?)"
        )
    if not state.up and now - parse_iso(state.since) > SOCKET_DOWN_GRACE:
        why = f": {state.detail}" if state.detail else ""
        return f"the Slack Socket Mode connection has been down since {state.since}{why}"
    return None


def health_problem(schedule: ScheduleConfig, last: RunRecord | None, now: datetime) -> str | None:
    """Why the daemon looks unhealthy, or None.

    Healthy means the last cycle succeeded and no scheduled cycle is overdue by
    more than one interval: for ``every`` that is "finished within twice the
    interval"; for cron the gap is measured from the first fire time after the
    last cycle, so a weekday schedule is not unhealthy over the weekend.
    """
    if last is None or not last.finished_at:
        return "no cycle has finished yet"
    if last.error:
        return f"the last cycle ({last.finished_at}) failed: {last.error}"
    finished = parse_iso(last.finished_at)
    if schedule.cron is None:
        interval = float(schedule.interval_seconds or 0)
        due = finished + timedelta(seconds=interval)
    else:
        trigger = cron_trigger(schedule.cron, schedule.timezone)
        due = trigger.get_next_fire_time(None, finished)
        interval = expected_interval(schedule, due)
    deadline = due + timedelta(seconds=interval)
    if now > deadline:
        return (
            f"the last cycle finished at {last.finished_at}; the next was due at "
            f"{iso(due)} and none has finished by {iso(deadline)}"
        )
    return None


def expected_interval(schedule: ScheduleConfig, now: datetime | None = None) -> float:
    """Seconds between two scheduled cycles (for cron: the next two fire times)."""
    if schedule.cron is None:
        return float(schedule.interval_seconds or 0)
    trigger = cron_trigger(schedule.cron, schedule.timezone)
    moment = now or datetime.now(UTC)
    first: Any = trigger.get_next_fire_time(None, moment)
    second: Any = trigger.get_next_fire_time(first, first)
    return float((second - first).total_seconds())
