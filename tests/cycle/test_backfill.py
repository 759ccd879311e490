"""`ctwatch backfill` end to end against the registry double's history endpoints."""

from __future__ import annotations

import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.histories import SampleHistory, next_version, publish, seed_history
from watcher.app import App
from watcher.config import load_config
from watcher.cycle.backfill import Backfiller
from watcher.store.lock import ProcessLock
from watcher.testing.registry_double import RecordedRequest, RegistryDouble
from watcher.testing.registry_history import Breakage

NCT = "NCT06850103"
TWIN = "NCT01234567"
QUIET = "checked 1 · changed 0 · new 0 · not found 0 · errors 0 · alerts sent 0\n"


def serve(registry: RegistryDouble, sample: SampleHistory) -> None:
    registry.put(sample.current)
    registry.history.set(sample.nct_id, sample.versions)


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def history_calls(registry: RegistryDouble, start: int = 0) -> list[RecordedRequest]:
    return [r for r in registry.requests[start:] if r.path.startswith("/api/int/")]


def test_backfill_after_a_baseline_then_checks_alert_only_on_real_changes(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = seed_history()
    serve(registry, sample)
    config = write_config(tmp_path, registry.url, [NCT])
    db = tmp_path / "ctwatch.db"
    assert run_cli(config, "check").exit_code == 0  # the baseline

    result = run_cli(config, "backfill", NCT)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        f"{NCT}: 3 registry versions imported (1–3); ctwatch's own version numbered 4\n"
    )
    calls = history_calls(registry)
    assert [r.path for r in calls] == [f"/api/int/studies/{NCT}/history"] + [
        f"/api/int/studies/{NCT}/history/{v}" for v in (0, 1, 2)
    ]
    assert all(r.params == {} for r in calls)  # no search parameters: no <mark> highlighting
    assert rows(db, "SELECT position, registry_version, source FROM versions ORDER BY id") == [
        (4, 4, "observed"), (1, 1, "registry"), (2, 2, "registry"), (3, 3, "registry"),
    ]  # fmt: skip
    assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]  # imports never alert

    # the next check compares with what ctwatch observed last, not with an import
    assert run_cli(config, "check").stdout == QUIET

    # the registry publishes version 5: one alert, linked to the exact comparison
    start = len(registry.requests)
    publish(registry, next_version(sample.current, "2026-01-14", status="ACTIVE_NOT_RECRUITING"))
    alert = run_cli(config, "check")
    assert alert.exit_code == 0, alert.stderr
    assert "  Overall Status: Recruiting → Active, not recruiting\n" in alert.stdout
    url = f"https://clinicaltrials.gov/study/{NCT}?tab=history&a=4&b=5#version-content-panel"
    assert f"  {url}\n" in alert.stdout
    assert "Eligibility" not in alert.stdout  # HTML vs Markdown is not a change
    assert [r.path for r in history_calls(registry, start)] == [f"/api/int/studies/{NCT}/history"]
    assert alert.stdout.endswith("changed 1 · new 0 · not found 0 · errors 0 · alerts sent 1\n")

    # a re-run imports nothing and costs one request
    start = len(registry.requests)
    again = run_cli(config, "backfill", NCT)
    assert again.stdout == f"{NCT}: complete, nothing to import (5 registry versions)\n"
    assert len(registry.requests) - start == 1


