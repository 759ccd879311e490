"""A live cycle over a record whose enrollment count is beyond SQLite's INTEGER (2**64):
the version is recorded and the change alerted, never a failed record."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.registry.test_hostile_registry import DAY1, TRIALS, config_for, studies
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed


def test_an_enrollment_of_two_to_the_64_is_recorded_and_alerted(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as registry:
        config = config_for(tmp_path, registry.url, incremental=False)
        first = run_cli(config, "check")
        assert "errors 0" in first.stdout, first.stdout
        study = registry.get(TRIALS[1])
        assert study is not None
        edited = changed(study, last_update="2026-01-05")
        edited["protocolSection"]["designModule"]["enrollmentInfo"] = {
            "count": 2**64,
            "type": "ACTUAL",
        }
        registry.put(edited)
        second = run_cli(config, "check")
    assert second.exit_code == 0, second.stderr
    assert "errors 0" in second.stdout and "changed 1" in second.stdout, second.stdout
    assert str(2**64) in second.stdout  # the console alert shows the new count
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        (versions,) = conn.execute(
            "SELECT COUNT(*) FROM versions WHERE nct_id = ?", [TRIALS[1]]
        ).fetchone()
        (enrollment,) = conn.execute(
            "SELECT enrollment FROM latest WHERE nct_id = ?", [TRIALS[1]]
        ).fetchone()
        changes = conn.execute("SELECT path, new FROM changes").fetchall()
    assert versions == 2 and enrollment is None
    assert any(str(2**64) in (new or "") for _, new in changes), changes
