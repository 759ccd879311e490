"""The store's numbering (issue 21.3) and its typed ``latest`` (21.9), against real SQLite files."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tests.core.test_facts import terminated_trial
from tests.support.histories import historic
from watcher.core.events import Event, Level
from watcher.core.snapshot import take_snapshot
from watcher.store import Store
from watcher.store.events import ClockWrite
from watcher.testing.samples import changed, seed_study

NCT = "NCT06850103"
OTHER = "NCT01234567"
NOW = "2026-12-01T12:00:00Z"
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ctwatch-ce18872.db"


def rows(path: Path, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def observe(store: Store, record: dict[str, Any], nct: str = NCT, now: str = NOW) -> int:
    return store.versions.record_version(take_snapshot(nct, record), [], [], now)


def import_older(store: Store, nct: str = NCT) -> None:
    """Registry versions 1 and 2, older than everything observed, written after them."""
    with store.histories.writing(nct) as write:
        stored = [v.id for v in write.outline()]
        first = write.insert(take_snapshot(nct, historic(seed_study())), 1, "2025-02-20", NOW)
        second = write.insert(
            take_snapshot(nct, historic(changed(seed_study(), status="NOT_YET_RECRUITING"))),
            2, "2025-03-10", NOW,
        )  # fmt: skip
        write.reorder([first, second, *stored])


def test_numbers_are_given_at_insert_and_an_import_renumbers_nothing(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    observe(store, seed_study())
    observe(store, changed(seed_study(), status="COMPLETED"))
    observe(store, seed_study(), nct=OTHER)
    before = [(v.ref, v.overall_status) for v in store.versions.history(NCT)]
    assert before == [("#2", "COMPLETED"), ("#1", "RECRUITING")]
    import_older(store)
    after = [(v.ref, v.number, v.registry_version) for v in store.versions.history(NCT)]
    assert after == [("#2", 2, None), ("#1", 1, None), ("r2", None, 2), ("r1", None, 1)]
    observe(store, changed(seed_study(), status="TERMINATED"))
    assert next(v.ref for v in store.versions.history(NCT)) == "#3"
    assert [v.ref for v in store.versions.history(OTHER)] == ["#1"]
    store.close()
    # the view analysts read says the same
    assert rows(
        tmp_path / "ctwatch.db",
        "SELECT ref, number, registry_version, source FROM trial_versions WHERE nct_id = ?"
        " ORDER BY position",
        (NCT,),
    ) == [
        ("r1", None, 1, "imported"), ("r2", None, 2, "imported"),
        ("#1", 1, None, "observed"), ("#2", 2, None, "observed"), ("#3", 3, None, "observed"),
    ]  # fmt: skip


def test_two_writers_on_one_trial_never_share_a_number(tmp_path: Path) -> None:
    """Each number is read and written inside the writer's BEGIN IMMEDIATE transaction."""
    path = tmp_path / "ctwatch.db"
    Store.open(path).close()
    statuses = ["RECRUITING", "COMPLETED", "SUSPENDED", "TERMINATED"]

    def writer(offset: int) -> None:
        store = Store.open(path)
        for i in range(15):
            record = changed(seed_study(), status=statuses[(i + offset) % 4])
            record["protocolSection"]["statusModule"]["whyStopped"] = f"{offset}-{i}"
            observe(store, record)
        store.close()

    threads = [threading.Thread(target=writer, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    numbers = [r[0] for r in rows(path, "SELECT number FROM versions ORDER BY id")]
    assert numbers == list(range(1, 31))


def test_an_older_database_gets_numbers_and_typed_columns_by_migration(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)  # written by ctwatch ce18872 (migrations 0001-0005)
    Store.open(path).close()
    assert rows(path, "SELECT nct_id, number FROM versions ORDER BY id") == [
        ("NCT00000101", 1), ("NCT00000102", 1), ("NCT00000103", 1), ("NCT00000101", 2),
    ]  # fmt: skip
    typed = rows(path, "SELECT nct_id, overall_status, overall_status_text, url FROM latest")
    assert len(typed) == 3 and all(
        r[3] == f"https://clinicaltrials.gov/study/{r[0]}" for r in typed
    )
    assert rows(path, "SELECT COUNT(*) FROM trial_facts") == [(3,)]


def downgrade_0016(path: Path) -> None:
    """Make a database look as it did before the ``0016`` steps."""
    with sqlite3.connect(path) as conn:
        conn.executescript(
            """
            DROP VIEW trial_events;
            DROP VIEW trial_versions; DROP VIEW trial_watches; DROP VIEW trial_changes;
            DROP VIEW latest; DROP TABLE watch_members; DROP TABLE watch_digest;
            DROP TABLE trial_facts; DROP INDEX versions_by_number; DROP INDEX versions_seen;
            ALTER TABLE versions DROP COLUMN number;
            CREATE VIEW trial_changes AS SELECT 1 AS x;
            CREATE VIEW trial_events AS SELECT 1 AS x;
            CREATE VIEW latest AS SELECT 1 AS x;
            DELETE FROM _sqlite_migrations WHERE name LIKE '0016%';
            """
        )


def test_the_migration_numbers_observed_versions_only(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    observe(store, seed_study())
    observe(store, changed(seed_study(), status="COMPLETED"))
    import_older(store)
    store.close()
    downgrade_0016(path)
    store = Store.open(path)
    assert [v.ref for v in store.versions.history(NCT)] == ["#2", "#1", "r2", "r1"]
    store.close()
    assert rows(path, "SELECT nct_id, overall_status, overall_status_text FROM latest") == [
        (NCT, "COMPLETED", "Completed")
    ]


def test_a_number_beyond_sqlite_integer_is_no_number_and_an_old_database_opens(
    tmp_path: Path,
) -> None:
    """An enrollment count of 2**64 (JSON allows it; SQLite's INTEGER does not): recorded
    with no typed number, and the migration that fills typed columns from stored bodies
    finishes on such a database instead of failing every open."""
    path = tmp_path / "ctwatch.db"
    huge = seed_study()
    huge["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 2**64, "type": "ACTUAL"}
    store = Store.open(path)
    observe(store, huge)
    store.close()
    assert rows(path, "SELECT enrollment, enrollment_type FROM latest") == [(None, "ACTUAL")]
    downgrade_0016(path)  # as written before the typed columns: 0016b fills them on open
    store = Store.open(path)
    kept = store.versions.latest_record(NCT)
    store.close()
    assert kept is not None  # the record itself keeps the number
    assert kept["protocolSection"]["designModule"]["enrollmentInfo"]["count"] == 2**64
    assert rows(path, "SELECT enrollment, enrollment_type FROM latest") == [(None, "ACTUAL")]


def test_latest_shows_typed_columns_kept_with_each_version(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    trial = terminated_trial()
    observe(store, trial, nct=OTHER)
    store.close()
    (row,) = rows(
        path,
        """SELECT nct_id, acronym, lead_sponsor, sponsor_class, phases, overall_status,
                  overall_status_text, why_stopped, enrollment, enrollment_type,
                  primary_completion_date, primary_completion_date_type, has_results,
                  conditions, locations_count, url, record FROM latest""",
    )
    assert row == (
        OTHER, "ABC", "Example Pharma", "INDUSTRY", "PHASE2|PHASE3", "TERMINATED", "Terminated",
        "Sponsor decision", 42, "ACTUAL", "2024-01", "ACTUAL", 1,
        "Rectal Cancer|Liver Metastases", 2, f"https://clinicaltrials.gov/study/{OTHER}", None,
    )  # fmt: skip
    store = Store.open(path)
    trial["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 45
    observe(store, trial, nct=OTHER)
    store.close()
    assert rows(path, "SELECT enrollment FROM latest") == [(45,)]
    assert rows(path, "SELECT typeof(enrollment), typeof(has_results) FROM trial_facts") == [
        ("integer", "integer")
    ]


def test_the_typed_row_is_undone_with_its_version(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    with store.versions.batch() as batch:
        with pytest.raises(RuntimeError), batch.trial():
            batch.record_version(take_snapshot(OTHER, terminated_trial()), [], [], NOW)
            raise RuntimeError("killed after the version, before the trial was whole")
        with batch.trial():
            batch.record_version(take_snapshot(NCT, seed_study()), [], [], NOW)
    store.close()
    assert rows(path, "SELECT nct_id FROM trial_facts") == [(NCT,)]
    assert rows(path, "SELECT nct_id FROM versions") == [(NCT,)]


def test_a_versions_events_are_undone_with_it_and_kept_in_order(tmp_path: Path) -> None:
    """A batch writes its versions' events at its end, in one statement: a trial undone
    takes its events with it, and the rest keep the order they were recorded in."""
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    first, second = (
        Event("status.changed", Level.MEDIUM, "a", {}),
        Event("sites.changed", Level.LOW, "b", {"added": 1}),
    )
    with store.versions.batch() as batch:
        with batch.trial():
            batch.record_version(take_snapshot(NCT, seed_study()), [], [], NOW, events=[first])
        with pytest.raises(RuntimeError), batch.trial():
            snap = take_snapshot(OTHER, terminated_trial())
            batch.record_version(snap, [], [], NOW, events=[first, second])
            raise RuntimeError("killed after the version, before the trial was whole")
        with batch.trial():
            snap = take_snapshot(NCT, changed(seed_study(), last_update="2025-02-01"))
            batch.record_version(snap, [], [], NOW, events=[second, first])
    store.close()
    assert rows(path, "SELECT nct_id, type, value_json, silent FROM events ORDER BY id") == [
        (NCT, "status.changed", "{}", 1),
        (NCT, "sites.changed", '{"added":1}', 1),
        (NCT, "status.changed", "{}", 1),
    ]
    assert rows(path, "SELECT COUNT(*) FROM events e JOIN versions v ON v.id = e.version_id") == [
        (3,)
    ]


def test_a_batch_writes_version_events_before_first_sight_events(tmp_path: Path) -> None:
    """At a batch's end its versions' events are written before the time-event facts of
    its first sightings and their silent events, as when each was written at once: an
    earlier trial's first sighting never takes IDs before a later trial's change."""
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    with store.versions.batch() as batch, batch.trial():
        batch.record_version(take_snapshot(OTHER, terminated_trial()), [], [], NOW)
    stale = Event("record.stale", Level.MEDIUM, "stale", {})
    first_sight = ClockWrite('{"status":"RECRUITING"}', True, "|1", NOW[:10], (stale,))
    change = Event("status.changed", Level.MEDIUM, "changed", {})
    with store.versions.batch() as batch:
        with batch.trial():
            batch.record_version(take_snapshot(NCT, seed_study()), [], [], NOW, clock=first_sight)
        with batch.trial():
            snap = take_snapshot(OTHER, changed(terminated_trial(), last_update="2025-02-01"))
            batch.record_version(snap, [], [], NOW, events=[change])
    store.close()
    assert rows(path, "SELECT nct_id, type, source FROM events ORDER BY id") == [
        (OTHER, "status.changed", "observed"),
        (NCT, "record.stale", "clock"),
    ]


def test_history_is_read_below_the_newest_version_even_after_a_new_one(tmp_path: Path) -> None:
    """The batch remembers where each trial's newest version was when it read it; a
    version recorded since moves that, so the history below it is read again, whole."""
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    store.versions.record_version(take_snapshot(NCT, seed_study()), [], [], NOW)
    with store.versions.batch() as batch, batch.trial():
        assert batch.latest_body(NCT) is not None  # the newest is the first: nothing below
        assert batch.earlier_records(NCT) == []
        snap = take_snapshot(NCT, changed(seed_study(), last_update="2025-02-01"))
        batch.record_version(snap, [], [], NOW)
        assert [r["protocolSection"]["identificationModule"]["nctId"]
                for r in batch.earlier_records(NCT)] == [NCT]  # fmt: skip
    store.close()


@pytest.mark.parametrize(
    ("setting", "record_kept", "typed"),
    [(True, False, True), ("json", True, True), (False, False, False)],
)
def test_readable_records_settings(
    tmp_path: Path, setting: bool | str, record_kept: bool, typed: bool
) -> None:
    path = tmp_path / "ctwatch.db"
    old = Store.open(path, readable_records="json")  # what the old default kept
    observe(old, seed_study())
    old.close()
    store = Store.open(path, readable_records=setting)
    snap = take_snapshot(NCT, changed(seed_study(), status="COMPLETED"))
    store.versions.record_version(snap, [], [], NOW)
    store.close()
    (record, sponsor) = rows(path, "SELECT record, lead_sponsor FROM latest")[0]
    assert (record is not None) is record_kept  # never left stale: kept current or cleared
    if record_kept:
        assert '"COMPLETED"' in record
    assert (sponsor is not None) is typed


def test_an_unchanged_fetch_fills_missing_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path, readable_records=False)
    snap = take_snapshot(NCT, seed_study())
    store.versions.record_version(snap, [], [], NOW)
    store.close()
    assert rows(path, "SELECT COUNT(*) FROM trial_facts") == [(0,)]
    store = Store.open(path)  # the default again
    store.versions.record_unchanged(snap, NOW)
    store.versions.record_unchanged(snap, NOW)
    store.close()
    assert rows(path, "SELECT lead_sponsor FROM latest") == [
        ("First Affiliated Hospital of Zhejiang University",)
    ]


def test_an_unchanged_fetch_with_typed_columns_off_clears_them(tmp_path: Path) -> None:
    """docs/database-columns.md: with ``readable_records = false`` the typed columns are
    NULL; a trial recorded while they were on loses them at its next check, changed or not."""
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)  # the default: typed columns
    snap = take_snapshot(NCT, seed_study())
    store.versions.record_version(snap, [], [], NOW)
    store.close()
    assert rows(path, "SELECT COUNT(*) FROM trial_facts") == [(1,)]
    store = Store.open(path, readable_records=False)
    store.versions.record_unchanged(snap, NOW)
    store.close()
    assert rows(path, "SELECT COUNT(*) FROM trial_facts") == [(0,)]
    assert rows(path, "SELECT lead_sponsor FROM latest") == [(None,)]


def test_the_migration_fills_typed_columns_page_by_page(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    with store.versions.batch() as batch:
        for n in range(1234):  # more than two of the migration's pages of 500
            nct = f"NCT{20000000 + n:08d}"
            record = changed(seed_study(), status="COMPLETED" if n % 2 else "RECRUITING")
            record["protocolSection"]["identificationModule"]["nctId"] = nct
            with batch.trial():
                batch.record_version(take_snapshot(nct, record), [], [], NOW)
    store.close()
    downgrade_0016(path)
    Store.open(path).close()
    assert rows(path, "SELECT COUNT(*), COUNT(DISTINCT nct_id) FROM trial_facts") == [(1234, 1234)]
    assert rows(path, "SELECT overall_status_text, COUNT(*) FROM latest GROUP BY 1") == [
        ("Completed", 617), ("Recruiting", 617)
    ]  # fmt: skip
