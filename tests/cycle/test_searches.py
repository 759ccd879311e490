"""Searches in cycles, against the registry double over HTTP: baseline, events, light on the
registry, the weekly reconcile, max_trials, and a registry that lies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.search_setup import (
    DAY1,
    DAY2,
    DAY3,
    RECTAL,
    check,
    refresh,
    rows,
    search_config,
    status_json,
    trial,
)
from watcher.core.destination import Destination
from watcher.core.search_url import from_url
from watcher.registry.client import RegistryClient
from watcher.registry.http import HttpPolicy
from watcher.registry.searches import SearchReader
from watcher.store import OutboxRow, Store
from watcher.store.searches import MemberEvent, SearchUpdate
from watcher.testing.registry_double import RegistryDouble

A, B, C, D = "NCT00000001", "NCT00000002", "NCT00000003", "NCT00000004"


@pytest.fixture
def reg() -> Iterator[RegistryDouble]:
    studies = [trial(A, "Trial A"), trial(B, "Trial B"), trial(C, "Trial C", condition="Lung")]
    with RegistryDouble(studies, data_timestamp=DAY1) as double:
        yield double


def paths(reg: RegistryDouble) -> list[str]:
    return [r.path.removeprefix("/api/v2") for r in reg.requests]


def test_baseline_is_silent_and_a_quiet_cycle_is_one_request(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    out = check(config)
    assert out == (
        "checked 0 · changed 0 · new 0 · not found 0 · errors 0 · "
        "searches 1 (0 newly posted, 0 now matching, 0 no longer matching) · alerts sent 0\n"
    )
    assert paths(reg) == ["/version", "/studies"]
    assert reg.requests[1].params == {
        "query.cond": "rectal cancer", "aggFilters": "status:rec", "fields": "NCTId",
        "pageSize": "1000", "countTotal": "true",
    }  # fmt: skip
    assert rows(tmp_path / "ctwatch.db", "SELECT nct_id FROM search_members ORDER BY 1") == [
        (A,), (B,),
    ]  # fmt: skip
    reg.reset_requests()
    check(config)
    assert paths(reg) == ["/version"]
    (search,) = status_json(config)["searches"]
    assert search["name"] == "rectal" and search["members"] == 2 and search["last_event"] is None


def test_new_trial_now_matches_and_no_longer_matches_each_told_once(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    refresh(
        reg, DAY2,
        trial(D, "Trial D", first="2026-01-05", last="2026-01-05"),  # posted on DAY1's day: new
        trial(C, "Trial C", condition="Rectal Cancer", last="2026-01-05"),  # older: now matches
        trial(B, "Trial B", status="COMPLETED", last="2026-01-05"),  # stopped recruiting: left
    )  # fmt: skip
    reg.reset_requests()
    out = check(config)
    assert (
        "searches 1 (1 newly posted, 1 now matching, 1 no longer matching) · alerts sent 3" in out
    )
    assert (
        "Now matches · search “rectal”\nNCT00000003 — Trial C\n"
        "  Lead sponsor: First Affiliated Hospital of Zhejiang University\n"
        "  Phase: Phase 2\n  Overall status: Recruiting\n"
        "  Conditions: Rectal Cancer, Adenocarcinoma\n"
        "  Interventions: Drug 1, Drug 2, Drug 3 (+2 more)\n"
        "  Enrollment: 120 (estimated)\n"
        "  Locations: 3 sites in United States, France, Japan\n"
        "  First posted: 2025-01-10\n"
        "  https://clinicaltrials.gov/study/NCT00000003\n"
    ) in out
    assert "New trial · search “rectal”\nNCT00000004 — Trial D\n" in out
    assert (
        "No longer matches · search “rectal”\nNCT00000002 — Trial B\n"
        "  Overall status: Completed\n"
        "  https://clinicaltrials.gov/study/NCT00000002?tab=history\n"
    ) in out
    _probe, listing, since, confirm, cards = reg.requests
    assert listing.params["filter.ids"] == f"{A},{B}"  # the members ride on the shared listing
    assert since.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-01-02,MAX]"
    assert since.params["fields"] == "NCTId,StudyFirstPostDate,LastUpdatePostDate"
    assert since.params["query.cond"] == "rectal cancer"
    assert confirm.params["filter.ids"] == B and confirm.params["aggFilters"] == "status:rec"
    assert cards.params["filter.ids"] == f"{C},{D},{B}" and "fields" not in cards.params
    reg.reset_requests()
    assert "alerts sent 0" in check(config)  # nothing moved: one request, nothing told again
    assert paths(reg) == ["/version"]
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT kind, nct_id FROM search_events ORDER BY id") == [
        ("matches", C), ("new", D), ("left", B),
    ]  # fmt: skip
    assert rows(db, "SELECT COUNT(*) FROM outbox") == [(3,)]
    (search,) = status_json(config)["searches"]
    assert search["members"] == 3 and search["last_event"] is not None


def test_the_weekly_sweep_reconciles_what_no_post_date_announced(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    # registry-computed fields change matches without a new LastUpdatePostDate
    reg.put(trial(C, "Trial C", condition="Rectal Cancer"))
    reg.remove(A)
    refresh(reg, DAY2)
    out = check(config)
    assert (
        "0 newly posted, 0 now matching, 0 no longer matching" in out
    )  # incremental cannot see it
    reg.reset_requests()
    out = check(config, "--full")
    assert "0 newly posted, 1 now matching, 1 no longer matching" in out
    assert "Now matches · search “rectal”\nNCT00000003 — Trial C" in out
    assert (
        "No longer matches · search “rectal”\nNCT00000001\n"
        "  Registry: no longer returned by ClinicalTrials.gov\n"
    ) in out
    search = [r for r in reg.requests if "query.cond" in r.params]
    assert [r.params["fields"] for r in search] == ["NCTId"]  # the whole search, IDs only


def test_over_max_trials_records_nothing_names_it_and_carries_on(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    watch = '[[watch]]\nname = "w"\ntrials = ["NCT00000003"]\n'
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nmax_trials = 1', watch=watch)
    out = check(config)
    assert "checked 1 · " in out and "over max_trials: rectal (2)" in out
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM search_members") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM versions") == [(1,)]  # the watch went on
    (search,) = status_json(config)["searches"]
    assert search["over_max_trials"] == 2 and search["members"] == 0
    table = run_cli(config, "status").stdout
    assert "rectal (config): OVER max_trials: 2 trials match (max 1); not followed" in table
    reg.reset_requests()
    check(config)
    assert paths(reg) == ["/version"]  # counted for this refresh already


def test_back_under_max_trials_is_a_new_silent_baseline(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nmax_trials = 1')
    check(config)
    refresh(reg, DAY2, trial(B, "Trial B", status="COMPLETED", last="2026-01-05"))
    out = check(config)
    assert (
        "0 newly posted, 0 now matching, 0 no longer matching" in out
        and "over max_trials" not in out
    )
    assert status_json(config)["searches"][0]["members"] == 1


def test_a_count_that_explodes_while_paging_is_over_max_trials(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nmax_trials = 3')

    def study(nct: str) -> dict[str, object]:
        return {"protocolSection": {"identificationModule": {"nctId": nct}}}

    first = {"totalCount": 2, "studies": [study(A), study(B)], "nextPageToken": "t1"}
    more = {"studies": [study(C), study(D), study("NCT00000005")], "nextPageToken": "t2"}
    reg.fail_next(200, json.dumps(first), content_type="application/json",
                  when=lambda p: "query.cond" in p and "pageToken" not in p)  # fmt: skip
    reg.fail_next(200, json.dumps(more), content_type="application/json",
                  when=lambda p: p.get("pageToken") == "t1")  # fmt: skip
    out = check(config)
    assert "over max_trials: rectal (5)" in out
    assert rows(tmp_path / "ctwatch.db", "SELECT COUNT(*) FROM search_members") == [(0,)]


def test_a_member_returned_twice_counts_once(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nmax_trials = 2')
    page = {"totalCount": 2, "studies": [reg.get(A), reg.get(A), reg.get(B)]}
    reg.fail_next(200, json.dumps(page), content_type="application/json")
    out = check(config)
    assert "over max_trials" not in out
    assert status_json(config)["searches"][0]["members"] == 2


def test_paging_is_bounded_and_a_failed_search_costs_nothing_else(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    watch = '[[watch]]\nname = "w"\ntrials = ["NCT00000003"]\n'
    config = search_config(tmp_path, reg, watch=watch)
    for token in ("t1", "t2"):  # a registry that would never stop paging
        page = {"totalCount": 2, "studies": [reg.get(A), reg.get(B)], "nextPageToken": token}
        reg.fail_next(200, json.dumps(page), content_type="application/json",
                      when=lambda p: "query.cond" in p)  # fmt: skip
    out = check(config)
    assert "search errors 1 (rectal)" in out and "checked 1 · " in out
    searches = [r for r in reg.requests if "query.cond" in r.params]
    assert len(searches) == 2  # stopped at the page count the first page's totalCount allows
    (search,) = status_json(config)["searches"]
    assert "kept paging past 2 pages" in search["error"]
    out = check(config)  # the registry behaves again: the search gets its baseline
    assert "search errors" not in out and status_json(config)["searches"][0]["members"] == 2


def test_events_are_recorded_only_with_their_cards_and_never_twice(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    refresh(reg, DAY2, trial(D, "Trial D", first="2026-01-05", last="2026-01-05"))
    cards = {"when": lambda p: "fields" not in p and "filter.ids" in p}
    reg.fail_next(503, "down", times=2, **cards)  # type: ignore[arg-type]
    out = check(config)
    assert "search errors 1 (rectal)" in out and "alerts sent 0" in out
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM search_events") == [(0,)]
    out = check(config)  # the same refresh: asked again, told once
    assert "1 newly posted, 0 now matching" in out and "New trial · search “rectal”" in out
    check(config)
    assert rows(db, "SELECT kind, nct_id FROM search_events") == [("new", D)]
    assert rows(db, "SELECT COUNT(*) FROM outbox WHERE kind = 'search.new'") == [(1,)]


def test_another_query_is_a_new_silent_baseline(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    lung = "https://clinicaltrials.gov/search?cond=lung"
    config = search_config(tmp_path, reg, f'url = "{lung}"')
    out = check(config)
    assert "0 newly posted, 0 now matching, 0 no longer matching" in out
    assert rows(tmp_path / "ctwatch.db", "SELECT nct_id FROM search_members") == [(C,)]


def test_check_json_names_each_event(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    refresh(reg, DAY3, trial(B, "Trial B", status="SUSPENDED", last="2026-01-06"))
    data = json.loads(check(config, "--json"))
    assert data["searches"]["events"] == [{"search": "rectal", "event": "left", "nct_id": B}]
    assert (
        data["ok"] is True
        and data["alerts"][0]["headline"] == "No longer matches · search “rectal”"
    )


def test_watches_and_searches_share_one_listing(tmp_path: Path, reg: RegistryDouble) -> None:
    watch = '[[watch]]\nname = "w"\ntrials = ["NCT00000003"]\n'
    config = search_config(tmp_path, reg, watch=watch)
    check(config)
    refresh(reg, DAY2, trial(C, "Trial C", condition="Lung", status="SUSPENDED", last="2026-01-05"))
    reg.reset_requests()
    out = check(config)
    assert "changed 1" in out and "0 newly posted, 0 now matching, 0 no longer matching" in out
    ids_only = "NCTId,NCTIdAlias,LastUpdatePostDate"
    listings = [r for r in reg.requests if r.params.get("fields") == ids_only]
    assert [r.params["filter.ids"] for r in listings] == [f"{C},{A},{B}"]  # one, for both
    assert len(reg.requests) == 4  # probe, listing, the search's "posted since", C's record


def test_a_search_answer_without_ids_fails_the_check_never_empties_it(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    nameless = {"totalCount": 1, "studies": [{"protocolSection": {}}]}
    reg.fail_next(200, json.dumps(nameless), content_type="application/json",
                  when=lambda p: "query.cond" in p)  # fmt: skip
    out = check(config, "--full")
    assert "search errors 1 (rectal)" in out and "no longer matching" in out
    assert "0 newly posted, 0 now matching, 0 no longer matching" in out
    assert status_json(config)["searches"][0]["members"] == 2


def test_a_short_answer_fails_the_check_never_empties_it(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    short = {"totalCount": 2, "studies": [reg.get(A)]}  # says 2, serves 1, no next page
    reg.fail_next(200, json.dumps(short), content_type="application/json",
                  when=lambda p: "query.cond" in p)  # fmt: skip
    out = check(config, "--full")
    assert "search errors 1 (rectal)" in out
    assert "0 newly posted, 0 now matching, 0 no longer matching" in out and "alerts sent 0" in out
    (search,) = status_json(config)["searches"]
    assert search["members"] == 2
    assert "the registry counted 2 results but served 1 distinct trial" in search["error"]
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT data_timestamp FROM searches") == [(DAY1,)]  # the watermark stays
    out = check(config, "--full")  # a whole answer: nothing moved, nothing told
    assert (
        "search errors" not in out and "0 newly posted, 0 now matching, 0 no longer matching" in out
    )
    assert rows(db, "SELECT COUNT(*) FROM search_events") == [(0,)]


def test_a_short_confirmation_never_calls_a_member_gone(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    moved = trial(B, "Trial B", last="2026-01-05")  # changed, still recruiting: still a member
    moved["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 80
    refresh(reg, DAY2, moved)
    empty = {"totalCount": 0, "studies": []}  # the "posted since" answer misses B
    reg.fail_next(200, json.dumps(empty), content_type="application/json",
                  when=lambda p: "query.cond" in p and "filter.advanced" in p)  # fmt: skip
    # the confirmation counts B but serves nothing, and again when B is asked for alone
    short = {"totalCount": 1, "studies": []}
    reg.fail_next(200, json.dumps(short), content_type="application/json", times=2,
                  when=lambda p: "query.cond" in p and "filter.ids" in p)  # fmt: skip
    out = check(config)
    assert "search errors 1 (rectal)" in out and "No longer matches" not in out
    out = check(config)  # the same refresh, asked again in full: B is still there
    assert "0 newly posted, 0 now matching, 0 no longer matching" in out
    assert rows(tmp_path / "ctwatch.db", "SELECT COUNT(*) FROM search_events") == [(0,)]


def test_confirming_many_members_halves_a_request_the_registry_finds_too_long() -> None:
    members = [f"NCT{n:08d}" for n in range(1, 41)]
    studies = [trial(n, f"Trial {n}") for n in members]
    query = from_url(RECTAL)
    with (
        RegistryDouble(studies, max_url_length=400) as reg,
        RegistryClient(reg.url, HttpPolicy(pace=0.0, retries=1, backoff=0.0)) as client,
    ):
        assert SearchReader(client).still_matching(query, members) == set(members)
        sent = [r for r in reg.requests if r.status == 200]
        assert 414 in [r.status for r in reg.requests]
        assert all(r.params["aggFilters"] == "status:rec" for r in sent)
        assert sorted(n for r in sent for n in r.params["filter.ids"].split(",")) == members


def test_an_unusable_data_timestamp_keeps_the_watermark_and_new_stays_new(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg)
    check(config)
    reg.set_data_timestamp("not-a-timestamp")  # a registry that lies once
    check(config)
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT data_timestamp FROM searches") == [(DAY1,)]
    refresh(reg, DAY2, trial(D, "Trial D", first="2026-01-06", last="2026-01-06"))
    out = check(config)
    assert "1 newly posted, 0 now matching" in out and "New trial · search “rectal”" in out
    assert rows(db, "SELECT data_timestamp FROM searches") == [(DAY2,)]


def test_a_search_failing_check_after_check_is_told_once_and_once_when_it_works(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    mail = '[email]\nhost = "127.0.0.1"\nsender = "ctwatch@example.org"\n'
    secret = {"SMTP_PASSWORD": "pw-search-42"}
    mail += 'username = "bot"\npassword = "${SMTP_PASSWORD}"\n'
    config = search_config(tmp_path, reg, watch=mail)
    check(config, env=secret)
    outs = []
    for day in range(6, 10):  # four refreshes, the search refused at each
        reg.set_data_timestamp(f"2026-01-{day:02d}T09:00:06")
        reg.fail_next(400, "unknown parameter near pw-search-42",
                      when=lambda p: "query.cond" in p)  # fmt: skip
        outs.append(check(config, env=secret))  # exit 0: the cycle completes
    assert all("search errors 1 (rectal)" in out for out in outs)
    told = [out for out in outs if "cannot be checked" in out]
    assert len(told) == 1 and "alerts sent 1" in outs[2]  # after the third, once
    assert (
        "ctwatch: search “rectal” cannot be checked\n  The last 3 checks of the search “rectal” "
        "failed: registry answered HTTP 400: unknown parameter near ***"
    ) in told[0]
    assert "pw-search-42" not in "".join(outs)
    back = check(config, env=secret)
    assert "ctwatch: search “rectal” is checked again" in back and "search errors" not in back
    reg.set_data_timestamp("2026-01-12T09:00:06")
    assert "alerts sent 0" in check(config, env=secret)  # told once
    db = tmp_path / "ctwatch.db"
    assert rows(db, "SELECT COUNT(*) FROM outbox WHERE kind = 'notice'") == [(2,)]
    assert rows(db, "SELECT consecutive_errors FROM searches") == [(0,)]


def test_a_trial_no_longer_watched_entering_a_search_is_carded_as_it_is_now(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    watch = f'[[watch]]\nname = "w"\ntrials = ["{C}"]\n'
    check(search_config(tmp_path, reg, watch=watch))  # C's versions stay when the watch goes
    config = search_config(tmp_path, reg)
    moved = trial(C, "Trial C (rectal arm)", condition="Rectal Cancer", last="2026-01-05")
    refresh(reg, DAY2, moved)
    out = check(config)
    assert "Now matches · search “rectal”\nNCT00000003 — Trial C (rectal arm)\n" in out
    assert "  Conditions: Rectal Cancer, Adenocarcinoma\n" in out


def test_applying_the_same_check_twice_tells_nobody_twice(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    row = OutboxRow(Destination.console(), kind="search.new", payload={"x": 1}, nct_id=D)
    event = MemberEvent(D, "new", {"x": 1}, (row,))
    update = SearchUpdate("s", "{}", "2026-01-06T10:00:00Z", DAY2, entered=(event,))
    assert store.searches.apply(update) == 1
    assert store.searches.apply(update) == 0  # already a member: no second event, no row
    gone = MemberEvent(D, "left", {"x": 2}, (row,))
    left = SearchUpdate("s", "{}", "2026-01-07T10:00:00Z", DAY3, left=(gone, gone))
    assert store.searches.apply(left) == 1
    assert store.outbox.counts()["pending"] == 2
    store.close()


def test_growth_past_max_trials_between_checks_is_named_with_the_whole_count(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\nmax_trials = 2')
    check(config)
    new = [
        trial(f"NCT0000001{i}", f"New {i}", first="2026-01-05", last="2026-01-05") for i in range(3)
    ]
    refresh(reg, DAY2, *new)
    out = check(config)
    assert "over max_trials: rectal (5)" in out  # not the 3 posted since: the search's 5
    assert rows(tmp_path / "ctwatch.db", "SELECT COUNT(*) FROM search_events") == [(0,)]
