"""Real-shaped change sets that every renderer is tested on, and the golden-file check.

Regenerate golden files after an intended change with CTWATCH_UPDATE_GOLDEN=1 and review
the diff.
"""

from __future__ import annotations

import copy
import os
from datetime import UTC, datetime
from typing import Any

from tests.support.paths import GOLDEN
from watcher.core.diff import diff_records
from watcher.core.events.classify import classify
from watcher.core.render import Alert
from watcher.core.snapshot import take_snapshot
from watcher.testing.samples import changed, make_study, seed_study

NOW = datetime(2026, 11, 25, 14, 30, tzinfo=UTC)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CTWATCH_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with CTWATCH_UPDATE_GOLDEN=1 and review it"
    assert text == path.read_text(encoding="utf-8")


def alert_between(old: dict[str, Any], new: dict[str, Any]) -> Alert:
    a, b = take_snapshot("x", old), take_snapshot("x", new)
    nct = b.record["protocolSection"]["identificationModule"]["nctId"]
    changes = diff_records(a.record, b.record)
    events = tuple(classify(a.record, b.record, changes))
    return Alert(nct, b.title, tuple(changes), b.last_update_posted, events=events)


def status_change() -> Alert:
    old = seed_study()
    return alert_between(
        old,
        changed(old, status="ACTIVE_NOT_RECRUITING", verified="2026-01", last_update="2026-01-15"),
    )


def termination() -> Alert:
    old = make_study(
        "NCT05180006", "Impact of Neoadjuvant Immunotherapy in Early Stage Breast Cancer", sites=2
    )
    old["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 185, "type": "ESTIMATED"}
    new = changed(
        old,
        status="TERMINATED",
        why_stopped="Abandon of the partner, ROCHE",
        last_update="2025-12-01",
        verified="2025-11",
    )
    new["protocolSection"]["designModule"]["enrollmentInfo"] = {"count": 33, "type": "ACTUAL"}
    new["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {
        "date": "2024-12-17",
        "type": "ACTUAL",
    }
    return alert_between(old, new)


def site_churn() -> Alert:
    old = make_study("NCT04267848", "Sites & keywords <reorganised>", sites=6)
    old["protocolSection"]["conditionsModule"] = {"keywords": ["HER2-negative", "bone metastases"]}
    new = copy.deepcopy(old)
    sites = new["protocolSection"]["contactsLocationsModule"]["locations"]
    del sites[:4]
    sites.extend(
        {
            "facility": f"Centre {i}",
            "city": "Lyon",
            "country": "France",
            "status": "NOT_YET_RECRUITING",
        }
        for i in range(5)
    )
    new["protocolSection"]["conditionsModule"]["keywords"] = ["HER2 negative", "bone metastases"]
    return alert_between(old, new)


CASES = {"status_change": status_change, "termination": termination, "site_churn": site_churn}
