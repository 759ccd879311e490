"""The typed facts of a record (the ``latest`` view's columns), from real-shaped records."""

from __future__ import annotations

from typing import Any

from tests.conftest import load_fixture
from watcher.core.facts import COLUMNS, facts


def terminated_trial() -> dict[str, Any]:
    """A record shaped as API v2 serves one, every field the columns read filled."""
    return {
        "protocolSection": {
            "identificationModule": {"nctId": "NCT01234567", "briefTitle": "A", "acronym": "ABC"},
            "statusModule": {
                "statusVerifiedDate": "2024-05",
                "overallStatus": "TERMINATED",
                "whyStopped": "Sponsor decision",
                "startDateStruct": {"date": "2021-03-15", "type": "ACTUAL"},
                "primaryCompletionDateStruct": {"date": "2024-01", "type": "ACTUAL"},
                "completionDateStruct": {"date": "2024-02-01", "type": "ACTUAL"},
                "studyFirstPostDateStruct": {"date": "2021-02-01", "type": "ACTUAL"},
                "resultsFirstPostDateStruct": {"date": "2024-12-02", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {"name": "Example Pharma", "class": "INDUSTRY"}
            },
            "conditionsModule": {"conditions": ["Rectal Cancer", "Liver Metastases"]},
            "designModule": {
                "studyType": "INTERVENTIONAL",
                "phases": ["PHASE2", "PHASE3"],
                "enrollmentInfo": {"count": 42, "type": "ACTUAL"},
            },
            "armsInterventionsModule": {
                "interventions": [
                    {"type": "DRUG", "name": "Serplulimab"},
                    {"type": "RADIATION", "name": "Short-course radiotherapy"},
                ]
            },
            "contactsLocationsModule": {"locations": [{"city": "Hangzhou"}, {"city": "Shanghai"}]},
        },
        "hasResults": True,
    }


def test_every_column_from_a_full_record() -> None:
    assert dict(zip(COLUMNS, facts(terminated_trial()), strict=True)) == {
        "acronym": "ABC",
        "lead_sponsor": "Example Pharma",
        "sponsor_class": "INDUSTRY",
        "study_type": "INTERVENTIONAL",
        "phases": "PHASE2|PHASE3",
        "why_stopped": "Sponsor decision",
        "enrollment": 42,
        "enrollment_type": "ACTUAL",
        "start_date": "2021-03-15",
        "start_date_type": "ACTUAL",
        "primary_completion_date": "2024-01",
        "primary_completion_date_type": "ACTUAL",
        "completion_date": "2024-02-01",
        "completion_date_type": "ACTUAL",
        "has_results": 1,
        "results_first_posted": "2024-12-02",
        "first_posted": "2021-02-01",
        "status_verified_date": "2024-05",
        "conditions": "Rectal Cancer|Liver Metastases",
        "interventions": "DRUG: Serplulimab|RADIATION: Short-course radiotherapy",
        "locations_count": 2,
    }


def test_wrong_types_and_missing_parts_are_null_never_an_error() -> None:
    odd = terminated_trial()
    protocol = odd["protocolSection"]
    protocol["designModule"] = {"phases": "PHASE2", "enrollmentInfo": {"count": "42"}}
    protocol["statusModule"]["startDateStruct"] = ["2021"]
    protocol["armsInterventionsModule"]["interventions"] = [{"type": "DRUG"}, "x", None]
    protocol["contactsLocationsModule"] = None
    odd["hasResults"] = "yes"
    got = dict(zip(COLUMNS, facts(odd), strict=True))
    assert got["phases"] is None and got["enrollment"] is None and got["start_date"] is None
    assert got["interventions"] is None and got["locations_count"] is None
    assert got["has_results"] is None and got["lead_sponsor"] == "Example Pharma"
    broken: list[Any] = [None, [], {}, {"protocolSection": []}, {"protocolSection": {"x": 1}}]
    for record in broken:
        assert facts(record) == (None,) * len(COLUMNS)


def test_a_real_record_from_aact() -> None:
    """NCT03281889 as the registry served it (AACT's tests, MIT; tests/fixtures/ctgov)."""
    (study,) = load_fixture("pages", "aact_NCT03281889.page.json")["studies"]
    got = dict(zip(COLUMNS, facts(study), strict=True))
    assert got["lead_sponsor"] == "Massachusetts General Hospital"
    assert (got["phases"], got["enrollment"], got["enrollment_type"]) == ("NA", 20, "ESTIMATED")
    assert (got["start_date"], got["start_date_type"]) == ("2018-01-04", "ACTUAL")
    assert got["interventions"] == "RADIATION: Proton Beam" and got["locations_count"] == 2
