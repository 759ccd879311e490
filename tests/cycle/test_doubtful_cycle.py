"""A cycle against a registry that mixes answers up or answers short: no false "gone",
no change left for the weekly sweep, and a window that never comes from the clock."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

TRIALS = [f"NCT0000002{i}" for i in range(6)]


def batched(params: Mapping[str, str]) -> bool:
    """A ``filter.ids`` request for whole records of more than one trial."""
    return "," in params.get("filter.ids", "") and "fields" not in params


def test_an_unrequested_study_is_never_told_as_gone(tmp_path: Path) -> None:
    with RegistryDouble([make_study(n, n, last_update="2025-12-15") for n in TRIALS]) as reg:
        config = write_config(tmp_path, reg.url, TRIALS, extra="[alerts]\ntrouble_after = 1\n")
        assert run_cli(config, "check").exit_code == 0
        stranger = make_study("NCT09999999", "Nobody asked")
        mixed = [reg.get(n) for n in TRIALS[:-1]] + [stranger]
        # every batched answer and every single read mixes the last trial up with a stranger
        body = json.dumps({"studies": mixed, "totalCount": len(TRIALS)})
        reg.fail_next(200, body, content_type="application/json", times=10, when=batched)
        alone = json.dumps(stranger)
        reg.fail_next(200, alone, content_type="application/json", times=10,
                      path_prefix=f"/api/v2/studies/{TRIALS[-1]}")  # fmt: skip
        result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    assert "not found 0 · errors 1 (NCT00000025)" in result.stdout
    assert "no longer in the registry" not in result.stdout
    # told as a failed read (trouble_after = 1 here), with the reason
    assert "NCT00000025 failed: the registry returned 1 record ctwatch did not ask for" in (
        " ".join(result.stdout.split())
    )
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        gone = conn.execute("SELECT not_found FROM trials WHERE nct_id = ?", [TRIALS[-1]])
        assert gone.fetchone() == (0,)


def test_a_change_behind_a_short_answer_is_alerted_in_the_same_check(tmp_path: Path) -> None:
    with RegistryDouble([make_study(n, n, last_update="2025-12-15") for n in TRIALS]) as reg:
        config = write_config(tmp_path, reg.url, TRIALS)
        assert run_cli(config, "check").exit_code == 0
        last = reg.get(TRIALS[-1])
        assert last is not None
        reg.put(changed(last, status="TERMINATED", last_update="2026-01-05"))
        short = [reg.get(n) for n in TRIALS[:-1]]  # the changed trial is left out, every time
        body = json.dumps({"studies": short, "totalCount": len(TRIALS)})
        reg.fail_next(200, body, content_type="application/json", times=10, when=batched)
        result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    assert "Overall Status: Recruiting → Terminated" in result.stdout
    assert "errors 0" in result.stdout


def runs(db: Path) -> list[tuple[int, str | None, str | None]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT complete, mode, data_timestamp FROM runs ORDER BY id"
        ).fetchall()


def listing_day(params: Mapping[str, str]) -> str | None:
    advanced = params.get("filter.advanced", "")
    return advanced.split("RANGE[")[1].split(",")[0] if "RANGE[" in advanced else None


def test_a_cycle_without_a_usable_stamp_never_moves_the_listing_window(tmp_path: Path) -> None:
    studies: list[dict[str, Any]] = [make_study(n, n, last_update="2025-12-15") for n in TRIALS]
    with RegistryDouble(studies, data_timestamp="2025-11-20T09:00:06") as reg:
        config = write_config(tmp_path, reg.url, TRIALS, incremental=True)
        assert run_cli(config, "check").exit_code == 0  # full: the first cycle
        reg.set_data_timestamp("not a date")
        assert run_cli(config, "check").exit_code == 0  # complete, no usable stamp
        reg.set_data_timestamp("2025-11-21T09:00:06")
        reg.reset_requests()
        assert run_cli(config, "check").exit_code == 0
        days = {listing_day(r.params) for r in reg.requests} - {None}
    assert [r[2] for r in runs(tmp_path / "ctwatch.db")] == [
        "2025-11-20T09:00:06",
        None,
        "2025-11-21T09:00:06",
    ]
    # the window starts from the last usable registry stamp (minus the 3-day look-back),
    # never from the host's clock (which is in 2026 or later)
    assert days == {"2025-11-17"}
