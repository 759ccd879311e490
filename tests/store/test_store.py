"""The store directly: versions, outbox claims, runs, and a second writer."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.snapshot import take_snapshot
from watcher.store import (
    ChangeRow,
    OutboxRow,
    RunCounts,
    RunInfo,
    Store,
    StoreError,
    Subscription,
)
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study, seed_study


def test_a_second_writer_waits_instead_of_failing(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE: with another connection mid-write, claim_due waits for it."""
    store = Store.open(tmp_path / "busy.db")
    other = sqlite3.connect(tmp_path / "busy.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO runs (started_at) VALUES ('2026-01-01T00:00:00Z')")
    outcome: list[object] = []
    worker = threading.Thread(
        target=lambda: outcome.append(
            store.outbox.claim(Destination.console(), "2026-01-01T00:00:00Z", "me", force=True)
        )
    )
    worker.start()
    worker.join(timeout=0.5)
    assert worker.is_alive()  # waiting on the lock, not failed with "database is locked"
    other.execute("COMMIT")
    worker.join(timeout=10)
    assert outcome == [[]]
    other.close()
    store.close()


NCT = "NCT06850103"
NOW = "2026-11-25T12:00:00Z"


def open_store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "ctwatch.db")


def change(path: str, old: str, new: str) -> ChangeRow:
    return ChangeRow(path, "Overall Status", "changed", json.dumps(old), json.dumps(new))


STATUS = "protocolSection.statusModule.overallStatus"


