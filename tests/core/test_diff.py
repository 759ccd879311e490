"""Normalise + diff on real registry data and on real version-to-version patches."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_fixture
from tests.support.paths import CTGOV
from watcher.core.describe import display_value
from watcher.core.diff import FieldChange, diff_records, item_key
from watcher.core.render import Alert, change_lines, console_text
from watcher.core.snapshot import take_snapshot
from watcher.testing.samples import changed, make_study, seed_study


def snap(record: dict[str, Any]) -> dict[str, Any]:
    return take_snapshot("NCT00000000", record).record


# ---- the real rebuild pair ------------------------------------------------------


def test_real_rebuild_pair_is_no_change() -> None:
    old = load_fixture("records", "NCT02552212.json")
    new = load_fixture("records", "NCT02552212.snapshot-vh2024-01-03.json")
    assert old["derivedSection"] != new["derivedSection"]  # the files really differ
    a, b = take_snapshot("NCT02552212", old), take_snapshot("NCT02552212", new)
    assert a.content_hash == b.content_hash
    assert diff_records(a.record, b.record) == []


def test_every_real_record_diffs_empty_against_itself_reordered() -> None:
    paths = sorted((CTGOV / "records").glob("NCT*.json"))
    assert len(paths) > 15
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        shuffled = _reverse_lists(record)
        a, b = take_snapshot("X", record), take_snapshot("X", shuffled)
        # the hash is of the bytes now (issue 16): the diff is what keeps reordering silent
        # (tests/cycle/test_identity.py runs the same records through the pipeline)
        assert diff_records(a.record, b.record) == [], path.name


def _reverse_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _reverse_lists(v) for k, v in reversed(list(value.items()))}
    if isinstance(value, list):
        return [_reverse_lists(v) for v in reversed(value)]
    return value


# ---- real patches from the registry's history API ---------------------------------

HISTORY = sorted((CTGOV / "history").glob("trialdiff.*.json"))


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def _apply(doc: Any, patch: list[dict[str, Any]]) -> Any:
    """A minimal RFC 6902 applier (add / remove / replace) for the test."""
    doc = copy.deepcopy(doc)
    for op in patch:
        *parents, last = _tokens(op["path"])
        target = doc
        for token in parents:
            target = target[int(token)] if isinstance(target, list) else target[token]
        if isinstance(target, list):
            index = len(target) if last == "-" else int(last)
            if op["op"] == "add":
                target.insert(index, copy.deepcopy(op["value"]))
            elif op["op"] == "remove":
                del target[index]
            else:
                target[index] = copy.deepcopy(op["value"])
        elif op["op"] == "remove":
            del target[last]
        else:
            target[last] = copy.deepcopy(op["value"])
    return doc


# Plausible earlier values, by field name, for ops that remove or replace.
_REMOVED = {
    "centralContacts": [
        {"name": "Study Coordinator", "role": "CONTACT", "email": "coord@example.org"}
    ],
    "contacts": [{"name": "Site Coordinator", "role": "CONTACT", "phone": "617-555-0100"}],
    "status": "RECRUITING",
}
_SEEDED_LISTS: dict[str, Any] = {
    "locations": lambda i: {
        "facility": f"Hospital {i}",
        "city": "Boston",
        "state": "Massachusetts",
        "zip": f"0211{i}",
        "country": "United States",
    },
    "interventions": lambda i: {
        "name": f"Intervention {i}",
        "type": "DRUG",
        "otherNames": ["XL184"],
    },
    "overallOfficials": lambda i: {
        "name": f"Official {i}",
        "role": "PRINCIPAL_INVESTIGATOR",
        "affiliation": "Massachusetts General Hospital",
    },
    "secondaryOutcomes": lambda i: {"measure": f"Secondary measure {i}", "timeFrame": "2 years"},
    "primaryOutcomes": lambda i: {"measure": f"Primary measure {i}", "timeFrame": "12 weeks"},
    "armGroups": lambda i: {
        "label": f"Arm {i}",
        "type": "EXPERIMENTAL",
        "description": "Combination therapy",
    },
    "keywords": lambda i: f"Keyword {i}",
}


def _earlier(key: str, new: Any) -> Any:
    if isinstance(new, bool):
        return not new
    if isinstance(new, int):
        return new + 17
    if key == "overallStatus":
        return "NOT_YET_RECRUITING" if new == "RECRUITING" else "RECRUITING"
    if key == "type":
        return "ESTIMATED" if new == "ACTUAL" else "ACTUAL"
    if isinstance(new, str) and re.fullmatch(r"\d{4}(-\d{2}){1,2}", new):
        return str(int(new[:4]) - 1) + new[4:]
    if isinstance(new, str):
        return "Earlier wording: " + new[:60]
    return None


def _base_for(patch: list[dict[str, Any]], signals: dict[str, Any]) -> dict[str, Any]:
    """The version a patch starts from: containers for every path, earlier values."""
    base: dict[str, Any] = {}
    for op in patch:
        tokens = _tokens(op["path"])
        target: Any = base
        for depth, token in enumerate(tokens[:-1]):
            following = tokens[depth + 1]
            if isinstance(target, list):
                target = target[int(token)]
                continue
            if token not in target:
                target[token] = [] if following.isdigit() else {}
            if isinstance(target[token], list) and following.isdigit():
                make = _SEEDED_LISTS[token]
                while len(target[token]) <= int(following) - (
                    op["op"] == "add" and depth == len(tokens) - 2
                ):
                    target[token].append(make(len(target[token])))
            target = target[token]
        last = tokens[-1]
        if op["op"] == "add" or isinstance(target, list):
            continue
        if op["op"] == "remove":
            target[last] = copy.deepcopy(_REMOVED[last])
        else:
            target[last] = signals.get(op["path"], _earlier(last, op["value"]))
    return base


def _expected(
    base: dict[str, Any], new: dict[str, Any], patch: list[dict[str, Any]]
) -> set[tuple[str, str, str, str]]:
    """What ctwatch should report for each op: list indices become item keys."""
    out = set()
    for op in patch:
        tokens = _tokens(op["path"])
        kind = {"add": "added", "remove": "removed", "replace": "changed"}[op["op"]]
        old_at: Any = base
        new_at: Any = new
        path = schema = ""
        for index, token in enumerate(tokens):
            holder = old_at if op["op"] == "remove" else new_at
            if isinstance(holder, list):
                if all(isinstance(v, str) for v in holder):
                    kind = "changed"  # string lists compare as sets: one change on the list
                    break
                key = item_key(schema, holder[int(token)])
                path += f"[{key}]"
                inserted = op["op"] == "add" and index == len(tokens) - 1
                old_at = _find(old_at, schema, key, None if inserted else int(token))
                new_at = _find(new_at, schema, key, None)
                continue
            path += f".{token}" if path else token
            schema += f".{token}" if schema else token
            old_at = old_at.get(token) if isinstance(old_at, dict) else None
            new_at = new_at.get(token) if isinstance(new_at, dict) else None
        out.add(
            (path, kind, json.dumps(old_at, sort_keys=True), json.dumps(new_at, sort_keys=True))
        )
    return out


def _find(items: Any, schema: str, key: str, position: int | None) -> Any:
    """The item with this key; else (a renamed item) the one at the same position."""
    if not isinstance(items, list):
        return None
    found = next((i for i in items if item_key(schema, i) == key), None)
    if found is None and position is not None and position < len(items):
        return items[position]
    return found


@pytest.mark.parametrize("path", HISTORY, ids=[p.name.split("_", 1)[1][:22] for p in HISTORY])
def test_real_patch_yields_exactly_its_changes(path: Path) -> None:
    event = json.loads(path.read_text(encoding="utf-8"))
    patch = event["patch"]
    signals = {
        s["path"]: s["old_value"]
        for s in event["classification"].get("value_signals", [])
        if "old_value" in s
    }
    base = _base_for(patch, signals)
    new = _apply(base, patch)
    changes = diff_records(base, new)
    got = {
        (c.path, c.kind, json.dumps(c.old, sort_keys=True), json.dumps(c.new, sort_keys=True))
        for c in changes
    }
    assert got == _expected(base, new, patch)
    assert len(changes) == len(got)  # nothing reported twice
    # every changed path the registry lists is covered by some reported change
    covered = {c.schema_path for c in changes}
    for changed_path in event["changed_paths"]:
        dotted = ".".join(t for t in _tokens(changed_path) if not t.isdigit())
        assert any(dotted == c or dotted.startswith(c + ".") for c in covered), changed_path


def test_real_termination_patch_reads_naturally() -> None:
    event = load_fixture("history", "trialdiff.evt_NCT05180006_v3_v4_3cebafd518aa.json")
    signals = {
        s["path"]: s["old_value"]
        for s in event["classification"]["value_signals"]
        if "old_value" in s
    }
    base = _base_for(event["patch"], signals)
    base["protocolSection"]["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    new = _apply(base, event["patch"])
    changes = diff_records(base, new)
    by_label = {c.label: c for c in changes}
    assert by_label["Overall Status"].old == "ACTIVE_NOT_RECRUITING"
    assert by_label["Overall Status"].new == "TERMINATED"
    assert by_label["Why Stopped"].kind == "added"
    assert by_label["Why Stopped"].new == "Abandon of the partner, ROCHE"
    assert (by_label["Enrollment"].old, by_label["Enrollment"].new) == (185, 33)
    assert (by_label["Primary Completion Date"].old, by_label["Primary Completion Date"].new) == (
        "2025-02",
        "2024-12-17",
    )
    assert by_label["Last Update Posted"].new == "2025-12-01"
    assert by_label["Status Verified Date"].new == "2025-11"
    text = console_text(Alert("NCT05180006", "Neoadjuvant immunotherapy", tuple(changes)))
    assert "Overall Status: Active, not recruiting → Terminated" in text
    assert "Why Stopped: (none) → Abandon of the partner, ROCHE" in text
    assert "Enrollment Type: Estimated → Actual" in text
    assert "https://clinicaltrials.gov/study/NCT05180006?tab=history" in text


# ---- identity matching, sets, labels, summaries -------------------------------


def test_status_change_on_seed_trial() -> None:
    old = seed_study()
    new = changed(
        old,
        status="ACTIVE_NOT_RECRUITING",
        last_update="2026-01-15",
        verified="2026-01",
        version_holder="2026-01-16",
    )
    changes = diff_records(snap(old), snap(new))
    assert [(c.label, c.kind, c.old, c.new) for c in changes] == [
        ("Overall Status", "changed", "RECRUITING", "ACTIVE_NOT_RECRUITING"),
        ("Status Verified Date", "changed", "2025-11", "2026-01"),
        ("Last Update Posted", "changed", "2025-12-01", "2026-01-15"),
    ]
    assert changes[0].path == "protocolSection.statusModule.overallStatus"


def test_locations_matched_by_identity_not_position() -> None:
    old = make_study("NCT01234567", "A trial", sites=4)
    new = copy.deepcopy(old)
    locations = new["protocolSection"]["contactsLocationsModule"]["locations"]
    locations.reverse()
    locations[0]["status"] = "COMPLETED"  # was the last site
    changes = diff_records(snap(old), snap(new))
    assert len(changes) == 1
    assert (
        changes[0].path
        == "protocolSection.contactsLocationsModule.locations[Site 4 of NCT01234567, Toronto, Canada].status"
    )
    assert changes[0].label == "Locations › Site 4 of NCT01234567, Toronto, Canada › Status"
    assert (changes[0].old, changes[0].new) == ("RECRUITING", "COMPLETED")


def test_renamed_site_is_an_edit_and_new_site_is_an_addition() -> None:
    old = make_study("NCT01234567", "A trial", sites=2)
    new = copy.deepcopy(old)
    locations = new["protocolSection"]["contactsLocationsModule"]["locations"]
    locations[0]["facility"] = "Site 1 of NCT01234567 (main campus)"
    locations.append(
        {
            "facility": "Hôpital Nord",
            "city": "Marseille",
            "country": "France",
            "status": "NOT_YET_RECRUITING",
        }
    )
    changes = diff_records(snap(old), snap(new))
    assert [(c.kind, c.label) for c in changes] == [
        (
            "changed",
            "Locations › Site 1 of NCT01234567 (main campus), Boston, United States › Facility",
        ),
        ("added", "Locations › Hôpital Nord, Marseille, France"),
    ]


def test_string_lists_are_sets() -> None:
    old = seed_study()
    old["protocolSection"]["conditionsModule"] = {
        "conditions": ["Rectal Cancer", "Oligometastatic Disease"]
    }
    new = copy.deepcopy(old)
    new["protocolSection"]["conditionsModule"]["conditions"] = [
        "Oligometastatic Disease",
        "Rectal Cancer",
    ]
    assert diff_records(snap(old), snap(new)) == []
    new["protocolSection"]["conditionsModule"]["conditions"] = ["Rectal Cancer", "Liver Metastases"]
    (change,) = diff_records(snap(old), snap(new))
    assert change.label == "Conditions"
    lines = change_lines([change])
    assert (
        lines[0].text() == "Conditions: added “Liver Metastases”; removed “Oligometastatic Disease”"
    )


def test_duplicate_identities_do_not_collide() -> None:
    assert (
        item_key(
            "protocolSection.contactsLocationsModule.locations",
            {"facility": "A", "city": "B", "country": "C"},
        )
        == "A, B, C"
    )
    old = make_study("NCT01234567", "A trial", sites=1)
    site = old["protocolSection"]["contactsLocationsModule"]["locations"][0]
    old["protocolSection"]["contactsLocationsModule"]["locations"] = [
        dict(site),
        dict(site, status="COMPLETED"),
    ]
    new = copy.deepcopy(old)
    new["protocolSection"]["contactsLocationsModule"]["locations"][1]["status"] = "RECRUITING"
    changes = diff_records(snap(old), snap(new))
    assert [
        c.path.endswith("Canada #2].status") or c.path.endswith("States #2].status")
        for c in changes
    ] == [True]


def test_many_site_changes_are_summarised() -> None:
    old = make_study("NCT01234567", "A trial", sites=5)
    new = copy.deepcopy(old)
    locations = new["protocolSection"]["contactsLocationsModule"]["locations"]
    del locations[:3]
    locations.extend(
        {"facility": f"New site {i}", "city": "Oslo", "country": "Norway"} for i in range(12)
    )
    lines = change_lines(diff_records(snap(old), snap(new)))
    assert len(lines) == 1
    assert lines[0].text().startswith("Locations: +12 / −3 locations (")


def test_results_section_appearing_is_summarised_not_dumped() -> None:
    record = load_fixture("records", "NCT04431453.json")
    assert "resultsSection" in record
    without = {k: v for k, v in record.items() if k != "resultsSection"}
    changes = diff_records(snap(without), snap(record))
    assert [c.label for c in changes] == ["Results"]
    text = console_text(Alert("NCT04431453", "t", tuple(changes)))
    assert len(text) < 500
    assert "Results: (none) → 5 fields" in text or "Results: (none) →" in text


def test_enum_and_value_display() -> None:
    status = "protocolSection.statusModule.overallStatus"
    assert display_value(status, "ACTIVE_NOT_RECRUITING") == "Active, not recruiting"
    assert display_value(status, "NOT_YET_RECRUITING") == "Not yet recruiting"
    assert (
        display_value("protocolSection.designModule.phases", ["PHASE2", "PHASE3"])
        == "Phase 2, Phase 3"
    )
    assert display_value("protocolSection.statusModule.statusVerifiedDate", "2025-11") == "2025-11"
    assert display_value("protocolSection.oversightModule.isFdaRegulatedDrug", True) == "Yes"
    # free text that happens to be upper case is not an enum
    assert (
        display_value("protocolSection.identificationModule.acronym", "SCRT_CAPEOX")
        == "SCRT_CAPEOX"
    )
    assert (
        len(display_value("protocolSection.descriptionModule.briefSummary", "word " * 500)) <= 300
    )


def test_labels_of_common_fields() -> None:
    old, new = seed_study(), seed_study()
    status = new["protocolSection"]["statusModule"]
    status["startDateStruct"] = {"date": "2025-03", "type": "ACTUAL"}
    status["lastUpdatePostDateStruct"]["type"] = "ESTIMATED"
    new["protocolSection"]["oversightModule"]["isFdaRegulatedDrug"] = True
    labels = [c.label for c in diff_records(snap(old), snap(new))]
    assert labels == ["Start Date", "Is FDA Regulated Drug", "Last Update Posted Type"]


def test_field_change_is_a_frozen_value() -> None:
    change = FieldChange("a.b", "B", "changed", 1, 2)
    with pytest.raises(AttributeError):
        change.old = 3  # type: ignore[misc]


def test_a_type_only_change_with_the_same_words_is_not_a_change() -> None:
    def enrollment(count: object) -> dict[str, object]:
        return {"protocolSection": {"designModule": {"enrollmentInfo": {"count": count}}}}

    assert diff_records(enrollment(75), enrollment("75")) == []
    assert diff_records(enrollment("75"), enrollment(75.0)) != []  # "75" and "75.0" differ
    (real,) = diff_records(enrollment(75), enrollment("76"))
    assert (real.old, real.new) == (75, "76")
    assert diff_records(enrollment(True), enrollment("true")) != []  # "Yes" is not "true"
