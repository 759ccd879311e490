"""``follow = true``: a search's members are watched field by field, like a watch's trials."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.search_setup import (
    DAY1,
    DAY2,
    DAY3,
    RECTAL,
    check,
    refresh,
    rows,
    search_config,
    trial,
)
from watcher.testing.registry_double import RegistryDouble

A, B, C = "NCT00000001", "NCT00000002", "NCT00000003"
DAY4 = "2026-01-08T09:00:06"
FOLLOW = f'url = "{RECTAL}"\nfollow = true\nfields = ["OverallStatus", "EnrollmentCount"]'


@pytest.fixture
def reg() -> Iterator[RegistryDouble]:
    studies = [trial(A, "Trial A"), trial(B, "Trial B"), trial(C, "Trial C", condition="Lung")]
    with RegistryDouble(studies, data_timestamp=DAY1) as double:
        yield double


def test_members_get_a_silent_baseline_and_history_is_queued(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, FOLLOW, extra="backfill = true")
    out = check(config)
    assert "new 2" in out and "alerts sent 0" in out  # two trial baselines, nothing told
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT nct_id FROM versions ORDER BY nct_id") == [(A,), (B,)]
    assert rows(db, "SELECT nct_id FROM backfill_queue ORDER BY nct_id") == [(A,), (B,)]
    reg.reset_requests()
    check(config)
    assert [r.path for r in reg.requests] == ["/api/v2/version"]  # the members are in scope


def test_member_changes_are_alerted_in_the_searchs_fields_once_per_destination(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    watch = f'[[watch]]\nname = "mine"\ntrials = ["{A}"]\n'  # shares the console with the search
    config = search_config(tmp_path, reg, FOLLOW, watch=watch)
    check(config)
    changed = trial(A, "Trial A", last="2026-01-05")
    changed["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 80, "type": "ACTUAL"}
    changed["protocolSection"]["statusModule"]["statusVerifiedDate"] = "2026-01"
    quiet = trial(B, "Trial B", last="2026-01-05")
    quiet["protocolSection"]["statusModule"]["statusVerifiedDate"] = "2026-01"  # not in fields
    refresh(reg, DAY2, changed, quiet)
    out = check(config)
    assert out.count("NCT00000001 — Trial A\n") == 1  # in a watch and the search: one message
    assert "Enrollment: 120 → 80" in out
    assert "Status Verified Date: 2025-09 → 2026-01" in out  # the watch asks for every field
    assert "NCT00000002" not in out  # the search's fields filter leaves B's change out
    assert "changed 2" in out and "alerts sent 1" in out


def test_a_trial_joining_is_baselined_at_once_and_followed_from_then_on(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, FOLLOW)
    check(config)
    refresh(reg, DAY2, trial(C, "Trial C", condition="Rectal cancer", last="2026-01-05"))
    reg.reset_requests()
    out = check(config)
    assert "Now matches · search “rectal”\nNCT00000003 — Trial C" in out
    studies = [r for r in reg.requests if r.path.endswith("/studies")]
    fetched = [r.params["filter.ids"] for r in studies if "fields" not in r.params]
    assert fetched == [C]  # one full fetch: the baseline, which the card then reads
    assert rows(tmp_path / "ctwatch.db", f"SELECT COUNT(*) FROM versions WHERE nct_id = '{C}'") == [
        (1,)
    ]
    suspended = trial(C, "Trial C", condition="Rectal cancer", last="2026-01-06")
    suspended["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 10
    refresh(reg, DAY3, suspended)
    assert "Enrollment: 120 → 10" in check(config)


def test_a_member_that_leaves_is_told_with_the_changes_that_explain_it(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, FOLLOW)
    check(config)
    refresh(reg, DAY2, trial(B, "Trial B", status="COMPLETED", last="2026-01-05"))
    out = check(config)
    assert "NCT00000002 — Trial B\n  Overall Status: Recruiting → Completed\n" in out  # followed
    assert (
        "No longer matches · search “rectal”\nNCT00000002 — Trial B\n"
        "  Overall Status: Recruiting → Completed\n"
        "  Last Update Posted: 2025-12-15 → 2026-01-05\n"
        "  https://clinicaltrials.gov/study/NCT00000002?tab=history\n"
    ) in out
    assert rows(tmp_path / "ctwatch.db", "SELECT nct_id FROM search_members") == [(A,)]
    refresh(reg, DAY3, trial(B, "Trial B", status="TERMINATED", last="2026-01-06"))
    assert "NCT00000002" not in check(config)  # no longer a member: no longer followed


def test_a_joining_trial_whose_record_cannot_be_read_is_told_once_later(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, FOLLOW)
    check(config)
    refresh(reg, DAY2, trial(C, "Trial C", condition="Rectal cancer", last="2026-01-05"))
    full_records = {"when": lambda p: "fields" not in p and "filter.ids" in p}
    reg.fail_next(503, "down", times=4, **full_records)  # type: ignore[arg-type]
    out = check(config)  # neither its baseline nor its card: the search waits
    assert "errors 1 (NCT00000003)" in out and "search errors 1 (rectal)" in out
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT nct_id FROM search_members ORDER BY 1") == [(A,), (B,)]
    out = check(config)  # the same refresh, asked again: baseline, then the event, once
    assert out.count("Now matches · search “rectal”") == 1
    check(config)
    assert rows(db, "SELECT kind, nct_id FROM search_events") == [("matches", C)]
    assert rows(db, f"SELECT COUNT(*) FROM versions WHERE nct_id = '{C}'") == [(1,)]


def test_a_search_over_max_trials_follows_nothing_until_it_is_back_under(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, f"{FOLLOW}\nmax_trials = 2")
    check(config)
    refresh(reg, DAY2, trial("NCT00000009", "Trial N", first="2026-01-05", last="2026-01-05"))
    assert "over max_trials: rectal (3)" in check(config)
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM search_members") == [(0,)]  # members unknown
    changed = trial(A, "Trial A", last="2026-01-06")
    changed["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 7
    refresh(reg, DAY3, changed)
    reg.reset_requests()
    out = check(config)
    assert "NCT00000001" not in out and "alerts sent 0" in out  # not followed: not told
    assert all(A not in r.params.get("filter.ids", "") for r in reg.requests)  # nor fetched
    reg.remove("NCT00000009")
    refresh(reg, DAY4)
    out = check(config)  # back under: a silent baseline, A read afresh (not followed meanwhile)
    assert "alerts sent 0" in out and "NCT00000001" not in out
    again = trial(A, "Trial A", last="2026-01-08")
    again["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 9
    refresh(reg, "2026-01-09T09:00:06", again)
    assert "Enrollment: 7 → 9" in check(config)  # never a diff against the version before


def test_a_member_coming_back_is_carded_and_baselined_from_its_fresh_record(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, FOLLOW)
    check(config)
    refresh(reg, DAY2, trial(B, "Trial B", status="SUSPENDED", last="2026-01-05"))
    assert "No longer matches · search “rectal”\nNCT00000002" in check(config)
    back = trial(B, "Trial B (amended)", last="2026-01-06")  # recruiting again, amended
    back["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 999
    refresh(reg, DAY3, back)
    out = check(config)
    assert "Now matches · search “rectal”\nNCT00000002 — Trial B (amended)\n" in out
    assert "  Overall status: Recruiting\n" in out and "  Enrollment: 999 (estimated)\n" in out
    assert "alerts sent 1" in out  # the card tells of the join: no change alert for the gap
    refresh(reg, DAY4)
    out = check(config)
    assert "NCT00000002" not in out and "alerts sent 0" in out  # nor one cycle later
    db = tmp_path / "ctwatch.db"
    assert rows(db, f"SELECT kind FROM outbox WHERE nct_id = '{B}' ORDER BY id") == [
        ("change",), ("search.left",), ("search.matches",),
    ]  # fmt: skip
    assert rows(db, f"SELECT COUNT(*) FROM versions WHERE nct_id = '{B}'") == [(3,)]


def test_a_followed_search_filters_member_changes_by_event_level(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nfollow = true\nmin_level = "high"')
    check(config)
    cut = trial(A, "Trial A", last="2026-01-05")  # 120 -> 110: a small cut, low
    cut["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 110
    big = trial(B, "Trial B", last="2026-01-05")  # 120 -> 60: a 50 % cut, high
    big["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 60
    refresh(reg, DAY2, cut, big)
    out = check(config)
    assert "changed 2" in out and "alerts sent 1" in out
    assert "NCT00000002 — Trial B\n  [HIGH] Enrollment target cut from 120 to 60" in out
    assert "NCT00000001" not in out
