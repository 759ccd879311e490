"""A batch writes its trials' time-event facts together, exactly as one at a time would.

:func:`watcher.store.events.write_clocks` replaces ten thousand single statements at a
baseline with a few; these tests hold it to :func:`write_clock`'s rules: a first sight
inserts a row only where none exists (its events then recorded silently), a later write
updates the facts, and a trial whose recording failed leaves nothing behind.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from watcher.core.events import Event, Level
from watcher.core.snapshot import take_snapshot
from watcher.store import Store
from watcher.store.events import DUE_TODAY, ClockWrite, write_clock
from watcher.testing.samples import make_study

NOW = "2026-12-07T08:00:00Z"
TODAY = "2026-12-07"
OVERDUE = Event("results.overdue", Level.HIGH, "Results are overdue.", {"due": "2026-01-01"})


def first_sight(facts: str, *events: Event) -> ClockWrite:
    return ClockWrite(facts, True, "overdue|0" if events else "|0", TODAY, events)


def record(store: Store, writes: dict[str, ClockWrite], *, failing: str = "") -> None:
    """One batch: each trial's version with its clock write; ``failing`` raises after its own."""
    with store.versions.batch() as batch:
        for nct, clock in writes.items():
            try:
                with batch.trial():
                    snap = take_snapshot(nct, make_study(nct, f"Trial {nct}"))
                    batch.record_version(snap, [], [], NOW, clock=clock)
                    if nct == failing:
                        raise RuntimeError("a fault after the write")
            except RuntimeError:
                pass


def tables(path: Path) -> tuple[list[Any], list[Any]]:
    with sqlite3.connect(path) as conn:
        clocks = conn.execute(
            "SELECT nct_id, facts, relevant, state, evaluated_on FROM event_clock ORDER BY nct_id"
        ).fetchall()
        events = conn.execute(
            """SELECT e.nct_id, v.nct_id, e.type, e.level, e.summary, e.value_json, e.source,
                      e.silent FROM events e LEFT JOIN versions v ON v.id = e.version_id
               ORDER BY e.nct_id, e.id"""
        ).fetchall()
    return clocks, events


WRITES = {
    "NCT00000001": first_sight('{"pcd":"2025-01"}', OVERDUE),
    "NCT00000002": first_sight(""),
    "NCT00000003": ClockWrite('{"pcd":"2027-01"}', relevant=True),
}


def test_a_batch_writes_what_one_at_a_time_writes(tmp_path: Path) -> None:
    batched = Store.open(tmp_path / "batched.db")
    record(batched, WRITES)
    batched.close()
    single = Store.open(tmp_path / "single.db")
    with single.versions.batch() as batch:
        for nct, clock in WRITES.items():
            snap = take_snapshot(nct, make_study(nct, f"Trial {nct}"))
            version = batch.record_version(snap, [], [], NOW)
            write_clock(batch._db, nct, clock, NOW, version)  # the rule, one trial at a time
    single.close()
    assert tables(tmp_path / "batched.db") == tables(tmp_path / "single.db")
    clocks, events = tables(tmp_path / "batched.db")
    assert [c[0] for c in clocks] == list(WRITES)
    assert events == [("NCT00000001", "NCT00000001", "results.overdue", "high",
                       "Results are overdue.", '{"due":"2026-01-01"}', "clock", 1)]  # fmt: skip


def test_a_failed_trial_leaves_no_clock_row_and_no_event(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "x.db")
    record(store, WRITES, failing="NCT00000001")
    store.close()
    clocks, events = tables(tmp_path / "x.db")
    assert [c[0] for c in clocks] == ["NCT00000002", "NCT00000003"]
    assert events == []


