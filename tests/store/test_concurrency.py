"""Two ctwatch processes, one database: never twice, never stuck, never racing.

Real processes (``python -m watcher``), real SQLite files, the registry and
Slack doubles over HTTP, and ``kill -9`` where a crash is the point.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, slack_config
from watcher.store import Store, StoreError
from watcher.store.lock import ProcessLock
from watcher.store.schema import KNOWN
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


def ctwatch(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_a_second_check_says_who_holds_the_database_and_exits_3(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "check").exit_code == 0
    holder = ProcessLock(tmp_path / "ctwatch.db.lock")
    with holder.held(0):
        busy = run_cli(config, "check", "--wait", "0.3")
    assert busy.exit_code == 3
    assert f"another ctwatch (pid {os.getpid()} on " in busy.stderr
    assert f"is using {tmp_path / 'ctwatch.db'}; try again later" in busy.stderr
    assert busy.stdout == ""
    assert run_cli(config, "check").exit_code == 0  # free again


def test_two_checks_at_once_record_and_alert_a_change_once(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-02-01"))
    registry.fail_next(200, "", delay=1.5, content_type="text/plain")  # the first fetch is slow
    first = ctwatch(config, "check")
    registry.wait_for_request(lambda r: r.path.endswith("/studies"), timeout=20)
    second = ctwatch(config, "check")
    outs = [p.communicate(timeout=60) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], outs
    alerts = sum(out.count("Overall Status: Recruiting → Terminated") for out, _ in outs)
    assert alerts == 1
    db = tmp_path / "ctwatch.db"
    assert count(db, "SELECT COUNT(*) FROM versions") == 2  # baseline + one change
    assert count(db, "SELECT COUNT(*) FROM outbox") == 1


def _open(path: str, start: float) -> str:
    while time.time() < start:  # line the processes up on one instant
        pass
    try:
        Store.open(path).close()
    except Exception as exc:
        return f"{exc.__class__.__name__}: {exc}"
    return "ok"


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    path = str(tmp_path / "new.db")
    start = time.time() + 0.5
    with mp.get_context("spawn").Pool(6) as pool:
        results = pool.starmap(_open, [(path, start)] * 6)
    assert results == ["ok"] * 6
    with sqlite3.connect(path) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations")]
    assert len(names) == len(set(names)) == len(KNOWN)  # every step applied exactly once


def test_a_first_open_next_to_another_writer_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new database, another process in a write transaction on it (as a second first
    open is): SQLite refuses the switch to WAL at once, without its busy timeout. The open
    tries again; here the other writer finishes during the first pause."""
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    pauses: list[float] = []

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        if other.in_transaction:
            other.execute("COMMIT")

    monkeypatch.setattr(time, "sleep", pause)
    Store.open(path).close()
    other.close()
    assert len(pauses) == 1  # refused once, then done
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert len(list(conn.execute("SELECT name FROM _sqlite_migrations"))) == len(KNOWN)


def test_a_first_open_gives_up_on_a_writer_that_never_finishes(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot open .*new\.db \(database is locked\)"):
        Store.open(path, busy_timeout=0.3)
    assert 0.3 <= time.monotonic() - started < 5  # its busy timeout, not at once, not forever
    other.close()


def test_a_sender_killed_mid_post_is_sent_again_at_once(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    registry.put(seed_study())
    assert run_cli(config, "check", env=ENV).exit_code == 0
    registry.put(changed(seed_study(), status="SUSPENDED"))
    slack.fail_next(status=503, delay=30)  # the post hangs: kill the sender in the middle
    proc = ctwatch(config, "check", env=ENV)
    assert slack.wait_for_calls("chat.postMessage", 1, timeout=30) == 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    started = time.monotonic()
    again = run_cli(config, "check", env=ENV)
    assert again.exit_code == 0, again.stderr
    assert "alerts sent 1" in again.stdout
    assert time.monotonic() - started < 20  # not after a five-minute lease
    assert len(slack.messages) == 1
