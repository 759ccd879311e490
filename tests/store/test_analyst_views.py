"""The database people can query: the views, and the docs' three queries run as written."""

from __future__ import annotations

import re
import shutil
import sqlite3
from datetime import date
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.support.paths import REPO
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

FIXTURE = REPO / "tests" / "fixtures" / "ctwatch-ce18872.db"
OTHER = "NCT01234567"
TODAY = date.today().isoformat()


def docs_queries() -> list[str]:
    """The SQL blocks of the database page (``docs/database.md``), in order."""
    text = (REPO / "docs" / "database.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", text, re.S)


def history_of_changes(tmp_path: Path, registry: RegistryDouble, extra: str = "") -> Path:
    """A baseline, a status change posted today and a slipped completion date."""
    seed = seed_study()
    seed["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {
        "date": "2026-06",
        "type": "ESTIMATED",
    }
    seed["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 60, "type": "ESTIMATED"}
    registry.put(seed)
    registry.put(make_study(OTHER, "Another trial", status="COMPLETED"))
    config = write_config(tmp_path, registry.url, [SEED_NCT, OTHER], extra=extra)
    assert run_cli(config, "check").exit_code == 0
    slipped = changed(seed, status="ACTIVE_NOT_RECRUITING", last_update=TODAY)
    slipped["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {
        "date": "2027-03",
        "type": "ESTIMATED",
    }
    registry.put(slipped)
    assert run_cli(config, "check").exit_code == 0
    return tmp_path / "ctwatch.db"


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(sql).fetchone()[0])


def test_the_docs_queries_run_and_answer(tmp_path: Path, registry: RegistryDouble) -> None:
    db = history_of_changes(tmp_path, registry)
    status_changes, slippage, recruiting = docs_queries()
    assert rows(db, status_changes) == [
        (
            SEED_NCT,
            "SCRT-CAPEOX-Serplulimab for MSS/pMMR Rectal Cancer With Oligometastases",
            TODAY,
            "Recruiting",
            "Active, not recruiting",
        )
    ]
    assert rows(db, slippage) == [
        (SEED_NCT, 2, TODAY, "Primary Completion Date", "2026-06", "2027-03")
    ]
    assert rows(db, recruiting) == []  # the seed trial moved on; the other is completed
    if shutil.which("sqlite3"):  # the command-line shell too, when this machine has it
        import subprocess  # noqa: PLC0415

        shell = subprocess.run(
            ["sqlite3", str(db), status_changes], capture_output=True, text=True, check=True
        )
        assert "Active, not recruiting" in shell.stdout


def test_trial_changes_numbers_versions_per_trial_and_speaks_words(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    db = history_of_changes(tmp_path, registry)
    found = rows(db, "SELECT nct_id, version, label, old, new FROM trial_changes ORDER BY label")
    assert (SEED_NCT, 2, "Overall Status", "Recruiting", "Active, not recruiting") in found
    assert {r[1] for r in found} == {2}  # the baseline brings no changes


def test_latest_holds_the_current_record_as_json_on_request(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    db = history_of_changes(tmp_path, registry, extra='readable_records = "json"\n')
    status = rows(
        db,
        "SELECT nct_id, json_extract(record, '$.protocolSection.statusModule.overallStatus'),"
        " json_extract(record, '$.protocolSection.designModule.enrollmentInfo.count')"
        " FROM latest ORDER BY nct_id",
    )
    assert status == [(OTHER, "COMPLETED", None), (SEED_NCT, "ACTIVE_NOT_RECRUITING", 60)]


def test_readable_records_can_be_turned_off(tmp_path: Path, registry: RegistryDouble) -> None:
    db = history_of_changes(tmp_path, registry, extra="readable_records = false\n")
    assert rows(db, "SELECT record, phases, lead_sponsor FROM latest") == [(None, None, None)] * 2
    assert count(db, "SELECT COUNT(*) FROM trial_changes") > 0


def test_an_older_database_gains_the_views(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    shutil.copy(FIXTURE, path)
    Store.open(path).close()
    changes = rows(path, "SELECT old, new FROM trial_changes")
    assert changes, "the fixture holds changes written by the old ctwatch"
    assert all(isinstance(v, str | int | float) or v is None for row in changes for v in row)
    assert count(path, "SELECT COUNT(*) FROM latest WHERE record IS NULL") > 0
