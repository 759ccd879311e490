"""Every event type end to end: the registry double serves a change, a real cycle records
it, the events land in the store with their version, the console leads with them, and
``ctwatch events`` / ``history`` show them. Time events move with the injected clock."""

from __future__ import annotations

import copy
import csv
import io
import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from tests.support.event_records import base, due_trial
from tests.support.histories import historic, next_version, seed_history
from watcher.alerts.routing import build_routes
from watcher.app import App
from watcher.config import load_config
from watcher.core.events.model import EVENT_TYPES
from watcher.cycle.time_events import TimeEvents
from watcher.cycle.versioning import later_version
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.registry_history import HistoricVersion
from watcher.testing.samples import SEED_NCT

Edit = Callable[[dict[str, Any]], None]
T0 = datetime(2026, 1, 20, 12, 0, tzinfo=UTC)


def _status(s: dict[str, Any]) -> Any:
    return s["protocolSection"]["statusModule"]


def _p(s: dict[str, Any]) -> Any:
    return s["protocolSection"]


def _results(s: dict[str, Any]) -> None:
    s["hasResults"] = True
    _status(s)["resultsFirstSubmitDate"] = "2026-01-10"


EDITS: dict[str, Edit] = {
    "status.changed": lambda s: _status(s).update(overallStatus="TERMINATED",
                                                  whyStopped="Sponsor decision"),
    "dates.primary_completion_slipped": lambda s: _status(s).update(
        primaryCompletionDateStruct={"date": "2028-06", "type": "ESTIMATED"}),
    "dates.primary_completion_pulled_in": lambda s: _status(s).update(
        primaryCompletionDateStruct={"date": "2026-12", "type": "ESTIMATED"}),
    "dates.completion_slipped": lambda s: _status(s).update(
        completionDateStruct={"date": "2028-03", "type": "ESTIMATED"}),
    "dates.completion_pulled_in": lambda s: _status(s).update(
        completionDateStruct={"date": "2027-09", "type": "ESTIMATED"}),
    "dates.start_slipped": lambda s: _status(s).update(
        startDateStruct={"date": "2025-05-01", "type": "ACTUAL"}),
    "dates.start_pulled_in": lambda s: _status(s).update(
        startDateStruct={"date": "2025-02-01", "type": "ACTUAL"}),
    "enrollment.target_changed": lambda s: _p(s)["designModule"].update(
        enrollmentInfo={"count": 60, "type": "ESTIMATED"}),
    "enrollment.actual_reported": lambda s: _p(s)["designModule"].update(
        enrollmentInfo={"count": 95, "type": "ACTUAL"}),
    "results.posted": _results,
    "outcomes.primary_changed": lambda s: _p(s)["outcomesModule"]["primaryOutcomes"].append(
        {"measure": "R0 resection rate"}),
    "outcomes.secondary_changed": lambda s: _p(s)["outcomesModule"].update(
        secondaryOutcomes=[]),
    "arms.changed": lambda s: _p(s)["armsInterventionsModule"]["interventions"].append(
        {"type": "RADIATION", "name": "Short-course radiotherapy"}),
    "eligibility.changed": lambda s: _p(s)["eligibilityModule"].update(
        eligibilityCriteria="Adults aged 18-75 with MSS rectal cancer"),
    "sponsor.changed": lambda s: _p(s)["sponsorCollaboratorsModule"]["leadSponsor"].update(
        name="Zhejiang University"),
    "sites.changed": lambda s: _p(s)["contactsLocationsModule"]["locations"].append(
        {"facility": "Ningbo First Hospital", "city": "Ningbo", "country": "China"}),
    "contacts.changed": lambda s: _p(s)["contactsLocationsModule"].update(
        centralContacts=[{"name": "Dr. Wang"}]),
    "record.administrative": lambda s: _status(s).update(statusVerifiedDate="2026-01"),
}  # fmt: skip
TIME_TYPES = {
    "results.due_soon", "results.due", "results.overdue", "results.reported_late", "record.stale"
}  # fmt: skip


def test_every_event_type_has_a_scenario() -> None:
    assert set(EDITS) | TIME_TYPES == set(EVENT_TYPES)


@pytest.fixture
def setup(tmp_path: Path, registry: RegistryDouble) -> Iterator[tuple[Path, RegistryDouble]]:
    registry.put(base())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "check").exit_code == 0  # the silent baseline
    yield config, registry


