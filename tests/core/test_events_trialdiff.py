"""TrialDiff's labelled registry patches through ctwatch's rules.

Each evidence record (``tests/fixtures/ctgov/history/trialdiff.*.json``, CC-BY-4.0)
holds a real ``patchToVersion`` JSON Patch and TrialDiff's categories. The patch
is applied to the smallest base it fits (:func:`tests.support.json_patch.scaffold`)
and the two versions go through :func:`watcher.core.events.classify`. Every
TrialDiff category must have a ctwatch event on the same record; where ctwatch is
deliberately different (a date pulled in is not a slip; an enrollment *increase*
is low) the test pins ctwatch's answer, and ``docs/events.md`` says why. The
table in the docs is compared with what the rules make, so it cannot go stale.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.support.json_patch import PatchError, apply_patch, scaffold
from watcher.core.diff import diff_records
from watcher.core.events import Event, Level, matches
from watcher.core.events.classify import classify

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ctgov" / "history"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
RECORDS = sorted(FIXTURES.glob("trialdiff.*.json"))

# TrialDiff category -> the ctwatch event types that answer it
COVERS: dict[str, tuple[str, ...]] = {
    "status_termination": ("status.changed",),
    "timeline_major_slip": ("dates.*",),
    "timeline_significant_shift": ("dates.*",),
    "timeline_shift": ("dates.*",),
    "enrollment_change": ("enrollment.*",),
    "primary_outcome_change": ("outcomes.primary_changed",),
    "secondary_outcome_change": ("outcomes.secondary_changed",),
    "arm_intervention_change": ("arms.changed",),
    "eligibility_change": ("eligibility.changed",),
    "administrative_contact_change": ("contacts.changed", "sites.changed"),
}


def _events(path: Path) -> tuple[dict[str, Any], list[Event]]:
    record = json.loads(path.read_text())
    base = scaffold(record)
    new = apply_patch(base, record["patch"])
    return record, classify(base, new, diff_records(base, new))


def test_all_seven_records_are_here() -> None:
    assert len(RECORDS) == 7


@pytest.mark.parametrize("path", RECORDS, ids=lambda p: p.name.split(".")[1])
def test_every_trialdiff_category_has_a_ctwatch_event(path: Path) -> None:
    record, events = _events(path)
    categories = record["classification"]["categories"]
    assert categories
    for category in categories:
        wanted = COVERS[category]
        assert any(matches(e.type, wanted) for e in events), (category, [e.type for e in events])


def _by_type(events: list[Event]) -> dict[str, Event]:
    return {e.type: e for e in events}


def test_termination_pulls_completion_in_it_does_not_slip() -> None:
    """TrialDiff: ``timeline_major_slip`` (411 days earlier). ctwatch: a pull-in."""
    _, events = _events(FIXTURES / "trialdiff.evt_NCT05180006_v3_v4_3cebafd518aa.json")
    found = _by_type(events)
    assert "dates.completion_slipped" not in found
    pulled = found["dates.completion_pulled_in"]
    assert pulled.values["days"] == -438  # 2026-02 is 2026-02-28 (the month's last day)
    assert pulled.values["new_is_actual"] is True
    status = found["status.changed"]
    assert status.level is Level.HIGH
    assert status.values["why_stopped"] == "Abandon of the partner, ROCHE"


def test_slip_days_count_month_only_dates_as_the_last_day() -> None:
    _, events = _events(FIXTURES / "trialdiff.evt_NCT01441947_v7_v8_f7b4655e907f.json")
    slip = _by_type(events)["dates.primary_completion_slipped"]
    assert (slip.values["old"], slip.values["new"], slip.values["days"]) == (
        "2014-06",
        "2015-12",
        549,  # TrialDiff says 548: it counts from the first of each month
    )
    assert slip.level is Level.HIGH
    assert slip.values["slip_count"] == 1


def test_withdrawn_with_zero_actual_enrollment_is_data() -> None:
    _, events = _events(FIXTURES / "trialdiff.evt_NCT05315687_v3_v4_9f878aed379e.json")
    found = _by_type(events)
    actual = found["enrollment.actual_reported"]
    assert (actual.values["actual"], actual.values["target"]) == (0, 50)
    assert actual.values["percent_of_target"] == 0
    assert found["status.changed"].values["to"] == "WITHDRAWN"
    assert "dates.start_pulled_in" in found


def test_enrollment_above_target_is_low() -> None:
    """TrialDiff: high (a change of 20 % or more). ctwatch: 136 % of target, no cut: low."""
    _, events = _events(FIXTURES / "trialdiff.evt_NCT01441947_v9_v10_9d5358cb53af.json")
    actual = _by_type(events)["enrollment.actual_reported"]
    assert actual.level is Level.LOW
    assert actual.values["percent_of_target"] == 136


def table_rows() -> list[str]:
    """The rows of the docs table: record, TrialDiff's categories, ctwatch's events."""
    rows = []
    for path in RECORDS:
        record, events = _events(path)
        versions = record["versions"]
        name = f"{record['study']['nct_id']} v{versions['from_version']}→v{versions['to_version']}"
        categories = ", ".join(record["classification"]["categories"])
        made = ", ".join(f"`{e.type}` ({e.level.value})" for e in events)
        rows.append(f"| {name} | {categories} | {made} |")
    return rows


def test_the_docs_table_is_what_the_rules_make() -> None:
    text = DOCS.read_text()
    missing = [row for row in table_rows() if row not in text]
    assert not missing, "docs/events.md is out of date; rows:\n" + "\n".join(table_rows())


def test_the_patch_applier_refuses_what_does_not_apply() -> None:
    doc = {"a": [1, 2], "b": {"c": 1}}
    assert apply_patch(doc, [{"op": "add", "path": "/a/-", "value": 3}])["a"] == [1, 2, 3]
    assert apply_patch(doc, [{"op": "remove", "path": "/b/c"}])["b"] == {}
    assert doc == {"a": [1, 2], "b": {"c": 1}}  # never changed in place
    with pytest.raises(PatchError):
        apply_patch(doc, [{"op": "replace", "path": "/b/x", "value": 1}])
    with pytest.raises(PatchError):
        apply_patch(doc, [{"op": "remove", "path": "/a/5"}])
