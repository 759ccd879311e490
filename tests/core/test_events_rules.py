"""The event rules one by one, on real-shaped records (history, thresholds, bad input)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from watcher.core.diff import diff_records
from watcher.core.events import (
    ClockState,
    Event,
    EventFilter,
    Level,
    Thresholds,
    clock_facts,
    evaluate,
)
from watcher.core.events.classify import classify, needs_history
from watcher.core.events.dates import parse_date
from watcher.core.events.facts import facts_of


def study(**status: Any) -> dict[str, Any]:
    """A record shaped like the registry's, with statusModule fields overridden."""
    record: dict[str, Any] = {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567", "briefTitle": "A trial"},
            "statusModule": {
                "overallStatus": "RECRUITING",
                "statusVerifiedDate": "2024-05",
                "startDateStruct": {"date": "2023-01-15", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2025-06", "type": "ESTIMATED"},
                "completionDateStruct": {"date": "2025-12", "type": "ESTIMATED"},
                "lastUpdateSubmitDate": "2024-05-01",
                "lastUpdatePostDateStruct": {"date": "2024-05-03", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Acme", "class": "INDUSTRY"}},
            "oversightModule": {"isFdaRegulatedDrug": True, "isFdaRegulatedDevice": False},
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE3"],
                "enrollmentInfo": {"count": 200, "type": "ESTIMATED"},
            },
            "armsInterventionsModule": {
                "armGroups": [{"label": "Drug A"}],
                "interventions": [{"type": "DRUG", "name": "Drug A"}],
            },
            "outcomesModule": {"primaryOutcomes": [{"measure": "Overall survival"}]},
            "eligibilityModule": {"eligibilityCriteria": "Adults", "sex": "ALL"},
            "contactsLocationsModule": {
                "locations": [
                    {
                        "facility": "MGH",
                        "city": "Boston",
                        "country": "United States",
                        "status": "RECRUITING",
                    }
                ],
            },
        },
        "hasResults": False,
    }
    record["protocolSection"]["statusModule"].update(status)
    return record


def edit(record: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    node = out
    keys = path.split(".")
    for key in keys[:-1]:
        node = node[key]
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value
    return out


def events_of(old: Any, new: Any, earlier: list[Any] = [], **t: Any) -> dict[str, Event]:  # noqa: B006
    found = classify(old, new, diff_records(old, new), [facts_of(e) for e in earlier],
                     Thresholds(**t))  # fmt: skip
    return {e.type: e for e in found}


PCD = "protocolSection.statusModule.primaryCompletionDateStruct"
STATUS = "protocolSection.statusModule.overallStatus"
ENROLL = "protocolSection.designModule.enrollmentInfo"


# ---- status -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("to", "level"), [("TERMINATED", Level.HIGH), ("SUSPENDED", Level.HIGH),
                      ("WITHDRAWN", Level.HIGH), ("ACTIVE_NOT_RECRUITING", Level.MEDIUM)],
)  # fmt: skip
def test_status_levels(to: str, level: Level) -> None:
    old = study()
    new = edit(study(whyStopped="Funding ended"), STATUS, to)
    event = events_of(old, new)["status.changed"]
    assert event.level is level
    assert (event.values["from"], event.values["to"]) == ("RECRUITING", to)
    if level is Level.HIGH:
        assert event.values["why_stopped"] == "Funding ended"
        assert "Funding ended" in event.summary
    else:
        assert event.values["why_stopped"] is None


# ---- dates --------------------------------------------------------------------


def test_slip_history_counts_this_slip_and_totals_since_the_first_known_date() -> None:
    v1 = study(primaryCompletionDateStruct={"date": "2024-09", "type": "ESTIMATED"})
    v2 = study(primaryCompletionDateStruct={"date": "2025-03", "type": "ESTIMATED"})
    v3 = study(primaryCompletionDateStruct={"date": "2025-06", "type": "ESTIMATED"})
    v4 = study(primaryCompletionDateStruct={"date": "2026-09", "type": "ESTIMATED"})
    slip = events_of(v3, v4, earlier=[v1, v2])["dates.primary_completion_slipped"]
    assert slip.values["slip_count"] == 3
    assert slip.values["first_known"] == "2024-09"
    assert slip.values["days_since_first_known"] == (date(2026, 9, 30) - date(2024, 9, 30)).days
    assert slip.values["days"] == (date(2026, 9, 30) - date(2025, 6, 30)).days
    assert slip.level is Level.HIGH
    assert "3rd slip" in slip.summary and "since 2024-09 (first known)" in slip.summary


