"""Hand-written, real-shaped study records for the demo, the benchmark and tests.

Why in the package: ``ctwatch demo`` must work offline on a fresh install, and
the benchmark synthesises thousands of trials from the same templates. The
seed trial, NCT06850103, is transcribed by hand from the registry page the
project started from (``shared/seed/NCT06850103.txt``); fields that page does
not show are left out rather than invented, except one site, named after the
sponsor, so that location changes can be shown.
"""

from __future__ import annotations

import copy
from typing import Any

SEED_NCT = "NCT06850103"

_SEED_SUMMARY = (
    "Background and Significance:\n\nColorectal cancer (CRC) ranks as the third most common "
    "cancer and the second leading cause of cancer-related deaths globally. Despite improved "
    "early screening rates, a significant proportion of newly diagnosed CRC patients present "
    "with synchronous metastases, predominantly liver metastases.\n\nResearch Objective:\n\n"
    "This project aims to evaluate the effectiveness of iTNT combined with SCRT in MSS/pMMR "
    "rectal cancer patients with synchronous oligometastases."
)


def seed_study() -> dict[str, Any]:
    """NCT06850103 as the registry showed it on 2025-12-01 (Last Update Posted)."""
    return {
        "protocolSection": {
            "identificationModule": {
                "nctId": SEED_NCT,
                "organization": {
                    "fullName": "First Affiliated Hospital of Zhejiang University",
                    "class": "OTHER",
                },
                "briefTitle": (
                    "SCRT-CAPEOX-Serplulimab for MSS/pMMR Rectal Cancer With Oligometastases"
                ),
                "officialTitle": (
                    "A Phase II Exploratory Multicenter Randomized Controlled Clinical Trial to "
                    "Evaluate the Effectiveness of Neoadjuvant Short-Course Radiotherapy (SCRT) "
                    "Followed by CAPEOX Chemotherapy and Serplulimab in Microsatellite Stable "
                    "(MSS) or Proficient Mismatch Repair (pMMR) Rectal Cancer With Synchronous "
                    "Oligometastases"
                ),
            },
            "statusModule": {
                "statusVerifiedDate": "2025-11",
                "overallStatus": "RECRUITING",
                "expandedAccessInfo": {"hasExpandedAccess": False},
                "studyFirstPostDateStruct": {"date": "2025-02-24", "type": "ACTUAL"},
                "lastUpdatePostDateStruct": {"date": "2025-12-01", "type": "ACTUAL"},
            },
            "sponsorCollaboratorsModule": {
                "leadSponsor": {
                    "name": "First Affiliated Hospital of Zhejiang University",
                    "class": "OTHER",
                }
            },
            "oversightModule": {"isFdaRegulatedDrug": False, "isFdaRegulatedDevice": False},
            "descriptionModule": {"briefSummary": _SEED_SUMMARY},
            "designModule": {"studyType": "INTERVENTIONAL", "phases": ["PHASE2"]},
            "contactsLocationsModule": {
                "locations": [
                    {
                        "facility": "First Affiliated Hospital of Zhejiang University",
                        "status": "RECRUITING",
                        "city": "Hangzhou",
                        "state": "Zhejiang",
                        "country": "China",
                    }
                ]
            },
        },
        "derivedSection": {"miscInfoModule": {"versionHolder": "2025-12-01"}},
        "hasResults": False,
    }


def make_study(
    nct_id: str,
    title: str,
    *,
    status: str = "RECRUITING",
    last_update: str = "2025-10-01",
    verified: str = "2025-09",
    sites: int = 3,
    phase: str = "PHASE2",
) -> dict[str, Any]:
    """A real-shaped study record with ``sites`` locations."""
    study = seed_study()
    proto = study["protocolSection"]
    proto["identificationModule"].update(
        {"nctId": nct_id, "briefTitle": title, "officialTitle": f"A Study of {title}"}
    )
    proto["statusModule"].update(
        {
            "overallStatus": status,
            "statusVerifiedDate": verified,
            "lastUpdatePostDateStruct": {"date": last_update, "type": "ACTUAL"},
        }
    )
    proto["designModule"]["phases"] = [phase]
    proto["contactsLocationsModule"]["locations"] = [
        {
            "facility": f"Site {i + 1} of {nct_id}",
            "status": "RECRUITING",
            "city": ("Boston", "Lyon", "Osaka", "Toronto")[i % 4],
            "country": ("United States", "France", "Japan", "Canada")[i % 4],
        }
        for i in range(sites)
    ]
    return study


def changed(
    study: dict[str, Any],
    *,
    status: str | None = None,
    last_update: str | None = None,
    verified: str | None = None,
    why_stopped: str | None = None,
    version_holder: str | None = None,
) -> dict[str, Any]:
    """A copy of ``study`` with registry-style edits applied."""
    out = copy.deepcopy(study)
    module = out["protocolSection"]["statusModule"]
    if status is not None:
        module["overallStatus"] = status
    if last_update is not None:
        module["lastUpdatePostDateStruct"] = {"date": last_update, "type": "ACTUAL"}
    if verified is not None:
        module["statusVerifiedDate"] = verified
    if why_stopped is not None:
        module["whyStopped"] = why_stopped
    if version_holder is not None:
        out.setdefault("derivedSection", {}).setdefault("miscInfoModule", {})["versionHolder"] = (
            version_holder
        )
    return out
