"""The store side of history: the migration, the order of versions, one transaction per trial."""

from __future__ import annotations

import sqlite3
import zlib
from pathlib import Path

import pytest

from tests.support.histories import historic
from watcher.core.snapshot import take_snapshot
from watcher.store import ChangeRow, Store
from watcher.testing.samples import changed, seed_study

NCT = "NCT06850103"
OTHER = "NCT01234567"
NOW = "2026-11-26T12:00:00Z"


def downgrade_to_0005(path: Path) -> None:
    """Make a fresh database look like one written before ``0007_history`` (and the views
    that read its columns)."""
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            DROP VIEW trial_events;
            DROP TABLE events;
            DROP TABLE event_clock;
            ALTER TABLE subscriptions DROP COLUMN min_level;
            ALTER TABLE subscriptions DROP COLUMN events;
            DELETE FROM _sqlite_migrations WHERE name = '0017_events';
            DROP VIEW trial_versions;
            DROP VIEW trial_watches;
            DROP TABLE watch_members;
            DROP TABLE watch_digest;
            DROP VIEW trial_changes;
            DROP VIEW latest;
            DROP TABLE trial_facts;
            DROP INDEX versions_by_number;
            DROP INDEX versions_seen;
            DROP INDEX versions_by_date;
            DELETE FROM _sqlite_migrations WHERE name LIKE '0019%';
            ALTER TABLE versions DROP COLUMN number;
            DELETE FROM _sqlite_migrations WHERE name LIKE '0016%';
            ALTER TABLE changes DROP COLUMN old_text;
            ALTER TABLE changes DROP COLUMN new_text;
            ALTER TABLE trials DROP COLUMN record;
            DELETE FROM _sqlite_migrations WHERE name = '0012_analyst_views';
            DROP INDEX versions_in_order;
            ALTER TABLE versions DROP COLUMN position;
            ALTER TABLE versions DROP COLUMN registry_version;
            ALTER TABLE versions DROP COLUMN source;
            ALTER TABLE versions DROP COLUMN submitted;
            DROP TABLE histories;
            DROP TABLE backfill_queue;
            DELETE FROM _sqlite_migrations WHERE name = '0007_history';
            """
        )


def test_an_older_database_gets_its_versions_numbered_in_the_order_they_were_seen(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    Store.open(path).close()
    downgrade_to_0005(path)
    records = [
        (NCT, seed_study()),
        (OTHER, changed(seed_study(), status="SUSPENDED")),
        (NCT, changed(seed_study(), status="COMPLETED")),
        (NCT, changed(seed_study(), status="TERMINATED")),
    ]
    with sqlite3.connect(path) as conn:
        for nct, record in records:
            conn.execute(
                "INSERT OR IGNORE INTO trials (nct_id, added_at) VALUES (?, ?)", [nct, NOW]
            )
            snap = take_snapshot(nct, record)
            conn.execute(
                """INSERT INTO versions (nct_id, content_hash, fetched_at, overall_status, body)
                   VALUES (?, ?, ?, ?, ?)""",
                [
                    nct,
                    snap.content_hash,
                    NOW,
                    snap.overall_status,
                    zlib.compress(snap.body, 6),
                ],  # as older ctwatch wrote
            )
    store = Store.open(path)
    history = store.versions.history(NCT)
    assert [(v.number, v.overall_status, v.source) for v in history] == [
        (3, "TERMINATED", "observed"),
        (2, "COMPLETED", "observed"),
        (1, "RECRUITING", "observed"),
    ]
    assert [v.number for v in store.versions.history(OTHER)] == [1]
    latest = store.versions.latest_record(NCT)
    assert latest is not None and latest["protocolSection"]["statusModule"]["overallStatus"] == (
        "TERMINATED"
    )
    outline = store.histories.outline(NCT)
    assert [v.submitted for v in outline] == [None, None, None]  # read from bodies: none there
    store.close()


def test_latest_means_last_in_the_trial_not_last_inserted(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    seen = take_snapshot(NCT, changed(seed_study(), status="COMPLETED"))
    observed_id = store.versions.record_version(seen, [], [], NOW)
    older = take_snapshot(NCT, historic(seed_study()))
    with store.histories.writing(NCT) as write:
        imported_id = write.insert(older, 1, "2025-02-20", NOW)  # written after, but older
        seam = ChangeRow("protocolSection.statusModule.overallStatus", "Overall Status",
                         "changed", '"RECRUITING"', '"COMPLETED"')  # fmt: skip
        write.set_changes(observed_id, [seam])
        write.reorder([imported_id, observed_id])
    assert imported_id > observed_id
    assert store.versions.latest_record(NCT) == seen.record
    assert [c.new for c in store.versions.last_changes(NCT)] == ["COMPLETED"]
    assert [v.id for v in store.versions.history(NCT)] == [observed_id, imported_id]
    assert store.versions.latest_hashes([NCT]) == {NCT: seen.content_hash}  # untouched
    store.close()


def test_an_import_that_fails_midway_leaves_the_trial_as_it_was(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    snap = take_snapshot(NCT, historic(seed_study()))
    with pytest.raises(RuntimeError), store.histories.writing(NCT) as write:
        write.ensure_trial(snap, NOW)
        write.insert(snap, 1, "2025-02-20", NOW)
        write.mark_read(4, NOW)
        raise RuntimeError("killed between two statements")
    assert store.versions.history(NCT) == [] and store.versions.trials() == []
    assert store.histories.known([NCT]) == set()
    store.close()


def test_the_queue_skips_known_histories_and_masks_reasons(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db", masked=lambda t: t.replace("s3cret", "***"))
    assert store.histories.enqueue([NCT, OTHER, NCT], NOW) == 2
    with store.histories.writing(OTHER) as write:
        write.mark_read(3, NOW)  # imported: leaves the queue, never queued again
    assert store.histories.enqueue([OTHER], NOW) == 0
    assert store.histories.due(NOW, 10) == [NCT]
    store.histories.defer(NCT, "HTTP 403 from http://u:s3cret@h/", "2026-11-27T12:00:00Z")
    assert store.histories.due(NOW, 10) == [] and store.histories.attempts(NCT) == 1
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        (error,) = conn.execute("SELECT last_error FROM backfill_queue").fetchone()
    assert error == "HTTP 403 from http://u:***@h/"
    store.close()