def test_a_first_sight_of_a_trial_with_a_row_updates_its_facts_and_tells_nothing(
    tmp_path: Path,
) -> None:
    """As :func:`write_clock` does: the row is not replaced (its state stays, no second
    silent event), but the facts are the newest version's, due for evaluation again."""
    store = Store.open(tmp_path / "x.db")
    record(store, {"NCT00000001": first_sight('{"pcd":"2025-01"}', OVERDUE)})
    record(store, {"NCT00000001": first_sight('{"pcd":"2024-01"}', OVERDUE)})
    store.close()
    clocks, events = tables(tmp_path / "x.db")
    assert clocks == [("NCT00000001", '{"pcd":"2024-01"}', 1, "overdue|0", None)]
    assert len(events) == 1


def test_batched_and_single_writes_agree_over_an_existing_row(tmp_path: Path) -> None:
    """The same two batches written both ways leave the same rows."""
    later = {"NCT00000001": first_sight('{"pcd":"2024-01"}', OVERDUE),
             "NCT00000003": first_sight('{"pcd":"2026-01"}')}  # fmt: skip
    batched = Store.open(tmp_path / "batched.db")
    record(batched, WRITES)
    record(batched, later)
    batched.close()
    single = Store.open(tmp_path / "single.db")
    for writes in (WRITES, later):
        with single.versions.batch() as batch:
            for nct, clock in writes.items():
                snap = take_snapshot(nct, make_study(nct, f"Trial {nct}"))
                version = batch.record_version(snap, [], [], NOW)
                write_clock(batch._db, nct, clock, NOW, version)
    single.close()
    assert tables(tmp_path / "batched.db") == tables(tmp_path / "single.db")


@pytest.mark.parametrize(("facts", "evaluated"), [('{"pcd":"2025-01"}', TODAY), ("{}", None)])
def test_a_later_write_keeps_the_evaluation_only_while_the_facts_stay(
    tmp_path: Path, facts: str, evaluated: str | None
) -> None:
    store = Store.open(tmp_path / "x.db")
    record(store, {"NCT00000001": first_sight('{"pcd":"2025-01"}', OVERDUE)})
    record(store, {"NCT00000001": ClockWrite(facts, relevant=True)})
    store.close()
    clocks, _ = tables(tmp_path / "x.db")
    assert clocks == [("NCT00000001", facts, 1, "overdue|0", evaluated)]


def test_the_time_pass_reads_the_rows_the_rule_names_through_its_indexes(tmp_path: Path) -> None:
    """``clock_rows`` finds exactly the trials ``evaluated_on IS NULL OR (relevant = 1 AND
    evaluated_on != today)`` names, in ID order, through the partial indexes (migration
    0022): on the day's later cycles it reads no row that is not due."""
    store = Store.open(tmp_path / "ctwatch.db")
    days = (None, "2026-12-05", TODAY, "2026-12-09")  # never, before, today, a clock ahead
    rows = [
        (f"NCT{i:08d}", '{"pcd":"2025-01"}', relevant, None, day)
        for i, (relevant, day) in enumerate(
            ((relevant, day) for _ in range(3) for relevant in (0, 1) for day in days), 1
        )
    ]
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.executemany("INSERT INTO event_clock VALUES (?, ?, ?, ?, ?)", reversed(rows))
        conn.commit()
        for today in ("2026-12-04", TODAY, "2026-12-10"):
            rule = conn.execute(
                "SELECT nct_id FROM event_clock"
                " WHERE evaluated_on IS NULL OR (relevant = 1 AND evaluated_on != ?)"
                " ORDER BY nct_id",
                [today],
            ).fetchall()
            assert [r.nct_id for r in store.events.clock_rows(today)] == [n for (n,) in rule]
        plan = conn.execute("EXPLAIN QUERY PLAN " + DUE_TODAY, {"today": TODAY}).fetchall()
    steps = [p[3] for p in plan if "event_clock" in p[3]]
    assert len(steps) == 3  # each part through its partial index, no read of every row
    assert "event_clock_moved" in steps[0]  # only the rows whose facts moved
    assert all("event_clock_relevant (evaluated_on" in step for step in steps[1:])
    store.close()
