"""Synthetic, real-shaped study records for the benchmark.

Each record is cut from the package's hand-written templates (watcher.samples)
and filled out to the size and shape of a typical interventional record on
ClinicalTrials.gov: descriptions, eligibility text, arms, interventions,
outcomes, 1-40 sites with contacts, and a derivedSection with MeSH terms (which
ctwatch must ignore). Deterministic for a given seed.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from watcher.testing.samples import make_study

STATUSES = ("RECRUITING", "ACTIVE_NOT_RECRUITING", "NOT_YET_RECRUITING", "COMPLETED")
WORDS = (
    "patients", "randomized", "treatment", "arm", "dose", "response", "safety", "efficacy",
    "survival", "tumor", "assessment", "baseline", "follow-up", "cohort", "protocol",
    "adverse", "events", "eligibility", "criteria", "inclusion", "exclusion",
    "chemotherapy", "radiotherapy", "immunotherapy", "biomarker", "endpoint",
)  # fmt: skip


def _text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def nct(index: int) -> str:
    return f"NCT{10_000_000 + index:08d}"


def study(index: int, seed: int = 7) -> dict[str, Any]:
    """One synthetic record (~10-25 KB of JSON)."""
    rng = random.Random(seed * 1_000_003 + index)
    record = make_study(
        nct(index),
        f"Study {index}: {_text(rng, 8)}",
        status=rng.choice(STATUSES),
        # before the benchmark's change day (2025-11-20) and its 3-day look-back, so the
        # "1% changed" cycle fetches exactly the edited records
        last_update=f"2025-{rng.randint(1, 10):02d}-{rng.randint(1, 28):02d}",
        verified=f"2025-{rng.randint(1, 11):02d}",
        sites=rng.randint(1, 40),
        phase=rng.choice(("PHASE1", "PHASE2", "PHASE3")),
    )
    proto = record["protocolSection"]
    proto["descriptionModule"]["detailedDescription"] = _text(rng, 250)
    proto["eligibilityModule"] = {
        "eligibilityCriteria": "Inclusion Criteria:\n\n* "
        + "\n* ".join(_text(rng, 12) for _ in range(10)),
        "sex": "ALL",
        "minimumAge": "18 Years",
        "stdAges": ["ADULT", "OLDER_ADULT"],
    }
    proto["conditionsModule"] = {"conditions": [_text(rng, 3) for _ in range(3)]}
    proto["armsInterventionsModule"] = {
        "armGroups": [
            {"label": f"Arm {a}", "type": "EXPERIMENTAL", "description": _text(rng, 30)}
            for a in "AB"
        ],
        "interventions": [
            {"type": "DRUG", "name": f"Drug {index}-{i}", "description": _text(rng, 20)}
            for i in range(2)
        ],
    }
    proto["outcomesModule"] = {
        "primaryOutcomes": [
            {"measure": _text(rng, 6), "description": _text(rng, 25), "timeFrame": "2 years"}
        ],
        "secondaryOutcomes": [
            {"measure": _text(rng, 6), "timeFrame": f"{m} months"} for m in (6, 12, 24, 36)
        ],
    }
    proto["statusModule"]["primaryCompletionDateStruct"] = {
        "date": f"20{rng.randint(24, 29)}-{rng.randint(1, 12):02d}",
        "type": "ESTIMATED",
    }
    proto["statusModule"]["completionDateStruct"] = {"date": "2030-12", "type": "ESTIMATED"}
    proto["designModule"]["enrollmentInfo"] = {"count": rng.randint(20, 900), "type": "ESTIMATED"}
    for site in proto["contactsLocationsModule"]["locations"]:
        site["contacts"] = [{"name": f"Coordinator {rng.randint(1, 999)}", "role": "CONTACT"}]
    record["derivedSection"] = {
        "miscInfoModule": {"versionHolder": "2025-11-20"},
        "conditionBrowseModule": {
            "meshes": [{"id": f"D{rng.randint(1000, 9999)}", "term": _text(rng, 2)}]
        },
    }
    return record


def edited(record: dict[str, Any], day: str) -> dict[str, Any]:
    """A registry update posted on ``day``: status, verified date, one site, and the
    completion date slipping a year (so the event rules read the trial's history)."""
    out = copy.deepcopy(record)
    status = out["protocolSection"]["statusModule"]
    status["completionDateStruct"] = {"date": "2031-12", "type": "ESTIMATED"}
    status["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    status["statusVerifiedDate"] = day[:7]
    status["lastUpdatePostDateStruct"] = {"date": day, "type": "ACTUAL"}
    out["protocolSection"]["contactsLocationsModule"]["locations"][0]["status"] = "COMPLETED"
    return out
