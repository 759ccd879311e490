"""``readable_records = false`` after a run with typed columns: the next full check
(every record unchanged) leaves no typed column filled, as docs/database-columns.md says."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.registry.test_hostile_registry import DAY1, config_for, studies
from watcher.testing.registry_double import RegistryDouble


def test_switching_typed_columns_off_clears_them_at_the_next_check(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as registry:
        config = config_for(tmp_path, registry.url, incremental=False)
        assert "errors 0" in run_cli(config, "check").stdout  # default: typed columns
        with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
            before = conn.execute("SELECT COUNT(lead_sponsor) FROM latest").fetchone()[0]
        assert before > 0
        text = config.read_text(encoding="utf-8")
        off = text.replace('path = "ctwatch.db"', 'path = "ctwatch.db"\nreadable_records = false')
        assert off != text
        config.write_text(off, encoding="utf-8")
        assert "errors 0" in run_cli(config, "check").stdout  # every record unchanged
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        rows = conn.execute("SELECT nct_id, lead_sponsor FROM latest").fetchall()
        facts = conn.execute("SELECT COUNT(*) FROM trial_facts").fetchone()[0]
    assert rows and all(sponsor is None for _, sponsor in rows), rows
    assert facts == 0
