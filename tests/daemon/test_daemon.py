"""`ctwatch run`: scheduler wiring, live reload, signals, logging, health, Docker, demo."""

from __future__ import annotations

import io
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
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.interval import IntervalTrigger

from tests.conftest import daemon_for, write_config
from watcher.alerts.routing import build_routes
from watcher.app import App
from watcher.config import load_config
from watcher.cycle.report import Interrupted
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

OTHER = "NCT01234567"


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
    assert daemon.app.store.versions.trials() == []
    daemon.app.close()


STOP_BEFORE_START = """
import io, signal, sys
from pathlib import Path
from watcher.app import App
from watcher.daemon.scheduler import ConfigSource, Daemon

source = ConfigSource(Path(sys.argv[1]))
config = source.read_if_changed()
daemon = Daemon(source, config, lambda c, sleep: App.build(c, out=io.StringIO(), sleep=sleep))
daemon.post_signal(signal.SIGTERM, None)  # returns at once: nothing has started yet
daemon.run()  # would block until the next signal if the stop were lost
print("stopped", daemon.stop_event.is_set(), daemon.scheduler.running)
"""


def test_a_stop_that_lands_before_the_scheduler_starts_still_ends_run(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """The handler only posts the signal (it may interrupt the main thread while that
    holds a lock the scheduler's shutdown needs); the stop waits for the start.

    In its own process: run() installs signal handlers and may leave with os._exit."""
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    proc = subprocess.Popen(
        [sys.executable, "-c", STOP_BEFORE_START, str(config)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert out == "stopped True False\n"


def test_stop_interrupts_a_cycle_between_trials(tmp_path: Path, registry: RegistryDouble) -> None:
    trials = [f"NCT0000000{i}" for i in range(3)]
    for nct in trials:
        registry.put(make_study(nct, "t"))
    config = load_config(write_config(tmp_path, registry.url, trials), {})
    app = App.build(config, out=io.StringIO())
    answers = iter([False, True])  # let one trial through, then stop
    with pytest.raises(Interrupted):
        app.pipeline.run_cycle(config.trials, build_routes(config), lambda: next(answers, True))
    assert len(app.store.versions.trials()) == 1  # the first trial is whole, the others untouched
    last = app.store.runs.last()
    assert last is not None and last.error == "interrupted by shutdown" and last.finished_at
    app.close()


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
    stdout = proc.stdout
    assert stdout is not None

    def pump() -> None:
        for line in stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
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
    assert "config reloaded: 1 watch, 2 trials" in stderr
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