def test_versions_baseline_change_and_history(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    first = take_snapshot(NCT, seed_study())
    store.versions.record_version(first, [], [], NOW)
    assert store.versions.latest_hashes([NCT, "NCT00000001"]) == {NCT: first.content_hash}
    second = take_snapshot(NCT, changed(seed_study(), status="TERMINATED"))
    rows = [OutboxRow(Destination.slack("#a"), None), OutboxRow(Destination.console(), (STATUS,))]
    vid = store.versions.record_version(
        second, [change(STATUS, "RECRUITING", "TERMINATED")], rows, "2026-11-26T12:00:00Z"
    )
    assert store.versions.latest_record(NCT) == second.record
    (trial,) = store.versions.trials([NCT])
    assert (trial.overall_status, trial.last_changed_at) == ("TERMINATED", "2026-11-26T12:00:00Z")
    history = store.versions.history(NCT)
    assert [v.id for v in history] == [vid, vid - 1]  # newest first
    assert history[0].changes == (
        FieldChange(STATUS, "Overall Status", "changed", "RECRUITING", "TERMINATED"),
    )
    assert history[1].changes == ()
    assert store.versions.last_changes(NCT) == history[0].changes
    store.versions.record_unchanged(second, "2026-11-27T12:00:00Z")
    assert len(store.versions.history(NCT)) == 2  # an unchanged poll writes no version
    store.close()


def test_errors_and_not_found_count_up_and_clear(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.versions.record_error(NCT, "registry answered HTTP 503", NOW)
    store.versions.record_error(NCT, "registry answered HTTP 503", NOW)
    (row,) = store.versions.trials([NCT])
    assert (row.consecutive_errors, row.last_error, row.not_found) == (
        2,
        "registry answered HTTP 503",
        False,
    )
    store.versions.record_not_found(NCT, NOW)
    assert store.versions.trials([NCT])[0].not_found is True
    store.versions.record_version(take_snapshot(NCT, seed_study()), [], [], NOW)
    (row,) = store.versions.trials([NCT])
    assert (row.consecutive_errors, row.last_error, row.not_found) == (0, None, False)
    store.close()


def test_outbox_claims_per_destination_carry_their_alert(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.versions.record_version(take_snapshot(NCT, seed_study()), [], [], NOW)
    snap = take_snapshot(NCT, changed(seed_study(), status="SUSPENDED", last_update="2026-01-15"))
    email = Destination.email(["b@x.org", "a@x.org", "b@x.org"])
    rows = [OutboxRow(email, (STATUS,)), OutboxRow(Destination.slack("#a"), None)]
    store.versions.record_version(snap, [change(STATUS, "RECRUITING", "SUSPENDED")], rows, NOW)
    assert store.outbox.due_destinations(NOW, force=False) == [
        Destination("email", ("a@x.org", "b@x.org")),
        Destination.slack("#a"),
    ]
    (mail,) = store.outbox.claim(email, NOW, "me", force=False)
    assert mail.destination == Destination("email", ("a@x.org", "b@x.org"))
    assert mail.paths == (STATUS,) and (mail.title, mail.last_update_posted) == (
        snap.title,
        "2026-01-15",
    )
    (chat,) = store.outbox.claim(Destination.slack("#a"), NOW, "me", force=False)
    assert chat.paths is None and chat.kind == "change" and chat.created_at == NOW
    store.outbox.mark_retry(mail.id, "SMTP 451", "2026-11-25T13:00:00Z")
    store.outbox.mark_failed(chat.id, "channel_not_found")
    assert store.outbox.due_destinations("2026-11-25T12:30:00Z", force=False) == []  # backoff
    assert store.outbox.due_destinations("2026-11-25T12:30:00Z", force=True) == [mail.destination]
    assert store.outbox.counts() == {"pending": 1, "sent": 0, "failed": 1}
    problems = {
        p.destination.kind: (p.status, p.attempts, p.last_error) for p in store.outbox.problems()
    }
    assert problems == {
        "email": ("pending", 1, "SMTP 451"),
        "slack": ("failed", 1, "channel_not_found"),
    }
    store.outbox.mark_sent([mail.id], NOW)
    assert store.outbox.counts() == {"pending": 0, "sent": 1, "failed": 1}
    store.close()


def test_one_outbox_row_per_version_and_destination(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    snap = take_snapshot(NCT, seed_study())
    twice = [OutboxRow(Destination.slack("#a"), None), OutboxRow(Destination.slack("#a"), None)]
    store.versions.record_version(snap, [], twice, NOW)
    assert store.outbox.counts()["pending"] == 1
    store.close()


def test_runs_remember_complete_cycles_and_scope(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    assert store.runs.last() is None and store.runs.last_complete() is None
    first = store.runs.start("2026-11-25T12:00:00Z")
    store.runs.finish(
        first,
        RunCounts(
            checked=2,
            new=2,
            requests=2,
            complete=True,
            data_timestamp="2026-11-25T09:00:06",
            mode="full",
        ),
        "2026-11-25T12:00:05Z",
    )
    failed = store.runs.start("2026-11-26T12:00:00Z")
    store.runs.finish(
        failed, RunCounts(requests=1, error="registry answered HTTP 503"), "2026-11-26T12:00:09Z"
    )
    last = store.runs.last()
    assert last is not None and (last.id, last.complete, last.error) == (
        failed,
        False,
        "registry answered HTTP 503",
    )
    complete = store.runs.last(complete=True)
    assert complete is not None and complete.id == first and complete.checked == 2
    assert store.runs.last_complete() == RunInfo(
        "2026-11-25T12:00:00Z", "2026-11-25T09:00:06", "full"
    )
    assert store.runs.last_full_sweep() == datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    store.versions.record_version(take_snapshot(NCT, seed_study()), [], [], NOW)
    assert store.runs.needs_full_fetch([NCT, "NCT00000001"]) == (NCT, "NCT00000001")  # no scope yet
    store.runs.set_scope([NCT])
    assert store.runs.needs_full_fetch([NCT, "NCT00000001"]) == ("NCT00000001",)
    store.versions.record_error(NCT, "boom", NOW)
    assert store.runs.needs_full_fetch([NCT]) == (NCT,)  # a failing trial is fetched in full
    store.close()


def test_subscriptions_are_idempotent_and_follow_renames(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    sub = Subscription("C0123ABCD", NCT, "lab", "T1", "U1", NOW)
    assert store.subscriptions.add([sub]) == [NCT]
    assert (
        store.subscriptions.add([Subscription("C0123ABCD", NCT, "lab-renamed", created_at="later")])
        == []
    )
    (kept,) = store.subscriptions.list("C0123ABCD")
    assert (kept.user_id, kept.created_at, kept.channel_name) == ("U1", NOW, "lab-renamed")
    assert store.subscriptions.remove("C0123ABCD", [NCT, "NCT00000001"]) == [NCT]
    assert store.subscriptions.list() == []
    store.close()


def test_a_database_from_a_newer_ctwatch_is_refused(tmp_path: Path) -> None:
    Store.open(tmp_path / "ctwatch.db").close()
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.execute(
            "INSERT INTO _sqlite_migrations (migration_set, name, applied_at)"
            " VALUES ('ctwatch', '0099_from_the_future', 'later')"
        )
    with pytest.raises(StoreError, match=r"written by a newer ctwatch .*'0099_from_the_future'"):
        Store.open(tmp_path / "ctwatch.db")


def test_a_database_locked_by_another_tool_is_one_line_and_exit_2(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [NCT])
    config.write_text(
        config.read_text().replace(
            'path = "ctwatch.db"', 'path = "ctwatch.db"\nbusy_timeout = "1s"'
        )
    )
    assert run_cli(config, "check").exit_code == 0
    other = sqlite3.connect(tmp_path / "ctwatch.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # a tool holding the file, say a long VACUUM
    try:
        result = run_cli(config, "check")
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    # an up-to-date file opens without a write lock (WAL readers); the first write waits
    assert (
        f"database.path: cannot write {tmp_path / 'ctwatch.db'} (database is locked)"
        in result.stderr
    )
    store = Store.open(tmp_path / "ctwatch.db", busy_timeout=0.5)  # already open, then locked
    other = sqlite3.connect(tmp_path / "ctwatch.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(StoreError, match=r"cannot write .*ctwatch\.db \(database is locked\)"):
            store.runs.start(NOW)
    finally:
        other.execute("ROLLBACK")
        other.close()
        store.close()


def make_read_only(paths: list[Path]) -> Callable[[], None]:
    """Make files read-only even for root (``chattr +i``); returns the undo. Skips if impossible."""
    if os.geteuid() != 0:
        for path in paths:
            path.chmod(0o444)

        def writable() -> None:
            for path in paths:
                path.chmod(0o644)

        return writable
    if shutil.which("chattr") is None:
        pytest.skip("cannot make a file read-only for root here: chattr is not installed")
    done = subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot make a file read-only for root here: {done.stderr.decode().strip()}")

    def mutable() -> None:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=True)

    return mutable


def test_a_read_only_database_is_one_line_and_exit_2(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    files = [p for p in tmp_path.glob("ctwatch.db*") if p.suffix != ".lock"]
    undo = make_read_only(files)
    try:
        result = run_cli(config, "check")
    finally:
        undo()
    assert result.exit_code == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"database.path: cannot write {tmp_path / 'ctwatch.db'} (" in result.stderr
    assert "readonly database" in result.stderr


def test_the_scope_digest_agrees_with_reading_the_whole_scope(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    trials = [f"NCT{30_000_000 + i:08d}" for i in range(6)]
    for nct in trials[:4]:
        store.versions.record_version(take_snapshot(nct, make_study(nct, "x")), [], [], NOW)
    store.versions.record_error(trials[3], "boom", NOW)  # failing
    store.versions.record_error(trials[4], "boom", NOW)  # failing before its first version
    store.versions.record_not_found(trials[5], NOW)  # not in the registry: not re-fetched
    unhealthy = (trials[3], trials[4])
    store.runs.set_scope(trials)  # as a complete cycle leaves it: every trial has a row
    assert store.runs.needs_full_fetch(trials) == unhealthy  # by the digest
    store.conn.db.execute("DELETE FROM scope_digest")
    assert store.runs.needs_full_fetch(trials) == unhealthy  # by reading the scope
    store.runs.set_scope(trials)
    store.conn.db.execute("DELETE FROM trials WHERE nct_id = ?", [trials[5]])  # by hand
    assert store.runs.needs_full_fetch(trials) == (*unhealthy, trials[5])  # the digest forgot
    store.runs.set_scope(trials)  # a cycle under way when the row went stores the digest again
    assert store.runs.needs_full_fetch(trials) == (*unhealthy, trials[5])  # still fetched
    store.versions.record_not_found(trials[5], NOW)
    assert store.runs.needs_full_fetch(trials) == unhealthy  # it has a row again
    store.runs.set_scope(trials)
    moved = [*trials[1:], "NCT39999999"]  # one removed, one added
    assert store.runs.needs_full_fetch(moved) == (*unhealthy, "NCT39999999")
    assert store.runs.needs_full_fetch(moved[::-1]) == ("NCT39999999", *unhealthy[::-1])
    store.runs.set_scope(moved)
    rows = store.conn.rows("SELECT nct_id FROM scope")
    assert sorted(r["nct_id"] for r in rows) == sorted(moved)
    assert store.runs.needs_full_fetch(trials) == (trials[0], *unhealthy)  # re-added: in full
    store.close()
