"""`registry.backfill`: newly watched trials are queued and the daemon imports them."""

from __future__ import annotations

import io
import logging
import sqlite3
import threading
from pathlib import Path

import pytest

from tests.conftest import daemon_for, run_cli, write_config
from tests.support.histories import SampleHistory, seed_history
from watcher.app import App
from watcher.config import load_config
from watcher.cycle.backfill import QueueReport
from watcher.testing.registry_double import RegistryDouble

NCT = "NCT06850103"
TWIN = "NCT01234567"


def serve(registry: RegistryDouble, *samples: SampleHistory) -> None:
    for sample in samples:
        registry.put(sample.current)
        registry.history.set(sample.nct_id, sample.versions)


def queue_config(tmp_path: Path, registry: RegistryDouble, per_cycle: int | None) -> Path:
    path = write_config(tmp_path, registry.url, [NCT, TWIN])
    if per_cycle is not None:
        keys = f"incremental = false\nbackfill = true\nbackfill_per_cycle = {per_cycle}"
        path.write_text(path.read_text().replace("incremental = false", keys))
    return path


def queued(tmp_path: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute(
            "SELECT nct_id, attempts FROM backfill_queue ORDER BY nct_id"
        ).fetchall()


def history_requests(registry: RegistryDouble, start: int = 0) -> int:
    return sum(r.path.startswith("/api/int/") for r in registry.requests[start:])


def test_off_by_default_nothing_is_queued_or_fetched(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    daemon = daemon_for(queue_config(tmp_path, registry, None))
    daemon.run_cycle()
    daemon.app.close()
    assert queued(tmp_path) == [] and history_requests(registry) == 0


def test_the_queue_is_worked_within_the_request_budget(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    daemon = daemon_for(queue_config(tmp_path, registry, 5))
    with caplog.at_level(logging.INFO, logger="watcher"):
        daemon.run_cycle()  # baselines queue both; TWIN costs 4 requests, NCT needs 4 more
    assert history_requests(registry) == 5
    assert queued(tmp_path) == [(NCT, 0)]
    assert (
        "history: 1 trial imported (3 versions), 0 unavailable, 1 still queued; "
        "registry requests 5" in caplog.text
    )
    start = len(registry.requests)
    daemon.run_cycle()
    assert history_requests(registry, start) == 4 and queued(tmp_path) == []
    start = len(registry.requests)
    daemon.run_cycle()  # nothing left: no history request at all
    assert history_requests(registry, start) == 0
    numbers = [v.registry_version for v in daemon.app.store.versions.history(NCT)]
    assert numbers == [4, 3, 2, 1]
    last = daemon.app.store.runs.last()
    assert last is not None and last.complete  # the cycles themselves never noticed
    daemon.app.close()


def test_an_unavailable_history_waits_a_day_and_never_fails_a_cycle(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    registry.history.break_for(TWIN, "403")
    daemon = daemon_for(queue_config(tmp_path, registry, 300))
    daemon.run_cycle()
    assert queued(tmp_path) == [(TWIN, 1)]
    assert daemon.app.store.histories.due("9999-01-01T00:00:00Z", 10) == [TWIN]
    start = len(registry.requests)
    daemon.run_cycle()  # not due before tomorrow: no request for it
    assert history_requests(registry, start) == 0
    last = daemon.app.store.runs.last()
    assert last is not None and last.complete and last.error is None
    daemon.app.close()


def test_a_shutdown_interrupts_the_import_between_two_versions(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    daemon = daemon_for(queue_config(tmp_path, registry, 300))

    def stop_now(params: object) -> bool:
        daemon.stop_event.set()  # SIGTERM arrives while the first version is being read
        return False

    registry.fail_next(500, when=stop_now, path_prefix=f"/api/int/studies/{TWIN}/history/0")
    with caplog.at_level(logging.INFO, logger="watcher"):
        daemon.run_cycle()
    assert "history import interrupted by shutdown" in caplog.text
    assert queued(tmp_path) == [(TWIN, 0), (NCT, 0)]  # nothing imported, both still queued
    assert [v.source for v in daemon.app.store.versions.history(TWIN)] == ["observed"]
    daemon.app.close()


def test_a_trial_that_needs_more_than_a_round_is_set_aside(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    daemon = daemon_for(queue_config(tmp_path, registry, 3))  # each trial needs 4 requests
    daemon.run_cycle()
    assert queued(tmp_path) == [(TWIN, 1), (NCT, 1)]
    assert history_requests(registry) == 2  # one version list each, no version
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        (error,) = conn.execute(
            "SELECT last_error FROM backfill_queue WHERE nct_id = ?", [NCT]
        ).fetchone()
    assert error == (
        "its import takes 4 requests, more than registry.backfill_per_cycle (3); "
        f"run `ctwatch backfill {NCT}`"
    )
    daemon.app.close()


def test_a_slow_history_never_holds_the_lock_a_check_needs(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history(), seed_history(TWIN))
    config = queue_config(tmp_path, registry, 300)
    assert run_cli(config, "check").exit_code == 0  # baselines: both queued
    arrived, release = threading.Event(), threading.Event()

    def hang(params: object) -> bool:  # the history endpoint stalls on a version
        arrived.set()
        release.wait(20)
        return False  # then answers normally

    registry.fail_next(500, when=hang, path_prefix=f"/api/int/studies/{TWIN}/history/1")
    reports: list[QueueReport] = []

    def daemon_round() -> None:
        app = App.build(load_config(config, {}), out=io.StringIO())
        try:
            # its writes may meet the check's lock: they wait (the daemon would skip the round)
            reports.append(app.backfill_queued(lambda: False, wait=20))
        finally:
            app.close()

    worker = threading.Thread(target=daemon_round)
    worker.start()
    try:
        assert arrived.wait(20)
        # the check takes the lock first thing; the double answers it once the stall ends
        threading.Timer(1.0, release.set).start()
        check = run_cli(config, "check", "--wait", "0")  # while the import waits on the network
    finally:
        release.set()
        worker.join(30)
    assert check.exit_code == 0, check.stderr
    assert len(reports[0].imported) == 2 and queued(tmp_path) == []  # then both imported