def publish(registry: RegistryDouble, edit: Edit, posted: str = "2026-01-15") -> None:
    study = base()
    edit(study)
    _status(study)["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}
    registry.put(study)


@pytest.mark.parametrize("kind", sorted(EDITS))
def test_a_change_makes_its_event(setup: tuple[Path, RegistryDouble], kind: str) -> None:
    config, registry = setup
    publish(registry, EDITS[kind])
    out = run_cli(config, "check")
    assert out.exit_code == 0, out.stderr
    listed = json.loads(run_cli(config, "events", "--json").stdout)
    mine = [e for e in listed if e["type"] == kind]
    assert len(mine) == 1, listed
    event = mine[0]
    assert set(event) == {"nct_id", "type", "level", "summary", "values", "version",
                          "detected_at", "source"}  # fmt: skip
    assert (event["nct_id"], event["version"], event["source"]) == (SEED_NCT, "#2", "observed")
    if event["level"] == "info":
        assert f"{SEED_NCT} — " in out.stdout and ": Only administrative" in out.stdout
    else:  # the console leads with the event, the field diff below it
        head = out.stdout.split("\n")
        assert head[1].startswith(f"  [{event['level'].upper()}] ")
    history = run_cli(config, "history", SEED_NCT).stdout
    assert f"  {event['level']}: {event['summary']}" in history


def test_a_change_no_destination_wants_is_recorded_and_not_sent(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(base())
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra='min_level = "high"')
    run_cli(config, "check")
    publish(registry, EDITS["sites.changed"])  # low: under the watch's min_level
    quiet = run_cli(config, "check").stdout
    assert "changed 1" in quiet and "alerts sent 0" in quiet
    assert json.loads(run_cli(config, "events", "--json").stdout)[0]["type"] == "sites.changed"
    publish(registry, EDITS["status.changed"], posted="2026-01-16")
    loud = run_cli(config, "check").stdout
    assert "alerts sent 1" in loud and "[HIGH] Overall status changed" in loud


def test_event_type_patterns_filter_a_watch(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(base())
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='events = ["dates.*", "results.*"]'
    )
    run_cli(config, "check")
    publish(registry, EDITS["status.changed"])
    assert "alerts sent 0" in run_cli(config, "check").stdout
    publish(registry, EDITS["dates.primary_completion_slipped"], posted="2026-01-16")
    assert "alerts sent 1" in run_cli(config, "check").stdout


def test_slip_history_across_stored_versions(setup: tuple[Path, RegistryDouble]) -> None:
    config, registry = setup
    for posted, day in (("2026-01-15", "2028-01"), ("2026-02-15", "2028-09")):

        def slip(study: dict[str, Any], day: str = day) -> None:
            _status(study)["primaryCompletionDateStruct"] = {"date": day, "type": "ESTIMATED"}

        publish(registry, slip, posted)
        assert run_cli(config, "check").exit_code == 0
    listed = json.loads(run_cli(config, "events", "--type", "dates.primary_*", "--json").stdout)
    newest = listed[0]
    assert newest["values"]["slip_count"] == 2
    assert newest["values"]["first_known"] == "2027-06"
    assert "2nd slip" in newest["summary"]
    versions = json.loads(run_cli(config, "history", SEED_NCT, "--json").stdout)
    assert [v["number"] for v in versions] == [3, 2, 1]
    assert versions[0]["events"][0]["values"]["slip_count"] == 2
    assert versions[2]["events"] == []  # the baseline: nothing changed


def test_events_command_filters_and_formats(setup: tuple[Path, RegistryDouble]) -> None:
    config, registry = setup

    def both(study: dict[str, Any]) -> None:
        EDITS["status.changed"](study)
        EDITS["sites.changed"](study)

    publish(registry, both)
    run_cli(config, "check")
    high = json.loads(run_cli(config, "events", "--level", "high", "--json").stdout)
    assert [e["type"] for e in high] == ["status.changed"]
    medium_up = json.loads(run_cli(config, "events", "--level", "medium", "--json").stdout)
    assert {e["type"] for e in medium_up} == {"status.changed"}
    assert len(json.loads(run_cli(config, "events", "--json").stdout)) == 2
    assert json.loads(run_cli(config, "events", "--since", "2000-01-01", "--json").stdout)
    assert json.loads(run_cli(config, "events", "--watch", "test", "--json").stdout)
    assert json.loads(run_cli(config, "events", "NCT01234567", "--json").stdout) == []
    rows = list(csv.DictReader(io.StringIO(run_cli(config, "events", "--csv").stdout)))
    assert {r["type"] for r in rows} == {"status.changed", "sites.changed"}
    assert json.loads(rows[0]["values"]) is not None
    table = run_cli(config, "events").stdout
    assert "status.changed" in table and "Sponsor decision" in table


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--since", "soon"), "--since: 'soon' is neither a duration"),
        (("--type", "stauts.*"), "--type: 'stauts.*' matches no event type"),
        (("--level", "urgent"), "'urgent' is not one of"),
        (("--watch", "nope"), "--watch: no watch named 'nope'"),
        (("NCT123",), "NCT123"),
    ],
)
def test_events_command_bad_input_exits_2(
    setup: tuple[Path, RegistryDouble], args: tuple[str, ...], words: str
) -> None:
    config, _ = setup
    result = run_cli(config, "events", *args)
    assert result.exit_code == 2
    assert words in result.stderr + result.stdout
    assert "Traceback" not in result.stderr


