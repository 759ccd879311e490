"""`ctwatch run`: scheduler wiring, live reload, signals, logging, health, Docker, demo."""

from __future__ import annotations

import io
import json
import logging
import queue
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import run_cli, write_config
from watcher.app import App
from watcher.cli import main
from watcher.config import Config, ScheduleConfig, load_config
from watcher.crontab import crontab_weekdays
from watcher.logs import SecretMask
from watcher.pipeline import Interrupted
from watcher.registry_double import RegistryDouble
from watcher.samples import SEED_NCT, changed, make_study, seed_study
from watcher.scheduler import ConfigSource, Daemon, expected_interval, health_problem

REPO = Path(__file__).resolve().parents[1]
OTHER = "NCT01234567"


def daemon_for(path: Path) -> Daemon:
    source = ConfigSource(path)
    config = source.read_if_changed()
    assert config is not None

    def build(cfg: Config, sleep: Callable[[float], None]) -> App:
        return App.build(cfg, out=io.StringIO(), sleep=sleep)

    return Daemon(source, config, build)


def test_scheduler_jobs_and_defaults(tmp_path: Path, registry: RegistryDouble) -> None:
    daemon = daemon_for(
        write_config(
            tmp_path, registry.url, [SEED_NCT], extra='[schedule]\nevery = "30m"\njitter = "90s"\n'
        )
    )
    jobs = {job.id: job for job in daemon.scheduler.get_jobs()}
    assert set(jobs) == {"cycle", "deliver"}
    cycle = jobs["cycle"]
    assert isinstance(cycle.trigger, IntervalTrigger)
    assert cycle.trigger.interval == timedelta(minutes=30) and cycle.trigger.jitter == 90
    assert cycle.next_run_time is not None  # one check at start
    assert cycle.coalesce is True and cycle.max_instances == 1
    assert isinstance(jobs["deliver"].trigger, IntervalTrigger)
    assert jobs["deliver"].trigger.interval == timedelta(seconds=60)
    assert daemon.scheduler.running is False
    daemon.app.close()


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


def test_reload_valid_and_invalid_edits(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, registry.url, [SEED_NCT])
    daemon = daemon_for(path)
    assert daemon.reload() is False  # unchanged file
    text = path.read_text()
    path.write_text(
        text.replace(f'trials = ["{SEED_NCT}"]', f'trials = ["{SEED_NCT}", "{OTHER}"]')
        + '\n[schedule]\nevery = "2h"\n'
    )
    assert daemon.reload() is True
    assert daemon.config.trials == (SEED_NCT, OTHER)
    trigger = daemon.scheduler.get_job("cycle").trigger
    assert trigger.interval == timedelta(hours=2)
    good_app = daemon.app
    path.write_text(text.replace(f'"{SEED_NCT}"', '"NCT123"'))
    with caplog.at_level(logging.ERROR, logger="watcher"):
        assert daemon.reload() is False
    assert daemon.config.trials == (SEED_NCT, OTHER)  # still the last good config
    assert daemon.app is good_app
    assert "config reload failed, keeping the last good config" in caplog.text
    assert "'NCT123' is not an NCT ID" in caplog.text
    daemon.app.close()


