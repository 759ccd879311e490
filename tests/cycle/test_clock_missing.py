"""Trials without time-event facts are listed once, filled once, and cost an idle cycle
nothing.

A database from before events (migration 0017), or a version recorded without the event
rules, leaves a trial with a version but no ``event_clock`` row. Migration 0021 lists the
first kind in ``clock_missing``, the store adds the second as it records it, and the time
pass reads the facts of exactly those from their newest version, silently, then strikes
them from the list.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from tests.support.event_records import due_trial
from watcher.alerts.routing import Routes
from watcher.core.snapshot import take_snapshot
from watcher.cycle.time_events import TimeEvents
from watcher.store import Store
from watcher.testing.samples import SEED_NCT, make_study

NOW = "2026-06-01T08:00:00Z"
TODAY = datetime(2026, 6, 1, tzinfo=UTC)
OTHER = "NCT00000042"


def no_routes() -> Routes:
    return Routes([], {}, {})


def query(path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(sql).fetchall()


def test_a_version_recorded_without_the_rules_gets_its_facts_at_the_next_pass(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "x.db")
    try:
        store.versions.record_version(take_snapshot(SEED_NCT, due_trial()), [], [], NOW)
        assert store.events.without_clock() == [SEED_NCT]
        moved = TimeEvents(store, lambda: TODAY).run(no_routes())
        assert (moved.events, moved.alerts) == (1, 0)  # overdue, told to nobody: its baseline
        assert store.events.without_clock() == []
    finally:
        store.close()
    assert query(tmp_path / "x.db", "SELECT nct_id FROM clock_missing") == []
    assert query(tmp_path / "x.db", "SELECT type, silent FROM events") == [("results.overdue", 1)]


def test_a_database_from_before_the_list_finds_its_trials_without_facts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.db"
    store = Store.open(path)
    with store.versions.batch() as batch:
        for nct, study in ((SEED_NCT, due_trial()), (OTHER, make_study(OTHER, "Other"))):
            batch.record_version(take_snapshot(nct, study), [], [], NOW)
    store.close()
    with sqlite3.connect(path) as conn:  # as an older ctwatch left it: OTHER has its facts
        conn.executescript(
            f"""
            INSERT INTO event_clock (nct_id, facts, relevant) VALUES ('{OTHER}', '', 0);
            DROP TABLE clock_missing;
            DROP INDEX trials_unhealthy;
            DROP TRIGGER trials_forgotten;
            DROP TABLE forgotten_trials;
            DELETE FROM _sqlite_migrations WHERE name = '0021_idle_reads';
            """
        )
    store = Store.open(path)  # migrates: lists the trial without facts, not the other
    store.close()
    assert query(path, "SELECT nct_id FROM clock_missing") == [(SEED_NCT,)]


def test_a_trial_with_older_facts_recorded_without_the_rules_gets_the_newest(
    tmp_path: Path,
) -> None:
    """Its facts were read from an earlier version; a later one, recorded without the event
    rules, lists it again, and the pass reads the newest version's facts and settles it."""
    path = tmp_path / "x.db"
    store = Store.open(path)
    try:
        store.versions.record_version(take_snapshot(SEED_NCT, due_trial()), [], [], NOW)
        TimeEvents(store, lambda: TODAY).run(no_routes())  # overdue facts, read and settled
        finished = due_trial()
        finished["hasResults"] = True
        finished["protocolSection"]["statusModule"]["resultsFirstSubmitDate"] = "2026-05-20"
        store.versions.record_version(take_snapshot(SEED_NCT, finished), [], [], NOW)
        assert store.events.without_clock() == [SEED_NCT]
        TimeEvents(store, lambda: TODAY).run(no_routes())
        assert store.events.without_clock() == []
    finally:
        store.close()
    (facts,) = query(path, "SELECT facts FROM event_clock")
    assert '"results":"2026-05-20"' in str(facts[0])  # the newest version's facts
    assert query(path, "SELECT nct_id FROM clock_missing") == []