def test_bad_events_config_exits_2_naming_the_key(tmp_path: Path) -> None:
    for extra, named in (
        ("[events]\nslip_high_days = 0\n", "events.slip_high_days"),
        ("[events]\nenrollment_cut_high = 1.5\n", "events.enrollment_cut_high"),
        ('[events]\noff = ["nothing.*"]\n', "events.off"),
        ("[events]\nenrollment_cut_high = 0.05\n", "enrollment_cut_medium"),
    ):
        config = write_config(tmp_path, "http://127.0.0.1:9/api/v2", [SEED_NCT], extra=extra)
        result = run_cli(config, "config", "check")
        assert result.exit_code == 2 and named in result.stderr, (extra, result.stderr)
    config = write_config(tmp_path, "http://127.0.0.1:9/api/v2", [SEED_NCT],
                          watch_extra='min_level = "urgent"')  # fmt: skip
    result = run_cli(config, "config", "check")
    assert result.exit_code == 2 and 'watch "test".min_level' in result.stderr


def test_turned_off_types_are_not_made(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(base())
    config = write_config(tmp_path, registry.url, [SEED_NCT],
                          extra='[events]\noff = ["sites.*"]\n')  # fmt: skip
    run_cli(config, "check")
    publish(registry, EDITS["sites.changed"])
    run_cli(config, "check")
    assert json.loads(run_cli(config, "events", "--json").stdout) == []


# ---- time events -------------------------------------------------------------


def cycle_at(config_path: Path, moment: datetime) -> str:
    config = load_config(config_path, {})
    sink = io.StringIO()
    app = App.build(config, out=sink, clock=lambda: moment)
    try:
        app.check()
    finally:
        app.close()
    return sink.getvalue()


def stored_types(config_path: Path) -> list[tuple[str, str, bool]]:
    store = Store.open(config_path.parent / "ctwatch.db")
    try:
        return [(e.event.type, e.source, e.silent) for e in store.events.for_trial(SEED_NCT)]
    finally:
        store.close()


def test_results_deadline_transitions_are_told_once_each(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(due_trial())  # due 2026-02-15; overdue after 2026-03-17
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert "results" not in cycle_at(config, T0)  # the baseline: due_soon, silently
    assert stored_types(config) == [("results.due_soon", "clock", True)]
    assert cycle_at(config, T0 + timedelta(days=1)).count("results") == 0  # nothing moved
    told = cycle_at(config, datetime(2026, 2, 16, tzinfo=UTC))
    assert "Results were due on 2026-02-15" in told
    assert cycle_at(config, datetime(2026, 2, 17, tzinfo=UTC)).count("Results") == 0
    told = cycle_at(config, datetime(2026, 3, 18, tzinfo=UTC))
    assert "No results submitted 31 days after the due date 2026-02-15" in told
    late = due_trial()
    _results(late)
    _status(late)["resultsFirstSubmitDate"] = "2026-04-01"
    _status(late)["lastUpdatePostDateStruct"] = {"date": "2026-04-02", "type": "ACTUAL"}
    registry.put(late)
    told = cycle_at(config, datetime(2026, 4, 3, tzinfo=UTC))
    assert "Results were first submitted on 2026-04-01, 45 days after" in told
    assert "[HIGH] Results were posted for the first time" in told
    assert [t for t, source, _ in stored_types(config) if source == "clock"] == [
        "results.due_soon", "results.due", "results.overdue", "results.reported_late"
    ]  # fmt: skip


def test_an_overdue_trial_at_its_baseline_is_recorded_silently(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(due_trial())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    out = cycle_at(config, datetime(2026, 6, 1, tzinfo=UTC))
    assert out == ""  # nothing sent: the baseline is silent
    assert stored_types(config) == [("results.overdue", "clock", True)]
    listed = json.loads(run_cli(config, "events", "--json").stdout)
    assert listed[0]["type"] == "results.overdue" and listed[0]["level"] == "high"


def test_stale_record_is_told_once(tmp_path: Path, registry: RegistryDouble) -> None:
    study = base()
    _status(study)["primaryCompletionDateStruct"] = {"date": "2026-01-10", "type": "ESTIMATED"}
    registry.put(study)  # still RECRUITING
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    cycle_at(config, T0)  # 10 days past: not stale yet
    assert stored_types(config) == []
    told = cycle_at(config, datetime(2026, 2, 10, tzinfo=UTC))
    assert "Primary completion date 2026-01-10 passed 31 days ago" in told
    assert cycle_at(config, datetime(2026, 2, 11, tzinfo=UTC)).count("Primary completion") == 0


def test_stale_trials_of_one_status_and_date_each_keep_their_own_baseline_event(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """Three trials share a status and a primary completion date, so their first-sight
    evaluation is made once (``time_events._undated_write``): each still gets its own
    silent event, on its own version, and each is told nothing twice."""
    ids = [f"NCT0900000{i}" for i in range(3)]
    for nct in ids:
        study = base()
        _p(study)["identificationModule"]["nctId"] = nct
        _status(study)["primaryCompletionDateStruct"] = {"date": "2025-06", "type": "ESTIMATED"}
        registry.put(study)
    config = write_config(tmp_path, registry.url, ids)
    assert cycle_at(config, T0) == ""  # the baseline is silent
    with sqlite3.connect(config.parent / "ctwatch.db") as db:
        rows = db.execute(
            """SELECT e.nct_id, v.nct_id, e.type, e.silent, e.source, e.summary, e.value_json
               FROM events e JOIN versions v ON v.id = e.version_id ORDER BY e.id"""
        ).fetchall()
    summary = (
        "Primary completion date 2025-06 passed 204 days ago; the record still says “recruiting”."
    )
    values = '{"primary_completion":"2025-06","days_past":204,"status":"RECRUITING"}'
    assert rows == [(n, n, "record.stale", 1, "clock", summary, values) for n in ids]
    assert cycle_at(config, T0 + timedelta(days=1)) == ""


def test_the_time_pass_makes_no_request(tmp_path: Path, registry: RegistryDouble) -> None:
    """Stored facts only: not one request while the pass runs."""
    registry.put(due_trial())
    config_path = write_config(tmp_path, registry.url, [SEED_NCT])
    cycle_at(config_path, T0)
    before = len(registry.requests)
    config = load_config(config_path, {})
    store = Store.open(tmp_path / "ctwatch.db")
    try:
        moved = TimeEvents(store, lambda: datetime(2026, 3, 20, tzinfo=UTC)).run(
            build_routes(config)
        )
        assert (moved.events, moved.alerts) == (1, 1)
        assert len(registry.requests) == before
    finally:
        store.close()


def test_an_imported_history_gets_silent_events(tmp_path: Path, registry: RegistryDouble) -> None:
    """Versions imported with ``ctwatch backfill`` are classified, silently: version 3 of
    the sample history moves primary completion 2027-06 -> 2027-12 and the target 60 -> 80."""
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(sample.nct_id, sample.versions)
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "backfill", SEED_NCT).exit_code == 0
    stored = stored_types(config)
    assert ("dates.primary_completion_slipped", "imported", True) in stored
    assert ("enrollment.target_changed", "imported", True) in stored
    assert all(silent for _, _, silent in stored)
    listed = json.loads(run_cli(config, "events", "--type", "dates.*", "--json").stdout)
    assert listed[0]["source"] == "imported" and listed[0]["values"]["slip_count"] == 1
    assert "alerts sent 0" in run_cli(config, "check").stdout


def test_the_first_check_after_an_import_alerts_what_is_new_since_it(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """Backfill first, check later: a version the registry posted after the last imported
    one is a change like any other: alerted, its events computed against that version."""
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(sample.nct_id, sample.versions)
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "backfill", SEED_NCT).exit_code == 0
    registry.put(
        next_version(sample.current, "2026-01-12", status="TERMINATED", why_stopped="Funding")
    )
    out = run_cli(config, "check")
    assert out.exit_code == 0, out.stderr
    assert "Recruiting → Terminated" in out.stdout
    assert "changed 1" in out.stdout and "alerts sent 1" in out.stdout
    observed = [t for t in stored_types(config) if t[1] == "observed"]
    assert observed == [("status.changed", "observed", False)]
    assert "alerts sent 0" in run_cli(config, "check").stdout  # told once


def test_the_imported_version_the_api_serves_again_is_not_news(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """The history endpoint can serve a version a day before the API v2 does: an observed
    copy posted before the last imported version is recorded with its differences, never
    sent as a change (it would read as the newest version undone)."""
    sample = seed_history()
    older = copy.deepcopy(sample.current)
    registry.put(older)
    newest = next_version(sample.current, "2026-01-12", status="COMPLETED")
    ahead = HistoricVersion("2026-01-12", historic(newest), "COMPLETED", ("Study Status",))
    registry.history.set(sample.nct_id, (*sample.versions, ahead))
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "backfill", SEED_NCT).exit_code == 0
    out = run_cli(config, "check")
    assert out.exit_code == 0, out.stderr
    assert "alerts sent 0" in out.stdout and "Completed" not in out.stdout
    registry.put(newest)  # the API catches up: the change it then shows is told
    caught_up = run_cli(config, "check").stdout
    assert "Recruiting → Completed" in caught_up and "alerts sent 1" in caught_up


def test_a_withdrawn_trial_with_zero_actual_enrollment(setup: tuple[Path, RegistryDouble]) -> None:
    config, registry = setup

    def withdraw(s: dict[str, Any]) -> None:
        _status(s).update(overallStatus="WITHDRAWN", whyStopped="No participants enrolled")
        _p(s)["designModule"]["enrollmentInfo"] = {"count": 0, "type": "ACTUAL"}

    publish(registry, withdraw)
    run_cli(config, "check")
    found = {e["type"]: e for e in json.loads(run_cli(config, "events", "--json").stdout)}
    assert found["enrollment.actual_reported"]["values"]["actual"] == 0
    assert found["status.changed"]["values"]["why_stopped"] == "No participants enrolled"


def test_a_record_that_lies_about_types_is_still_recorded(
    setup: tuple[Path, RegistryDouble],
) -> None:
    """A list where the status's text belongs and where an intervention's type does: the
    change is recorded and told (the rules that cannot read a field make no event); it
    used to leave the trial failing to record, every cycle."""
    config, registry = setup

    def lie(s: dict[str, Any]) -> None:
        _status(s).update(overallStatus=["RECRUITING"], startDateStruct={"date": "2016-05"})
        _p(s)["designModule"]["phases"] = ["PHASE2"]
        _p(s)["oversightModule"] = {}
        _p(s)["armsInterventionsModule"]["interventions"] = [{"type": ["DRUG"], "name": "X"}]

    publish(registry, lie)
    out = run_cli(config, "check")
    assert out.exit_code == 0, out.stderr
    assert "changed 1" in out.stdout and "errors 0" in out.stdout, out.stdout
    with sqlite3.connect(config.parent / "ctwatch.db") as db:
        (versions,) = db.execute("SELECT COUNT(*) FROM versions").fetchone()
        (error,) = db.execute("SELECT last_error FROM trials").fetchone()
    assert (versions, error) == (2, None)


def test_the_json_values_are_the_typed_values(setup: tuple[Path, RegistryDouble]) -> None:
    config, registry = setup
    publish(registry, EDITS["enrollment.target_changed"])
    run_cli(config, "check")
    (event,) = json.loads(run_cli(config, "events", "--json").stdout)
    assert event["values"] == {"old": 100, "new": 60, "percent": -40.0, "first_target": 100}
    assert event["level"] == "high"


def test_atom_entries_carry_a_category_per_event_type(
    setup: tuple[Path, RegistryDouble],
) -> None:
    config, registry = setup
    publish(registry, EDITS["status.changed"])
    run_cli(config, "check")
    feed = run_cli(config, "feed", "all")
    assert feed.exit_code == 0, feed.stderr
    assert '<category term="status.changed" label="high"' in feed.stdout
    assert "[HIGH] Overall status changed from Recruiting to Terminated" in feed.stdout


def test_a_stale_record_that_finishes_and_reopens_is_told_again(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """Facts that can no longer make a time event still clear the state they made."""
    study = base()
    _status(study)["primaryCompletionDateStruct"] = {"date": "2025-06-10", "type": "ESTIMATED"}
    registry.put(study)
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    cycle_at(config, T0)  # stale at its baseline: silent
    done = copy.deepcopy(study)
    _status(done).update(overallStatus="COMPLETED",
                         lastUpdatePostDateStruct={"date": "2026-01-21", "type": "ACTUAL"})  # fmt: skip
    registry.put(done)
    cycle_at(config, T0 + timedelta(days=2))
    reopened = copy.deepcopy(study)
    _status(reopened)["lastUpdatePostDateStruct"] = {"date": "2026-01-25", "type": "ACTUAL"}
    registry.put(reopened)
    told = cycle_at(config, T0 + timedelta(days=6))
    assert "Primary completion date 2025-06-10 passed" in told
    assert [(t, s) for t, source, s in stored_types(config) if source == "clock"] == [
        ("record.stale", True), ("record.stale", False)
    ]  # fmt: skip


def test_a_second_cycle_on_the_same_day_evaluates_only_what_moved(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(due_trial())
    config_path = write_config(tmp_path, registry.url, [SEED_NCT])
    cycle_at(config_path, T0)
    store = Store.open(tmp_path / "ctwatch.db")
    try:
        again = TimeEvents(store, lambda: T0 + timedelta(hours=3)).run(build_routes(
            load_config(config_path, {})))  # fmt: skip
        assert again.evaluated == 0
        later = TimeEvents(store, lambda: T0 + timedelta(days=1)).run(build_routes(
            load_config(config_path, {})))  # fmt: skip
        assert later.evaluated == 1
    finally:
        store.close()


def test_the_trial_events_view_for_sql_users(setup: tuple[Path, RegistryDouble]) -> None:
    config, registry = setup
    publish(registry, EDITS["dates.primary_completion_slipped"])
    run_cli(config, "check")
    with sqlite3.connect(config.parent / "ctwatch.db") as conn:
        rows = conn.execute(
            """SELECT nct_id, version, type, level, json_extract("values", '$.days'), source
               FROM trial_events"""
        ).fetchall()
    # 2027-06 -> 2028-06: from 2027-06-30 to 2028-06-30
    assert rows == [(SEED_NCT, 2, "dates.primary_completion_slipped", "high", 366, "observed")]


def test_a_results_section_the_history_left_out_is_no_change(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """The history copies say the trial has results but carry no results section; the API
    record carries it. The first check after the import tells the real change only."""
    sample = seed_history()
    versions = tuple(replace(v, study={**v.study, "hasResults": True}) for v in sample.versions)
    registry.history.set(sample.nct_id, versions)
    current = {**sample.current, "hasResults": True,
               "resultsSection": {"participantFlowModule": {"recruitmentDetails": "30 sites"}}}  # fmt: skip
    registry.put(next_version(current, "2026-01-12", status="ACTIVE_NOT_RECRUITING"))
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    assert run_cli(config, "backfill", SEED_NCT).exit_code == 0
    out = run_cli(config, "check").stdout
    assert "Recruiting → Active, not recruiting" in out and "alerts sent 1" in out
    assert "esults" not in out  # no "Results section added", no results.posted
    assert all(t != "results.posted" for t, _, _ in stored_types(config))


@pytest.mark.parametrize(
    ("observed", "imported", "later"),
    [
        (("2026-01-13", "2026-01-12"), ("2026-01-10", "2026-01-09"), True),
        (("2026-01-09", "2026-01-08"), ("2026-01-10", "2026-01-09"), False),
        (("2026-01-10", "2026-01-10"), ("2026-01-10", "2026-01-09"), True),  # same day, later
        (("2026-01-10", "2026-01-09"), ("2026-01-10", "2026-01-09"), False),  # the same one
        ((None, "2026-01-12"), ("2026-01-10", "2026-01-09"), False),  # cannot be placed
    ],
)
def test_which_observed_record_is_a_later_version(
    observed: tuple[str | None, str], imported: tuple[str, str], later: bool
) -> None:
    def record(posted: str | None, submitted: str) -> dict[str, Any]:
        study = base()
        status = _status(study)
        status["lastUpdateSubmitDate"] = submitted
        if posted is None:
            del status["lastUpdatePostDateStruct"]
        else:
            status["lastUpdatePostDateStruct"] = {"date": posted, "type": "ACTUAL"}
        return study

    assert later_version(record(*observed), record(*imported)) is later