def test_backfill_of_a_trial_never_checked_then_its_silent_baseline(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = seed_history()
    serve(registry, sample)
    config = write_config(tmp_path, registry.url, [NCT])
    result = run_cli(config, "backfill", "nct06850103")
    assert result.stdout == f"{NCT}: 4 registry versions imported (1–4)\n"
    status = json.loads(run_cli(config, "status", "--json").stdout)["trials"][0]
    assert status["title"].startswith("SCRT-CAPEOX") and status["last_checked_at"] is None

    first = run_cli(config, "check")
    assert (
        first.stdout == "checked 1 · changed 0 · new 1 · not found 0 · errors 0 · alerts sent 0\n"
    )
    versions = json.loads(run_cli(config, "history", NCT, "--json", "--oldest-first").stdout)
    assert [(v["number"], v["registry_version"], v["source"]) for v in versions] == [
        (None, 1, "imported"), (None, 2, "imported"), (None, 3, "imported"),
        (None, 4, "imported"), (1, 4, "observed"),
    ]  # fmt: skip
    assert versions[-1]["changes"] == []  # the registry's HTML copy and today's record agree

    publish(registry, next_version(sample.current, "2026-02-02", why_stopped="Funding"))
    second = run_cli(config, "check")
    assert "  Why Stopped: (none) → Funding\n" in second.stdout
    assert "?tab=history&a=4&b=5#version-content-panel" in second.stdout


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("403", "HTTP 403 from "),
        ("404", "HTTP 404 from "),
        ("html", "registry answered 200 with text/html, not JSON, from "),
        ("truncated", "registry answered with a truncated or invalid JSON body, from "),
        ("shape", "unexpected answer from "),
    ],
)
def test_an_unavailable_history_is_one_line_stores_nothing_and_check_goes_on(
    tmp_path: Path, registry: RegistryDouble, how: Breakage, reason: str
) -> None:
    sample = seed_history()
    serve(registry, sample)
    registry.history.break_for(NCT, how)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    result = run_cli(config, "backfill", NCT)
    assert result.exit_code == 1
    (line,) = result.stdout.splitlines()
    assert line.startswith(f"{NCT}: registry history not available (") and reason in line
    assert line.endswith(f"/api/int/studies/{NCT}/history)") or how == "shape"
    assert "ctwatch: 1 of 1 trial histories could not be read" in result.stderr
    assert "Traceback" not in result.stderr
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM versions") == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM histories") == [(0,)]
    assert run_cli(config, "check").stdout == QUIET


def test_readable_trials_are_imported_when_another_is_not(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history())
    serve(registry, seed_history(TWIN))
    registry.history.break_for(TWIN, "404")
    config = write_config(tmp_path, registry.url, [NCT, TWIN])
    result = run_cli(config, "backfill", "--all")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == f"{NCT}: 4 registry versions imported (1–4)"
    assert result.stdout.splitlines()[1].startswith(f"{TWIN}: registry history not available")
    registry.history.heal(TWIN)
    healed = run_cli(config, "backfill", "--watch", "test")
    assert healed.exit_code == 0
    assert healed.stdout.splitlines() == [
        f"{NCT}: complete, nothing to import (4 registry versions)",
        f"{TWIN}: 4 registry versions imported (1–4)",
    ]


def test_a_version_that_cannot_be_read_stores_nothing_for_its_trial(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history())
    config = write_config(tmp_path, registry.url, [NCT])
    registry.fail_next(404, "gone", path_prefix=f"/api/int/studies/{NCT}/history/2")
    result = run_cli(config, "backfill", NCT)
    assert result.exit_code == 1
    assert "HTTP 404 from http://127.0.0.1:" in result.stdout
    assert rows(tmp_path / "ctwatch.db", "SELECT COUNT(*) FROM versions") == [(0,)]
    assert run_cli(config, "backfill", NCT).exit_code == 0  # whole on the next try


def test_bad_arguments_exit_2(tmp_path: Path, registry: RegistryDouble) -> None:
    config = write_config(tmp_path, registry.url, [NCT])
    for args, words in (
        ((), "name trials (NCT…), --watch NAME or --all"),
        (("NCT123",), "'NCT123' is not an NCT ID"),
        (("--watch", "nope"), "--watch: no watch named 'nope' (watches: test)"),
    ):
        result = run_cli(config, "backfill", *args)
        assert result.exit_code == 2 and words in result.stderr, args
    assert registry.requests == []


