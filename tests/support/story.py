"""A trial with a long, telling history, written through the store as a cycle writes it.

Why in the package: the web UI's browser tests and ``bench/ui.py`` both need a
trial whose timelines have something to show - status moving through the
usual stages, an enrollment target revised then an actual count, a primary
completion date that keeps slipping ("always a year away") - recorded as real
versions (snapshot, field diff, the words alerts use) rather than rows typed
by hand.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from watcher.core.diff import diff_records
from watcher.core.snapshot import take_snapshot
from watcher.cycle.stored import stored_changes
from watcher.store import Store
from watcher.testing.samples import make_study

STAGES = ("NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED")


def slipping_records(
    nct_id: str,
    count: int,
    *,
    title: str = "A trial that is always a year away",
    start: date = date(2019, 1, 7),
    step_days: int = 40,
) -> list[dict[str, Any]]:
    """``count`` successive records: status through :data:`STAGES`, the target enrollment
    raised every 5th version, actual enrollment in the last quarter, the primary completion
    date slipping 3 months every 3rd version (ACTUAL once completed)."""
    base = make_study(nct_id, title, phase="PHASE3")
    base["protocolSection"]["designModule"]["studyType"] = "INTERVENTIONAL"
    records = []
    for index in range(count):
        record = copy.deepcopy(base)
        status_module = record["protocolSection"]["statusModule"]
        design = record["protocolSection"]["designModule"]
        day = start + timedelta(days=step_days * index)
        stage = STAGES[min(index * len(STAGES) // count, len(STAGES) - 1)]
        status_module["overallStatus"] = stage
        status_module["lastUpdatePostDateStruct"] = {"date": day.isoformat(), "type": "ACTUAL"}
        status_module["lastUpdateSubmitDate"] = day.isoformat()
        slips = index // 3
        planned = date(2022 + (6 + 3 * slips) // 12, 1 + (6 + 3 * slips) % 12, 1)
        done = stage == "COMPLETED"
        status_module["primaryCompletionDateStruct"] = {
            "date": planned.isoformat()[:7], "type": "ACTUAL" if done else "ESTIMATED",
        }  # fmt: skip
        later = planned + timedelta(days=365)
        status_module["completionDateStruct"] = {"date": later.isoformat()[:7], "type": "ESTIMATED"}
        actual = index >= count * 3 // 4
        design["enrollmentInfo"] = {
            "count": 40 * index if actual else 200 + 50 * (index // 5),
            "type": "ACTUAL" if actual else "ESTIMATED",
        }
        records.append(record)
    return records


def record_story(store: Store, nct_id: str, records: Sequence[dict[str, Any]]) -> list[int]:
    """Write ``records`` as successive observed versions (the first a baseline), each
    with its field changes; returns the version ids."""
    ids = []
    previous: dict[str, Any] | None = None
    with store.versions.batch() as batch:
        for record in records:
            snap = take_snapshot(nct_id, record)
            changes = stored_changes(diff_records(previous, snap.record)) if previous else []
            module = record["protocolSection"]["statusModule"]
            fetched = (
                module.get("lastUpdateSubmitDate") or module["lastUpdatePostDateStruct"]["date"]
            )
            with batch.trial():
                ids.append(batch.record_version(snap, changes, [], f"{fetched}T12:00:00Z"))
            previous = snap.record
    return ids


def import_story(
    store: Store, nct_id: str, records: Sequence[dict[str, Any]], now: str = "2026-01-05T08:00:00Z"
) -> list[int]:
    """Write ``records`` as versions imported from the registry's history (numbered 1…n
    by the registry), placed before any version already stored, as a backfill does."""
    with store.histories.writing(nct_id) as write:
        write.ensure_trial(take_snapshot(nct_id, records[-1]), now)
        existing = write.outline()
        ids = []
        previous: dict[str, Any] | None = None
        for number, record in enumerate(records, start=1):
            snap = take_snapshot(nct_id, record)
            module = record["protocolSection"]["statusModule"]
            submitted = (
                module.get("lastUpdateSubmitDate") or module["lastUpdatePostDateStruct"]["date"]
            )
            version_id = write.insert(snap, number, submitted, now)
            if previous is not None:
                write.set_changes(version_id, stored_changes(diff_records(previous, snap.record)))
            ids.append(version_id)
            previous = snap.record
        write.reorder(ids + [v.id for v in existing])
    return ids
