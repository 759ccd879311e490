"""Light on the registry: version probe, incremental and registry-wide fetch, sweeps."""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.app import App
from watcher.config import load_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

TRIALS = [f"NCT0000000{i}" for i in range(1, 6)]
DAY1 = "2026-01-05T09:00:06"
DAY2 = "2026-01-06T09:00:06"


def studies() -> list[dict[str, object]]:
    return [make_study(n, f"Trial {n}", last_update="2025-12-15") for n in TRIALS]


@pytest.fixture
def reg() -> Iterator[RegistryDouble]:
    with RegistryDouble(studies(), data_timestamp=DAY1) as double:
        yield double


def config_for(
    tmp_path: Path, reg: RegistryDouble, trials: list[str] = TRIALS, extra: str = ""
) -> Path:
    path = write_config(tmp_path, reg.url, trials, incremental=True)
    if extra:
        path.write_text(
            path.read_text().replace("incremental = true", "incremental = true\n" + extra)
        )
    return path


def check(config: Path, *args: str) -> str:
    result = run_cli(config, "check", *args)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_no_change_cycle_is_one_request(tmp_path: Path, reg: RegistryDouble) -> None:
    config = config_for(tmp_path, reg)
    check(config)
    assert [r.path for r in reg.requests] == [
        "/api/v2/version",
        "/api/v2/studies",
    ]  # probe + one batch
    reg.reset_requests()
    assert (
        check(config) == "checked 5 · changed 0 · new 0 · not found 0 · errors 0 · alerts sent 0\n"
    )
    assert [r.path for r in reg.requests] == ["/api/v2/version"]
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0] == 5
        assert conn.execute("SELECT mode FROM runs ORDER BY id").fetchall() == [
            ("full",),
            ("skipped",),
        ]


def test_only_trials_posted_since_the_last_cycle_are_fetched(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = config_for(tmp_path, reg)
    check(config)
    reg.put(
        changed(
            make_study(TRIALS[2], f"Trial {TRIALS[2]}", last_update="2025-12-15"),
            status="SUSPENDED",
            last_update="2026-01-05",
        )
    )
    reg.set_data_timestamp(DAY2)
    reg.reset_requests()
    out = check(config)
    assert (
        f"{TRIALS[2]} — Trial {TRIALS[2]}\n  [HIGH] Overall status changed from Recruiting to Suspended.\n  Overall Status: Recruiting → Suspended"
        in out
    )
    assert "checked 5 · changed 1 · new 0" in out
    probe, listing, fetch = reg.requests
    assert probe.path == "/api/v2/version"
    assert (
        listing.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-01-02,MAX]"
    )  # 3-day look-back
    assert listing.params["fields"] == "NCTId,NCTIdAlias,LastUpdatePostDate"
    assert listing.params["filter.ids"] == ",".join(TRIALS)
    assert fetch.params["filter.ids"] == TRIALS[2] and "fields" not in fetch.params


def test_registry_wide_listing_for_large_watch_lists(tmp_path: Path, reg: RegistryDouble) -> None:
    config = config_for(tmp_path, reg, extra="registry_wide_over = 3")
    check(config)
    unwatched = make_study("NCT09999999", "Not watched", last_update="2026-01-05")
    reg.put(unwatched)
    reg.put(
        changed(
            make_study(TRIALS[0], f"Trial {TRIALS[0]}", last_update="2025-12-15"),
            status="COMPLETED",
            last_update="2026-01-05",
        )
    )
    reg.set_data_timestamp(DAY2)
    reg.reset_requests()
    out = check(config)
    assert "changed 1" in out
    probe, listing, fetch = reg.requests
    assert probe.path == "/api/v2/version"
    assert "filter.ids" not in listing.params  # registry-wide, intersected locally
    assert (
        listing.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-01-02,MAX]"
    )  # 3-day look-back
    assert fetch.params["filter.ids"] == TRIALS[0]