def test_slip_threshold_and_pull_in_direction() -> None:
    old = study()
    later = edit(old, PCD, {"date": "2025-08", "type": "ESTIMATED"})
    assert events_of(old, later)["dates.primary_completion_slipped"].level is Level.MEDIUM
    assert (
        events_of(old, later, slip_high_days=30)["dates.primary_completion_slipped"].level
        is Level.HIGH
    )
    earlier = edit(old, PCD, {"date": "2025-05-02", "type": "ACTUAL"})
    found = events_of(old, earlier)
    assert "dates.primary_completion_slipped" not in found
    assert found["dates.primary_completion_pulled_in"].values["days"] == -59


def test_estimated_to_actual_with_the_same_day_is_no_event() -> None:
    old = study()
    new = edit(old, PCD, {"date": "2025-06-30", "type": "ACTUAL"})
    assert not [t for t in events_of(old, new) if t.startswith("dates.")]


@pytest.mark.parametrize("bad", ["2025-13", "soon", "", 2025, None, "2025-02-30"])
def test_a_date_that_does_not_parse_makes_no_date_event(bad: Any) -> None:
    old = study()
    new = edit(old, PCD, {"date": bad, "type": "ESTIMATED"} if bad is not None else None)
    assert not [t for t in events_of(old, new) if t.startswith("dates.")]
    assert not [t for t in events_of(new, old) if t.startswith("dates.")]


def test_month_only_dates_are_the_months_last_day() -> None:
    assert parse_date("2024-02") == date(2024, 2, 29)
    assert parse_date("2025-02") == date(2025, 2, 28)
    assert parse_date("2025-02-28") == date(2025, 2, 28)


# ---- enrollment ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("new_count", "level"), [(140, Level.HIGH), (170, Level.MEDIUM), (190, Level.LOW),
                             (300, Level.LOW)],
)  # fmt: skip
def test_target_cut_levels(new_count: int, level: Level) -> None:
    first = study()
    old = edit(first, ENROLL, {"count": 250, "type": "ESTIMATED"})
    old = edit(old, ENROLL, {"count": 200, "type": "ESTIMATED"})
    new = edit(old, ENROLL, {"count": new_count, "type": "ESTIMATED"})
    v0 = edit(first, ENROLL, {"count": 250, "type": "ESTIMATED"})
    event = events_of(old, new, earlier=[v0])["enrollment.target_changed"]
    assert event.level is level
    assert event.values["percent"] == round((new_count - 200) / 200 * 100, 1)
    assert event.values["first_target"] == 250


def test_actual_reported_carries_the_percent_of_the_last_target() -> None:
    old = study()
    new = edit(old, ENROLL, {"count": 150, "type": "ACTUAL"})
    found = events_of(old, new)
    assert "enrollment.target_changed" not in found
    actual = found["enrollment.actual_reported"]
    assert actual.values["percent_of_target"] == 75
    assert actual.level is Level.MEDIUM


@pytest.mark.parametrize("old_info", [None, {"type": "ESTIMATED"}, {"count": 0},
                                      {"count": "many"}])  # fmt: skip
def test_no_target_no_percent_no_wrong_level(old_info: Any) -> None:
    old = edit(study(), ENROLL, old_info)
    new = edit(study(), ENROLL, {"count": 80, "type": "ESTIMATED"})
    assert "enrollment.target_changed" not in events_of(old, new)
    reported = events_of(old, edit(new, ENROLL, {"count": 80, "type": "ACTUAL"}))
    actual = reported["enrollment.actual_reported"]
    assert actual.values["percent_of_target"] is None
    assert actual.level is Level.LOW


# ---- results, protocol, administrative ------------------------------------------------


def test_results_posted_is_high() -> None:
    old = study()
    new = copy.deepcopy(old)
    new["hasResults"] = True
    new["protocolSection"]["statusModule"]["resultsFirstSubmitDate"] = "2026-05-01"
    event = events_of(old, new)["results.posted"]
    assert event.level is Level.HIGH and event.values["submitted"] == "2026-05-01"


