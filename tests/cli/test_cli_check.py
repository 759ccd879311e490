"""`ctwatch check`, `status` and `history` end to end against the registry double."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import load_fixture, run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

OTHER = "NCT01234567"


def count(db: Path, table: str) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_baseline_is_silent_then_changes_are_reported(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = write_config(tmp_path, registry.url, [SEED_NCT, OTHER])

    first = run_cli(config, "check")
    assert first.exit_code == 0, first.stderr
    assert first.stdout.strip().splitlines() == [
        "checked 2 · changed 0 · new 2 · not found 0 · errors 0 · alerts sent 0"
    ]

    registry.put(
        changed(
            seed_study(),
            status="ACTIVE_NOT_RECRUITING",
            last_update="2026-01-15",
            verified="2026-01",
            version_holder="2026-01-16",
        )
    )
    second = run_cli(config, "check")
    assert second.exit_code == 0, second.stderr
    assert second.stdout == (
        "NCT06850103 — SCRT-CAPEOX-Serplulimab for MSS/pMMR Rectal Cancer With Oligometastases\n"
        "  [MEDIUM] Overall status changed from Recruiting to Active, not recruiting.\n"
        "  Overall Status: Recruiting → Active, not recruiting\n"
        "  Status Verified Date: 2025-11 → 2026-01\n"
        "  Last Update Posted: 2025-12-01 → 2026-01-15\n"
        "  https://clinicaltrials.gov/study/NCT06850103?tab=history\n"
        "\n"
        "checked 2 · changed 1 · new 0 · not found 0 · errors 0 · alerts sent 1\n"
    )

    third = run_cli(config, "check")  # nothing moved: only the summary, no new version
    assert (
        third.stdout == "checked 2 · changed 0 · new 0 · not found 0 · errors 0 · alerts sent 0\n"
    )
    assert count(tmp_path / "ctwatch.db", "versions") == 3


def test_rebuild_noise_is_not_a_change(tmp_path: Path, registry: RegistryDouble) -> None:
    old = load_fixture("records", "NCT02552212.json")
    registry.put(old)
    config = write_config(tmp_path, registry.url, ["NCT02552212"])
    assert run_cli(config, "check").exit_code == 0
    registry.put(load_fixture("records", "NCT02552212.snapshot-vh2024-01-03.json"))
    result = run_cli(config, "check")
    assert (
        result.stdout == "checked 1 · changed 0 · new 0 · not found 0 · errors 0 · alerts sent 0\n"
    )
    assert count(tmp_path / "ctwatch.db", "versions") == 1


def test_paging_and_unknown_ids(tmp_path: Path) -> None:
    trials = [f"NCT0000000{i}" for i in range(1, 6)]
    with RegistryDouble([make_study(t, f"Trial {t}") for t in trials], max_page_size=2) as reg:
        config = write_config(tmp_path, reg.url, [*trials, "NCT99999999"])
        result = run_cli(config, "check")
        assert [r.status for r in reg.requests] == [200, 200, 200]
    assert result.exit_code == 0
    assert result.stdout == (
        "checked 5 · changed 0 · new 5 · not found 1 (NCT99999999) · errors 0 · alerts sent 0\n"
    )
    status = json.loads(run_cli(config, "status", "--json").stdout)
    rows = {r["nct_id"]: r for r in status["trials"]}
    assert rows["NCT99999999"]["last_error"] == "not found in the registry"
    assert rows["NCT00000003"]["title"] == "Trial NCT00000003"


def test_server_errors_then_success(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    registry.fail_next(503, "upstream connect error or disconnect/reset before headers", times=2)
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    result = run_cli(config, "check")
    assert result.exit_code == 0
    assert result.stdout.endswith("new 1 · not found 0 · errors 0 · alerts sent 0\n")
    assert "registry answered HTTP 503; retry 1" in result.stderr


def test_html_body_is_an_error_and_changes_nothing(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    registry.fail_next(
        200, "<!doctype html><title>Maintenance</title>", content_type="text/html", times=3
    )
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert "the registry could not be read: registry answered 200 with text/html" in result.stderr
    assert "Traceback" not in result.stderr
    assert count(tmp_path / "ctwatch.db", "versions") == 0
    # next run, registry healthy: a normal silent baseline
    assert run_cli(config, "check").stdout.endswith(
        "new 1 · not found 0 · errors 0 · alerts sent 0\n"
    )


def test_registry_400_is_reported(tmp_path: Path, registry: RegistryDouble) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    registry.fail_next(400, "filter.ids has incorrect format for value NCT0685010")
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert "HTTP 400: filter.ids has incorrect format for value NCT0685010" in result.stderr


def test_unreachable_registry_exits_1(tmp_path: Path) -> None:
    with RegistryDouble() as reg:
        url = reg.url
    config = write_config(tmp_path, url, [SEED_NCT])
    result = run_cli(config, "check")
    assert result.exit_code == 1
    assert "cannot reach the registry" in result.stderr
    status = json.loads(run_cli(config, "status", "--json").stdout)
    assert "cannot reach the registry" in status["trials"][0]["last_error"]
    assert "cannot reach the registry" in status["last_cycle"]["error"]
    assert "Last cycle: " in run_cli(config, "status").stdout


def test_fields_filter_limits_alerts(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='fields = ["OverallStatus"]'
    )
    run_cli(config, "check")
    registry.put(changed(seed_study(), last_update="2026-01-15"))
    quiet = run_cli(config, "check")
    assert (
        quiet.stdout == "checked 1 · changed 1 · new 0 · not found 0 · errors 0 · alerts sent 0\n"
    )
    registry.put(
        changed(
            seed_study(),
            status="SUSPENDED",
            last_update="2026-02-01",
            why_stopped="Drug supply interrupted",
        )
    )
    loud = run_cli(config, "check")
    assert "  Overall Status: Recruiting → Suspended\n" in loud.stdout
    assert "Last Update Posted" not in loud.stdout and "Why Stopped" not in loud.stdout


def test_status_and_history(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    run_cli(config, "check")
    registry.put(
        changed(
            seed_study(),
            status="TERMINATED",
            last_update="2026-03-02",
            why_stopped="Sponsor decision",
        )
    )
    run_cli(config, "check")

    table = run_cli(config, "status")
    assert table.exit_code == 0
    for text in ("NCT06850103", "Terminated", "2026-03-02", "SCRT-CAPEOX"):
        assert text in table.stdout
    data = json.loads(run_cli(config, "status", "--json").stdout)
    row = data["trials"][0]
    assert row["overall_status"] == "TERMINATED" and row["last_update_posted"] == "2026-03-02"
    assert row["last_changed_at"] and row["last_checked_at"] and row["last_error"] is None
    assert data["alerts"] == {"pending": 0, "sent": 1, "failed": 0}

    listing = run_cli(config, "history", "nct06850103")
    assert listing.exit_code == 0
    newest, oldest = listing.stdout.split("\n\n")[:2]
    assert "Overall Status: Recruiting → Terminated" in newest
    assert "Why Stopped: (none) → Sponsor decision" in newest
    assert "baseline" in oldest
    versions = json.loads(run_cli(config, "history", SEED_NCT, "--json").stdout)
    assert [v["baseline"] for v in versions] == [False, True]
    by_path = {c["path"]: c for c in versions[0]["changes"]}
    status = by_path["protocolSection.statusModule.overallStatus"]
    assert (status["label"], status["kind"], status["old"], status["new"]) == (
        "Overall Status",
        "changed",
        "RECRUITING",
        "TERMINATED",
    )

    assert run_cli(config, "history", "NCT123").exit_code == 2
    missing = run_cli(config, "history", "NCT00000001")
    assert missing.exit_code == 1 and "NCT00000001 is not watched" in missing.stderr


def test_python_dash_m_watcher() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "watcher", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("ctwatch, version")


def test_unusable_database_path_is_a_config_error(tmp_path: Path, registry: RegistryDouble) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    config.write_text(
        config.read_text().replace('path = "ctwatch.db"', 'path = "a-file/ctwatch.db"')
    )
    probe = run_cli(config, "health")  # a probe: unhealthy (1), no traceback
    assert probe.exit_code == 1 and "no database yet" in probe.stderr
    for command in ("check", "status", "history"):
        result = run_cli(config, *([command, SEED_NCT] if command == "history" else [command]))
        assert result.exit_code == 2, command
        assert "Traceback" not in result.stderr
        assert f"database.path: cannot open {tmp_path / 'a-file' / 'ctwatch.db'}" in result.stderr
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    config.write_text(
        config.read_text().replace('path = "a-file/ctwatch.db"', 'path = "garbage.db"')
    )
    result = run_cli(config, "check")
    assert result.exit_code == 2 and "file is not a database" in result.stderr
    assert garbage.read_bytes() == b"this is not sqlite" * 100  # nothing written over it


def test_status_shows_record_text_literally(tmp_path: Path, registry: RegistryDouble) -> None:
    title = (
        "Dose escalation of drug X [and/or Y] in adults [/b] [link=https://evil.example]x[/link]"
    )
    registry.put(make_study(OTHER, title))
    config = write_config(tmp_path, registry.url, [OTHER])
    run_cli(config, "check")
    result = run_cli(config, "status", env={"COLUMNS": "200"})  # xdist workers set 80
    assert result.exit_code == 0, result.stderr
    assert "[and/or Y]" in result.stdout and "[/b]" in result.stdout