def test_new_trial_gets_a_full_fetch_even_without_new_data(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = config_for(tmp_path, reg, trials=TRIALS[:3])
    check(config)
    config.write_text(
        config.read_text().replace(
            ", ".join(f'"{t}"' for t in TRIALS[:3]), ", ".join(f'"{t}"' for t in TRIALS)
        )
    )
    reg.reset_requests()
    out = check(config)
    assert "checked 5 · changed 0 · new 2" in out
    probe, fetch = reg.requests  # the data did not move: only the new trials are fetched
    assert probe.path == "/api/v2/version"
    assert fetch.params["filter.ids"] == ",".join(TRIALS[3:])


def test_full_flag_and_periodic_sweep(tmp_path: Path, reg: RegistryDouble) -> None:
    config = config_for(tmp_path, reg)
    check(config)
    reg.reset_requests()
    check(config, "--full")
    assert [r.path for r in reg.requests] == ["/api/v2/version", "/api/v2/studies"]
    assert reg.requests[1].params["filter.ids"] == ",".join(TRIALS)
    reg.reset_requests()
    check(config)
    assert len(reg.requests) == 1
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:  # pretend the last sweep was 8 days ago
        conn.execute("UPDATE runs SET started_at = '2020-01-01T00:00:00Z' WHERE mode = 'full'")
    reg.reset_requests()
    check(config)
    assert len(reg.requests) == 2 and reg.requests[1].params["filter.ids"] == ",".join(TRIALS)


def test_failed_trials_and_incomplete_cycles_are_caught_up(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = config_for(tmp_path, reg)
    check(config)
    reg.set_data_timestamp(DAY2)
    reg.fail_next(503, "busy", times=3)  # the listing fails after its retries
    result = run_cli(config, "check")
    assert result.exit_code == 1
    reg.put(
        changed(
            make_study(TRIALS[1], f"Trial {TRIALS[1]}", last_update="2025-12-15"),
            status="WITHDRAWN",
            last_update="2026-01-05",
        )
    )
    reg.reset_requests()
    out = check(config)  # the failed cycle was not complete: listed again since DAY1's day
    assert "changed 1" in out
    assert (
        reg.requests[1].params["filter.advanced"]
        == "AREA[LastUpdatePostDate]RANGE[2026-01-02,MAX]"  # 3-day look-back
    )


def test_incremental_off_fetches_everything(tmp_path: Path, reg: RegistryDouble) -> None:
    config = write_config(tmp_path, reg.url, TRIALS)  # incremental = false
    check(config)
    reg.reset_requests()
    check(config)
    assert [r.path for r in reg.requests] == ["/api/v2/studies"]


def test_progress_reports_every_fetched_record(tmp_path: Path, reg: RegistryDouble) -> None:
    seen: list[tuple[str, int]] = []

    @contextmanager
    def progress(total: int) -> Iterator[Callable[[int], None] | None]:
        seen.append(("total", total))
        yield lambda n: seen.append(("advance", n))

    config = load_config(config_for(tmp_path, reg), {})
    app = App.build(config, out=io.StringIO(), progress=progress)
    app.check()
    app.close()
    assert seen[0] == ("total", 5)
    assert sum(n for kind, n in seen if kind == "advance") == 5


def test_no_progress_bar_when_not_a_terminal(tmp_path: Path, reg: RegistryDouble) -> None:
    result = run_cli(config_for(tmp_path, reg), "check")
    assert result.stderr == ""  # CliRunner is not a TTY: no bar, no noise


@pytest.mark.parametrize("wide_over", [5000, 1], ids=["id-batches", "registry-wide"])
def test_a_trial_watched_under_an_alias_is_seen_to_move(tmp_path: Path, wide_over: int) -> None:
    merged = make_study("NCT00000001", "Merged trial", last_update="2025-12-15")
    merged["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT00000099"]
    with RegistryDouble([merged], data_timestamp=DAY1) as reg:
        config = config_for(
            tmp_path, reg, trials=["NCT00000099"], extra=f"registry_wide_over = {wide_over}"
        )
        check(config)
        edit = changed(merged, status="TERMINATED", why_stopped="Merged", last_update="2026-01-05")
        reg.put(edit)
        reg.set_data_timestamp(DAY2)
        out = check(config)
    assert "NCT00000099 — Merged trial\n  [HIGH] Overall status changed" in out
    assert "\n  Overall Status: Recruiting → Terminated" in out


def test_a_trial_removed_and_added_back_is_fetched_again(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = config_for(tmp_path, reg)
    check(config)
    everyone = ", ".join(f'"{t}"' for t in TRIALS)
    without = ", ".join(f'"{t}"' for t in TRIALS if t != TRIALS[1])
    config.write_text(config.read_text().replace(everyone, without))
    check(config)  # a complete cycle without it
    reg.put(
        changed(
            make_study(TRIALS[1], f"Trial {TRIALS[1]}", last_update="2025-12-15"),
            status="TERMINATED",
        )
    )
    config.write_text(config.read_text().replace(without, everyone))
    reg.reset_requests()
    out = check(config)  # the data did not move, but the trial is back: full fetch
    assert (
        f"{TRIALS[1]} — Trial {TRIALS[1]}\n  [HIGH] Overall status changed from Recruiting to Terminated.\n  Overall Status: Recruiting → Terminated"
        in out
    )
    assert reg.requests[-1].params["filter.ids"] == TRIALS[1]
    reg.reset_requests()
    check(config)
    assert len(reg.requests) == 1  # and then it is part of the scope again


def test_an_unknown_trial_is_not_fetched_every_cycle_and_is_seen_when_it_appears(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    unknown = "NCT00000077"
    config = config_for(tmp_path, reg, trials=[*TRIALS, unknown])
    assert "not found 1 (NCT00000077)" in check(config)
    reg.reset_requests()
    out = check(config)  # registry data unchanged: the probe alone, no full fetch of it
    assert [r.path for r in reg.requests] == ["/api/v2/version"]
    assert "not found 0" in out
    status = json.loads(run_cli(config, "status", "--json").stdout)
    row = next(t for t in status["trials"] if t["nct_id"] == unknown)
    assert row["last_error"] == "not found in the registry"
    reg.put(make_study(unknown, "Registered at last", last_update="2026-01-05"))
    reg.set_data_timestamp(DAY2)
    reg.reset_requests()
    out = check(config)  # its post date falls in the listing's window: fetched, baselined
    assert "new 1" in out and "not found 0" in out
    assert reg.requests[-1].params["filter.ids"] == unknown
    history = run_cli(config, "history", unknown)
    assert history.exit_code == 0 and "baseline" in history.stdout