def test_protocol_families() -> None:
    old = study()
    new = copy.deepcopy(old)
    p = new["protocolSection"]
    p["outcomesModule"]["primaryOutcomes"].append({"measure": "Response rate"})
    p["outcomesModule"]["secondaryOutcomes"] = [{"measure": "Toxicity"}]
    p["armsInterventionsModule"]["armGroups"].append({"label": "Placebo"})
    p["eligibilityModule"]["eligibilityCriteria"] = "Adults over 50"
    p["sponsorCollaboratorsModule"]["leadSponsor"]["name"] = "Beta Pharma"
    p["contactsLocationsModule"]["locations"][0]["status"] = "COMPLETED"
    p["contactsLocationsModule"]["locations"].append(
        {"facility": "Dana-Farber", "city": "Boston", "country": "United States"}
    )
    p["contactsLocationsModule"]["centralContacts"] = [{"name": "Jane Roe"}]
    found = events_of(old, new)
    assert found["outcomes.primary_changed"].level is Level.HIGH
    assert found["outcomes.primary_changed"].values["added"] == 1
    assert found["outcomes.secondary_changed"].level is Level.MEDIUM
    assert found["arms.changed"].level is Level.HIGH
    assert found["eligibility.changed"].level is Level.MEDIUM
    sponsor = found["sponsor.changed"]
    assert (sponsor.level, sponsor.values["from"], sponsor.values["to"]) == (
        Level.HIGH, "Acme", "Beta Pharma")  # fmt: skip
    sites = found["sites.changed"]
    assert (sites.values["added"], sites.values["status_changed"]) == (1, 1)
    assert found["contacts.changed"].level is Level.LOW
    assert "record.administrative" not in found


def test_administrative_only_is_one_info_event() -> None:
    old = study()
    new = study(statusVerifiedDate="2024-06", lastUpdateSubmitDate="2024-06-01")
    found = classify(old, new, diff_records(old, new))
    assert [(e.type, e.level) for e in found] == [("record.administrative", Level.INFO)]


def test_types_can_be_turned_off_by_pattern() -> None:
    old = study()
    new = edit(study(whyStopped="x"), STATUS, "TERMINATED")
    new = edit(new, PCD, {"date": "2027-01", "type": "ESTIMATED"})
    assert set(events_of(old, new, off=("dates.*",))) == {"status.changed"}


def test_needs_history_only_for_date_and_enrollment_changes() -> None:
    old = study()
    assert not needs_history(diff_records(old, edit(old, STATUS, "COMPLETED")))
    assert needs_history(diff_records(old, edit(old, PCD, {"date": "2026-01"})))


def test_odd_shapes_never_raise() -> None:
    odd: list[Any] = [{}, {"protocolSection": None}, {"protocolSection": {"statusModule": []}}]
    for old in odd:
        for new in [*odd, study()]:
            classify(old, new, diff_records(old, new))


_READ_BY_RULES = [
    "protocolSection.statusModule.overallStatus",
    "protocolSection.statusModule.whyStopped",
    "protocolSection.statusModule.startDateStruct",
    "protocolSection.statusModule.primaryCompletionDateStruct",
    "protocolSection.statusModule.primaryCompletionDateStruct.date",
    "protocolSection.statusModule.completionDateStruct.date",
    "protocolSection.statusModule.dispFirstSubmitDate",
    "protocolSection.statusModule.resultsFirstSubmitDate",
    "protocolSection.designModule.studyType",
    "protocolSection.designModule.phases",
    "protocolSection.designModule.enrollmentInfo",
    "protocolSection.designModule.enrollmentInfo.count",
    "protocolSection.oversightModule",
    "protocolSection.armsInterventionsModule.interventions",
    "protocolSection.contactsLocationsModule.locations",
    "protocolSection.sponsorCollaboratorsModule.leadSponsor.name",
    "hasResults",
]
_ODD_VALUES: list[Any] = [
    [], {}, ["RECRUITING"], [{"type": ["DRUG"], "country": ["United States"]}], [[]],
    {"date": []}, {"date": 2025}, 0, -1, 1.5, True, "", "garbage", "2017-13-45",
]  # fmt: skip


