"""Real-shaped records for the event rules' scenario tests: the seed trial with every field
a rule reads, and one whose FDAAA results deadline has passed."""

from __future__ import annotations

from typing import Any

from watcher.testing.samples import seed_study


def base() -> dict[str, Any]:
    """The seed trial with the fields the rules read: dates, enrollment, outcomes, arms."""
    study = seed_study()
    p = study["protocolSection"]
    p["statusModule"].update(
        {
            "startDateStruct": {"date": "2025-03-01", "type": "ACTUAL"},
            "primaryCompletionDateStruct": {"date": "2027-06", "type": "ESTIMATED"},
            "completionDateStruct": {"date": "2027-12", "type": "ESTIMATED"},
        }
    )
    p["designModule"]["enrollmentInfo"] = {"count": 100, "type": "ESTIMATED"}
    p["outcomesModule"] = {
        "primaryOutcomes": [{"measure": "Pathological complete response"}],
        "secondaryOutcomes": [{"measure": "Overall survival"}],
    }
    p["armsInterventionsModule"] = {
        "armGroups": [{"label": "SCRT + CAPEOX + serplulimab"}],
        "interventions": [{"type": "DRUG", "name": "Serplulimab"}],
    }
    p["eligibilityModule"] = {"eligibilityCriteria": "Adults with MSS rectal cancer"}
    p["contactsLocationsModule"]["centralContacts"] = [{"name": "Dr. Li"}]
    return study


def due_trial() -> dict[str, Any]:
    """An applicable trial (FDA-regulated drug, phase 2) whose primary completion passed."""
    study = base()
    study["protocolSection"]["oversightModule"]["isFdaRegulatedDrug"] = True
    study["protocolSection"]["statusModule"].update(
        overallStatus="ACTIVE_NOT_RECRUITING",
        primaryCompletionDateStruct={"date": "2025-02-15", "type": "ACTUAL"},
    )
    return study