def test_cycle_logs_one_line(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    registry.put(seed_study())
    daemon = daemon_for(write_config(tmp_path, registry.url, [SEED_NCT]))
    with caplog.at_level(logging.INFO, logger="watcher"):
        daemon.run_cycle()
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cycle:")]
    assert len(lines) == 1
    assert re.fullmatch(
        r"cycle: checked 1, changed 0, new 1, not found 0, errors 0; alerts sent 0, pending 0, failed 0; registry requests 1; \d+\.\ds",
        lines[0],
    )
    daemon.app.close()


def test_stop_before_a_cycle_records_nothing(tmp_path: Path, registry: RegistryDouble) -> None:
    for i in range(3):
        registry.put(make_study(f"NCT0000000{i}", "t"))
    daemon = daemon_for(write_config(tmp_path, registry.url, [f"NCT0000000{i}" for i in range(3)]))
    daemon.stop_event.set()
    daemon.run_cycle()  # returns at once, records nothing
    assert daemon.app.store.trials() == []
    daemon.app.close()


def test_stop_interrupts_a_cycle_between_trials(tmp_path: Path, registry: RegistryDouble) -> None:
    trials = [f"NCT0000000{i}" for i in range(3)]
    for nct in trials:
        registry.put(make_study(nct, "t"))
    config = load_config(write_config(tmp_path, registry.url, trials), {})
    app = App.build(config, out=io.StringIO())
    answers = iter([False, True])  # let one trial through, then stop
    with pytest.raises(Interrupted):
        app.pipeline.run_cycle(config.trials, {}, lambda: next(answers, True))
    assert len(app.store.trials()) == 1  # the first trial is whole, the others untouched
    last = app.store.last_run()
    assert last is not None and last["error"] == "interrupted by shutdown" and last["finished_at"]
    app.close()


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
    problem = health_problem(schedule, {"finished_at": finished, "error": None}, now)
    assert (problem is None) is healthy, problem


def test_secret_mask_and_json_logs(tmp_path: Path, registry: RegistryDouble) -> None:
    record = logging.LogRecord(
        "watcher.x", logging.ERROR, __file__, 1, "token %s leaked", ("xoxb-123-abc",), None
    )
    mask = SecretMask(["xoxb-123-abc"])
    assert mask.filter(record)
    assert record.getMessage() == "token *** leaked"
    mask.update(["xoxb-new-token"])  # after a reload with a new token
    fresh = logging.LogRecord(
        "watcher.x", logging.ERROR, __file__, 1, "%s", ("xoxb-new-token",), None
    )
    mask.filter(fresh)
    assert fresh.getMessage() == "***"
    registry.put(seed_study())
    registry.fail_next(503, "busy")
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    result = run_cli(config, "--log-format", "json", "--log-level", "info", "check")
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any("retry 1" in e["message"] for e in entries)


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


def test_demo_runs_offline() -> None:
    result = run_cli(None, "demo", "--no-pause")
    assert result.exit_code == 0
    out = result.stdout
    assert "checked 3 · changed 0 · new 3" in out
    assert "NCT06850103 — SCRT-CAPEOX-Serplulimab" in out
    assert "  Overall Status: Recruiting → Active, not recruiting" in out
    assert "  Why Stopped: (none) → Abandon of the partner, ROCHE" in out
    assert "  Status Verified Date: 2025-10 → 2026-01" in out
    assert "(registry requests this check: 2)" in out  # probe + one batch
    assert "(registry requests this check: 1)" in out  # probe only: nothing new
    assert "checked 3 · changed 3 · new 0 · not found 0 · errors 0 · alerts sent 3" in out
    assert "ctwatch status" in out and "Terminated" in out and "Alerts: 3 sent" in out


def test_dockerfile_matches_the_docs() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER ctwatch$", text, re.M) and "useradd" in text
    assert "VOLUME /data" in text
    assert 'ENTRYPOINT ["ctwatch"]' in text and 'CMD ["run"]' in text
    assert 'CMD ["ctwatch", "health"]' in text
    assert "CTWATCH_CONFIG=/config/ctwatch.toml" in text
    assert "pip install ." in text
    assert {"run", "health"} <= set(main.commands)  # what the image runs exists
    readme = (REPO / "README.md").read_text()
    assert "-v ctwatch-data:/data" in readme and '-v "$PWD/config:/config:ro"' in readme


def test_example_config_in_the_image_puts_the_database_on_the_volume(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "ctwatch.toml").write_text((REPO / "config" / "ctwatch.toml").read_text())
    config = load_config(folder / "ctwatch.toml", {})
    assert config.database.path == str(tmp_path / "data" / "ctwatch.db")  # /config/.. -> /data


def test_daemon_end_to_end_with_reload_and_sigterm(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = write_config(tmp_path, registry.url, [SEED_NCT], extra='[schedule]\nevery = "1s"\n')
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "--log-level", "info", "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()  # type: ignore[union-attr]
    try:
        assert registry.wait_for_request(lambda r: r.path.endswith("/studies"), timeout=20), (
            "no baseline fetch"
        )
        registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
        seen = ""
        deadline = time.monotonic() + 20
        while "Overall Status: Recruiting → Suspended" not in seen and time.monotonic() < deadline:
            try:
                seen += lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                break
        assert "Overall Status: Recruiting → Suspended" in seen, seen

        config.write_text(
            config.read_text().replace(
                f'trials = ["{SEED_NCT}"]', f'trials = ["{SEED_NCT}", "{OTHER}"]'
            )
        )
        fetched = registry.wait_for_request(
            lambda r: OTHER in r.params.get("filter.ids", ""), timeout=20
        )
        assert fetched, "added trial never fetched"
        # the next cycle's request proves the one that fetched it has finished
        count = len(registry.requests)
        assert registry.wait_for_request(lambda r: True, timeout=20, start=count)

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr = proc.stderr.read()  # type: ignore[union-attr]
    assert "config reloaded: 1 watch(es), 2 trial(s)" in stderr
    assert "cycle: checked" in stderr and "ctwatch stopped" in stderr
    assert "Traceback" not in stderr
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert (
            conn.execute("SELECT COUNT(*) FROM runs WHERE finished_at IS NULL").fetchone()[0] == 0
        )
        assert (
            conn.execute("SELECT COUNT(*) FROM versions WHERE nct_id = ?", [OTHER]).fetchone()[0]
            == 1
        )


def test_sigterm_during_a_hanging_request_still_exits_promptly(tmp_path: Path) -> None:
    """A registry that accepts and never answers must not hold a stop for its time-out."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/api/v2"
        config = write_config(tmp_path, url, [SEED_NCT])
        config.write_text(config.read_text().replace("retries = 2", 'retries = 2\ntimeout = "60s"'))
        proc = subprocess.Popen(
            [sys.executable, "-m", "watcher", "--config", str(config), "run"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        try:
            silent.settimeout(20)
            connection, _ = silent.accept()  # the cycle's request is now in flight
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
            assert time.monotonic() - started < 10  # STOP_GRACE, not the 60 s time-out
            connection.close()
        finally:
            if proc.poll() is None:
                proc.kill()
    assert "stopping anyway" in proc.stderr.read()  # type: ignore[union-attr]