@pytest.mark.parametrize("path", _READ_BY_RULES)
def test_every_field_the_rules_read_may_hold_anything(path: str) -> None:
    """A registry that lies about a field's type (a list where text belongs, a number
    where an object does) makes no event from that rule and never raises: a raise would
    leave the trial unrecorded, every cycle. Both sides of a change, and the time rules
    (at a legacy trial's dates too, so the intervention and site tests are reached)."""
    legacy = edit(study(startDateStruct={"date": "2016-05", "type": "ACTUAL"}),
                  "protocolSection.oversightModule", {})  # fmt: skip
    phase_one = edit(study(), "protocolSection.designModule.phases", ["PHASE1"])  # no deadline
    for base in (study(), legacy, phase_one):
        for value in _ODD_VALUES:
            odd = edit(base, path, value)
            for old, new in ((base, odd), (odd, base)):
                classify(old, new, diff_records(old, new))
            for today in (date(2016, 1, 1), date(2026, 12, 7), date(2040, 1, 1)):
                evaluate(clock_facts(odd), None, today, Thresholds())


def test_filters_count_no_event_as_info() -> None:
    high = Event("status.changed", Level.HIGH, "x")
    assert EventFilter().passes([])
    assert not EventFilter(Level.HIGH).passes([])
    assert EventFilter(Level.MEDIUM).passes([high])
    assert not EventFilter(types=("dates.*",)).passes([high])
    assert EventFilter(Level.HIGH, ("status.*",)).passes([high])


# ---- time events ----------------------------------------------------------------


def clock(
    record: dict[str, Any], before: ClockState | None, today: str
) -> tuple[ClockState, list[str]]:
    state, events = evaluate(clock_facts(record), before, date.fromisoformat(today), Thresholds())
    return state, [e.type for e in events]


def test_fdaaa_transitions_are_told_once_each() -> None:
    record = study(primaryCompletionDateStruct={"date": "2025-06", "type": "ACTUAL"},
                   overallStatus="COMPLETED")  # fmt: skip
    state, told = clock(record, None, "2026-01-01")
    assert (state.results, told) == (None, [])
    state, told = clock(record, state, "2026-06-10")  # due 2026-06-30
    assert (state.results, told) == ("due_soon", ["results.due_soon"])
    assert clock(record, state, "2026-06-11")[1] == []  # told once
    state, told = clock(record, state, "2026-07-01")
    assert told == ["results.due"]
    state, told = clock(record, state, "2026-07-31")  # grace ends 2026-07-30
    assert told == ["results.overdue"]
    late = copy.deepcopy(record)
    late["protocolSection"]["statusModule"]["resultsFirstSubmitDate"] = "2026-09-01"
    state, told = clock(late, state, "2026-09-02")
    assert told == ["results.reported_late"]


def test_certificate_of_delay_gives_three_years() -> None:
    record = study(primaryCompletionDateStruct={"date": "2025-06-15", "type": "ACTUAL"},
                   dispFirstSubmitDate="2026-05-01")  # fmt: skip
    facts = clock_facts(record)
    assert facts.deadline is not None and facts.deadline.due == date(2028, 6, 15)


@pytest.mark.parametrize(
    "change",
    [
        {"protocolSection.designModule.phases": ["PHASE1"]},
        {"protocolSection.designModule.phases": []},
        {"protocolSection.designModule.studyType": "OBSERVATIONAL"},
        {"protocolSection.oversightModule": {"isFdaRegulatedDrug": False}},
    ],
)
def test_not_applicable_makes_no_results_event(change: dict[str, Any]) -> None:
    record = study(primaryCompletionDateStruct={"date": "2020-06", "type": "ACTUAL"})
    for path, value in change.items():
        record = edit(record, path, value)
    assert clock_facts(record).deadline is None


def test_legacy_trials_need_a_us_site_and_a_regulated_intervention() -> None:
    record = study(startDateStruct={"date": "2015-01"},
                   primaryCompletionDateStruct={"date": "2018-06", "type": "ACTUAL"})  # fmt: skip
    record = edit(record, "protocolSection.oversightModule", {})
    assert clock_facts(record).deadline is not None
    abroad = copy.deepcopy(record)
    abroad["protocolSection"]["contactsLocationsModule"]["locations"][0]["country"] = "France"
    assert clock_facts(abroad).deadline is None


def test_stale_is_told_once_and_again_after_it_ended() -> None:
    record = study(primaryCompletionDateStruct={"date": "2025-06", "type": "ESTIMATED"})
    state, told = clock(record, ClockState(), "2025-07-30")
    assert told == []
    state, told = clock(record, state, "2025-07-31")
    assert told == ["record.stale"] and state.stale
    assert clock(record, state, "2025-09-01")[1] == []