def test_in_cycle_numbering_failures_never_touch_the_cycle(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = seed_history()
    serve(registry, sample)
    config = write_config(tmp_path, registry.url, [NCT])
    run_cli(config, "check")
    assert run_cli(config, "backfill", NCT).exit_code == 0
    registry.history.break_for(NCT, "403")
    registry.put(next_version(sample.current, "2026-01-14", status="SUSPENDED"))
    result = run_cli(config, "check")
    assert result.exit_code == 0
    assert f"  https://clinicaltrials.gov/study/{NCT}?tab=history\n" in result.stdout
    assert "registry number not learnt: registry history not available (HTTP 403" in result.stderr
    assert result.stdout.endswith("changed 1 · new 0 · not found 0 · errors 0 · alerts sent 1\n")


def test_another_ctwatch_holding_the_database_is_exit_3(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history())
    config = write_config(tmp_path, registry.url, [NCT])
    run_cli(config, "check")
    with ProcessLock(Path(f"{tmp_path / 'ctwatch.db'}.lock")).held(0):
        result = run_cli(config, "backfill", NCT, "--wait", "0")
    assert result.exit_code == 3 and "another ctwatch" in result.stderr
    # read while the other ctwatch worked, written never: the lock guards every write
    assert len(history_calls(registry)) == 4
    assert rows(tmp_path / "ctwatch.db", "SELECT COUNT(*) FROM versions") == [(1,)]


def test_killed_mid_backfill_stores_nothing_and_the_next_run_is_whole(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history())
    config = write_config(tmp_path, registry.url, [NCT])
    run_cli(config, "check")
    version = f"/api/int/studies/{NCT}/history/1"
    registry.fail_next(200, "{}", content_type="application/json", path_prefix=version, delay=10)
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "backfill", NCT],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert registry.wait_for_request(lambda r: r.path == version, timeout=30) is not None
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM versions") == [(1,)]
    assert rows(db, "SELECT COUNT(*) FROM histories") == [(0,)]
    result = run_cli(config, "backfill", NCT, "--wait", "5")  # the lock died with it
    assert result.stdout == (
        f"{NCT}: 3 registry versions imported (1–3); ctwatch's own version numbered 4\n"
    )


def test_an_import_past_its_byte_ceiling_is_given_up(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    serve(registry, seed_history())
    config = load_config(write_config(tmp_path, registry.url, [NCT]), {})
    app = App.build(config, out=io.StringIO())
    ceiling = Backfiller(app.store, app.backfiller.client, max_bytes=5_000)
    result = ceiling.backfill(NCT)
    assert result.error == "its history is over 5,000 bytes; not imported"
    assert app.store.versions.history(NCT) == []
    app.close()


def test_a_history_ahead_of_the_api_never_makes_the_first_check_stale(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """The history endpoint may serve a version the API v2 publishes only the next day."""
    sample = seed_history()
    serve(registry, sample)
    publish(registry, next_version(sample.current, "2026-01-14", status="SUSPENDED"))
    registry.put(sample.current)  # the API v2 still serves version 4
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "backfill", NCT).stdout.startswith(f"{NCT}: 5 registry versions")
    first = run_cli(config, "check")
    assert (
        first.stdout == "checked 1 · changed 0 · new 1 · not found 0 · errors 0 · alerts sent 0\n"
    )


def test_a_feed_carries_only_changes_ctwatch_saw_not_imported_history(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = seed_history()
    serve(registry, sample)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0  # the baseline, then its history
    assert run_cli(config, "backfill", NCT).exit_code == 0
    changed_versions = "SELECT COUNT(*) FROM versions WHERE change_count > 0"
    assert rows(tmp_path / "ctwatch.db", changed_versions) == [(3,)]  # imports and the seam …

    def entries() -> list[str]:
        feed = run_cli(config, "feed", "all")
        assert feed.exit_code == 0, feed.stderr
        atom = "{http://www.w3.org/2005/Atom}"
        return [
            e.findtext(f"{atom}title") or ""
            for e in ET.fromstring(feed.stdout).iter(f"{atom}entry")
        ]

    assert entries() == []  # … but nothing in them was seen changing by ctwatch
    publish(registry, next_version(sample.current, "2026-01-14", status="ACTIVE_NOT_RECRUITING"))
    assert run_cli(config, "check").exit_code == 0
    titles = entries()
    assert len(titles) == 1 and NCT in titles[0]
