"""Schedules: crontab weekdays, time zones, and health measured against the calendar."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger

from tests.conftest import daemon_for, finished_run, run_cli, write_config
from watcher.config import ScheduleConfig
from watcher.config.crontab import crontab_weekdays
from watcher.daemon.health import expected_interval, health_problem
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, seed_study


def test_cron_schedule_with_timezone(tmp_path: Path, registry: RegistryDouble) -> None:
    daemon = daemon_for(
        write_config(
            tmp_path,
            registry.url,
            [SEED_NCT],
            extra='[schedule]\ncron = "30 14 * * 1-5"\ntimezone = "America/New_York"\n',
        )
    )
    trigger = {job.id: job for job in daemon.scheduler.get_jobs()}["cycle"].trigger
    assert isinstance(trigger, CronTrigger)
    assert str(trigger.timezone) == "America/New_York"
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["minute"], fields["hour"], fields["day_of_week"]) == (
        "30",
        "14",
        "mon,tue,wed,thu,fri",
    )
    assert expected_interval(daemon.config.schedule) in (86400.0, 3 * 86400.0, 82800.0, 90000.0)
    monday = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    fires, moment = [], monday
    for _ in range(6):
        moment = trigger.get_next_fire_time(None, moment)
        fires.append(moment.strftime("%a"))
        moment += timedelta(minutes=1)
    assert fires == ["Mon", "Tue", "Wed", "Thu", "Fri", "Mon"]  # crontab 1-5, not APScheduler's
    daemon.app.close()


@pytest.mark.parametrize(
    ("field", "names"),
    [
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("mon-fri", "mon-fri"),
        ("*", "*"),
    ],
)
def test_crontab_weekdays(field: str, names: str) -> None:
    assert crontab_weekdays(field) == names


@pytest.mark.parametrize(
    ("cron", "finished", "now", "healthy"),
    [
        (
            "30 14 * * 1-5",
            "2026-11-20T14:31:00Z",
            datetime(2026, 11, 22, 20, 0, tzinfo=UTC),
            True,
        ),  # Friday run, Sunday evening
        (
            "30 14 * * 1-5",
            "2026-11-20T14:31:00Z",
            datetime(2026, 11, 24, 14, 40, tzinfo=UTC),
            False,
        ),  # Monday and Tuesday missed
        ("30 14 * * 1-5", "2026-11-23T14:31:00Z", datetime(2026, 11, 24, 15, 0, tzinfo=UTC), True),
    ],
)
def test_health_follows_the_cron_calendar(
    cron: str, finished: str, now: datetime, healthy: bool
) -> None:
    schedule = ScheduleConfig(cron=cron)
    problem = health_problem(schedule, finished_run(finished), now)
    assert (problem is None) is healthy, problem


def test_health(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT], extra='[schedule]\nevery = "1h"\n')
    missing = run_cli(config, "health")
    assert missing.exit_code == 1 and "no database yet" in missing.stderr
    assert run_cli(config, "check").exit_code == 0
    healthy = run_cli(config, "health")
    assert healthy.exit_code == 0 and healthy.stdout.startswith("healthy: last cycle finished at")
    db = tmp_path / "ctwatch.db"
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE runs SET finished_at = '2026-01-01T00:00:00Z'")
    stale = run_cli(config, "health")
    assert stale.exit_code == 1
    assert (
        "the last cycle finished at 2026-01-01T00:00:00Z; the next was due at 2026-01-01T01:00:00Z"
        in stale.stderr
    )
    registry.fail_next(503, "down", times=10)
    run_cli(config, "check")
    failed = run_cli(config, "health")
    assert failed.exit_code == 1 and "failed: registry answered HTTP 503" in failed.stderr