def test_clock_facts_round_trip_through_json() -> None:
    record = study(primaryCompletionDateStruct={"date": "2025-06", "type": "ACTUAL"},
                   resultsFirstSubmitDate="2026-01-02")  # fmt: skip
    facts = clock_facts(record)
    assert type(facts).from_json(facts.to_json()) == facts


def test_a_change_is_found_under_each_prefix_of_its_path_and_no_other() -> None:
    """``Change.under``/``touches`` answer from an index of path prefixes: a change sits
    under every dotted prefix of its schema path, in record order, and never under a
    name that merely starts the same way (``overallStatus`` is not ``overall``)."""
    from watcher.core.events.context import Change  # noqa: PLC0415

    old = study()
    new = study(overallStatus="COMPLETED", whyStopped="done")
    new["protocolSection"]["contactsLocationsModule"] = {
        "locations": [{"facility": "A", "city": "Oslo"}, {"facility": "B", "city": "Bergen"}]
    }
    changes = diff_records(old, new)
    change = Change(old, new, changes, (), Thresholds())
    status = "protocolSection.statusModule"
    assert [c.path for c in change.under(status)] == [
        c.path for c in changes if c.path.startswith(status + ".")
    ]
    assert change.touches(f"{status}.overallStatus")
    assert not change.touches(f"{status}.overall")
    assert not change.touches("protocolSection.status")
    sites = change.under("protocolSection.contactsLocationsModule.locations")
    assert sites and all("locations" in c.path for c in sites)
    assert change.under("protocolSection.contactsLocationsModule.locations.city") == [
        c for c in sites if c.schema_path.endswith(".city")
    ]
    assert change.under("protocolSection.designModule") == []
    change.under(status).clear()  # a caller's list is its own
    assert change.under(status)


def test_trials_of_one_status_and_date_share_their_facts_and_first_sight_write() -> None:
    """Facts without a deadline are one value per status and date, and so is what a
    baseline makes of them (state, stale event): the shared write equals a write made
    afresh for every status, date, day and threshold, and never crosses thresholds."""
    from watcher.cycle import time_events  # noqa: PLC0415

    def trial(status: str, pcd: str) -> dict[str, Any]:
        record = edit(study(overallStatus=status, primaryCompletionDateStruct={"date": pcd}),
                      "protocolSection.designModule.phases", ["PHASE1"])  # fmt: skip
        assert clock_facts(record).deadline is None
        return record

    a, b = trial("RECRUITING", "2025-06"), trial("RECRUITING", "2025-06")
    assert clock_facts(a) is clock_facts(b)
    assert clock_facts(trial("RECRUITING", "2025-06-30")) is not clock_facts(a)
    days = [date(2025, 6, 30), date(2025, 7, 31), date(2026, 12, 7)]
    for status in ("RECRUITING", "NOT_YET_RECRUITING", "ENROLLING_BY_INVITATION"):
        for pcd in ("2025-06", "2025-06-30", "2026-11-06", "2024-02"):
            facts = clock_facts(trial(status, pcd))
            for t in (
                Thresholds(),
                Thresholds(stale_after_days=400),
                Thresholds(off=("record.*",)),
            ):
                for day in days:
                    shared = time_events.clock_write(facts, (day, t))
                    assert shared == time_events._write(facts, (day, t))
                    assert shared is time_events.clock_write(facts, (day, t))
                assert time_events.clock_write(facts) == time_events._write(facts, None)
    stale = time_events.clock_write(clock_facts(a), (date(2026, 12, 7), Thresholds()))
    assert [e.type for e in stale.events] == ["record.stale"]
    quiet = time_events.clock_write(
        clock_facts(a), (date(2026, 12, 7), Thresholds(off=("record.*",)))
    )
    assert quiet.events == () and quiet.state == stale.state


def test_an_events_stored_values_are_its_values_as_compact_json() -> None:
    event = Event("dates.completion_slipped", Level.HIGH, "s",
                  {"old": "2025-06", "new": "2026-06", "days": 365, "why": "“Ω”"})  # fmt: skip
    assert event.values_json == '{"old":"2025-06","new":"2026-06","days":365,"why":"“Ω”"}'
    assert event.values_json is event.values_json  # made once
