"""The daemon's jobs end in one log line, never an APScheduler traceback."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import daemon_for, write_config
from watcher.alerts.delivery import DeliveryReport
from watcher.app import App
from watcher.config import Config
from watcher.cycle.backfill import QueueReport
from watcher.cycle.report import CycleReport
from watcher.daemon.scheduler import ConfigSource, Daemon
from watcher.store import StoreError
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, seed_study


class CountingFails:
    """A real App whose outbox cannot be counted (the database went away between the
    cycle and the count): the Runtime protocol, with one call failing as SQLite does."""

    def __init__(self, app: App) -> None:
        self.app = app

    def check(self, *, force: bool = True, full: bool = False,
              should_stop: Callable[[], bool] = lambda: False,
              wait: float | None = None) -> tuple[CycleReport, DeliveryReport]:  # fmt: skip
        return self.app.check(force=force, full=full, should_stop=should_stop, wait=wait)

    def deliver(self, wait: float | None = None) -> DeliveryReport:
        return self.app.deliver(wait)

    def backfill_queued(self, should_stop: Callable[[], bool], wait: float = 0) -> QueueReport:
        return self.app.backfill_queued(should_stop, wait)

    def outbox_counts(self) -> dict[str, int]:
        raise StoreError("the database file is unreadable: disk I/O error")

    def close(self) -> None:
        self.app.close()


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_outbox_counting_that_fails_is_one_line(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    registry.put(seed_study())
    path = write_config(tmp_path, registry.url, [SEED_NCT])
    source = ConfigSource(path)
    config = source.read_if_changed()
    assert config is not None

    def build(cfg: Config, sleep: Callable[[float], None]) -> CountingFails:
        return CountingFails(App.build(cfg, out=io.StringIO(), sleep=sleep))

    daemon = Daemon(source, config, build)
    try:
        with caplog.at_level(logging.INFO, logger="watcher"):
            daemon.run_cycle()  # what the scheduler's job runs: it must not raise
    finally:
        daemon.app.close()
    (line,) = errors(caplog)
    assert line.getMessage() == (
        "the outbox could not be counted: the database file is unreadable: disk I/O error"
    )
    assert line.exc_info is None
    assert "pending ?, failed ?" in caplog.text  # the cycle's own line still comes


def test_a_reload_whose_app_cannot_be_built_keeps_the_last_good_one(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_config(tmp_path, registry.url, [SEED_NCT])
    daemon = daemon_for(path)
    good = daemon.app
    (tmp_path / "blocker").write_text("a file where a folder should be")
    path.write_text(path.read_text().replace('path = "ctwatch.db"', 'path = "blocker/ctwatch.db"'))
    try:
        with caplog.at_level(logging.INFO, logger="watcher"):
            assert daemon.reload() is False  # valid config, but its database cannot be opened
        assert daemon.app is good and daemon.config.database.path.endswith("/ctwatch.db")
        assert "blocker" not in daemon.config.database.path
    finally:
        daemon.app.close()
    (line,) = errors(caplog)
    assert line.getMessage().startswith("config reload failed (")
    assert line.getMessage().endswith("), keeping the last good config")
    assert "\n" not in line.getMessage() and line.exc_info is None
