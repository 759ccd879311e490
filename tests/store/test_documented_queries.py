"""Every SQL example of docs/database-columns.md runs, as written, on a real database."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from tests.core.test_facts import terminated_trial
from watcher.core.diff import diff_records
from watcher.core.snapshot import take_snapshot
from watcher.cycle.stored import stored_changes
from watcher.store import Store
from watcher.testing.samples import changed, seed_study

DOC = Path(__file__).resolve().parents[2] / "docs" / "database-columns.md"
NCT = "NCT06850103"
OTHER = "NCT01234567"


def documented_queries() -> list[str]:
    return re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_documented_queries_run_and_answer(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    seed = seed_study()
    store.versions.record_version(take_snapshot(NCT, seed), [], [], "2026-01-01T00:00:00Z")
    later = changed(seed, status="COMPLETED")
    store.versions.record_version(
        take_snapshot(NCT, later), stored_changes(diff_records(seed, later)), [],
        "2099-01-02T00:00:00Z",
    )  # fmt: skip
    old_industry = terminated_trial()
    old_industry["hasResults"] = False
    store.versions.record_version(take_snapshot(OTHER, old_industry), [], [], "2026-01-01T00:00Z")
    store.watches.sync({"rectal": [NCT, OTHER]})
    store.close()
    queries = documented_queries()
    assert len(queries) == 5
    with sqlite3.connect(path) as conn:
        answers = [conn.execute(sql).fetchall() for sql in queries]
    recruiting_phase3, overdue, status_changes, slippage, per_status = answers
    assert recruiting_phase3 == []  # the seed trial is phase 2 and no longer recruiting
    assert [row[0] for row in overdue] == [OTHER]
    assert [row[:3] for row in status_changes] == [(NCT, "rectal", "#2")]
    assert slippage == []
    assert sorted(per_status) == [("Completed", "OTHER", 1), ("Terminated", "INDUSTRY", 1)]
