"""The typed facts of a trial's current record: what the ``latest`` view shows analysts.

Why a narrow row of its own: analysts ask the same few questions of every
trial (status, phase, sponsor, enrollment, dates), the way AACT's ``studies``
table answers them. Keeping those answers as plain columns, written with each
new version, lets ``latest`` be queried with ordinary SQL and no JSON, at a
few hundred bytes a trial instead of the whole record's ~10 KB as text.

Names and choices follow AACT where it has one: dates as the registry writes
them (``yyyy-mm`` or ``yyyy-mm-dd``, so they sort as text) with their
``ACTUAL``/``ESTIMATED`` type beside them; codes as the registry codes them
(``RECRUITING``, ``PHASE2``); lists joined with ``|`` (conditions,
interventions as ``TYPE: name``, phases). Records come from outside and may
lack any part or carry a wrong type: every accessor tolerates that and gives
NULL. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

SEPARATOR = "|"

COLUMNS: tuple[str, ...] = (
    "acronym",
    "lead_sponsor",
    "sponsor_class",
    "study_type",
    "phases",
    "why_stopped",
    "enrollment",
    "enrollment_type",
    "start_date",
    "start_date_type",
    "primary_completion_date",
    "primary_completion_date_type",
    "completion_date",
    "completion_date_type",
    "has_results",
    "results_first_posted",
    "first_posted",
    "status_verified_date",
    "conditions",
    "interventions",
    "locations_count",
)
"""The ``trial_facts`` columns after ``nct_id``, in the order :func:`facts` gives them."""


_EMPTY: dict[str, Any] = {}
_INT64 = (-(2**63), 2**63 - 1)
"""What an SQLite INTEGER holds: a record's number outside it is kept as no number."""


def _sub(value: dict[str, Any], key: str) -> dict[str, Any]:
    """``value[key]`` when it is an object, else an empty one (so lookups chain safely)."""
    found = value.get(key)
    return found if type(found) is dict else _EMPTY


def _text(value: Any) -> str | None:
    return value if type(value) is str and value else None


def _joined(items: Any, render: Any = None) -> str | None:
    if type(items) is not list:
        return None
    texts = [t for t in (render(i) if render else _text(i) for i in items) if t]
    return SEPARATOR.join(texts) if texts else None


def _intervention(item: Any) -> str | None:
    if type(item) is not dict:
        return None
    name, kind = _text(item.get("name")), _text(item.get("type"))
    if name is None:
        return None
    return f"{kind}: {name}" if kind else name


def facts(record: Any) -> tuple[Any, ...]:
    """The values of :data:`COLUMNS` for one record (NULL wherever the record is silent).

    Called for every new version, so it is written for speed (a few microseconds):
    one pass of plain lookups, no JSON paths.
    """
    top = record if type(record) is dict else _EMPTY
    protocol = _sub(top, "protocolSection")
    status = _sub(protocol, "statusModule")
    design = _sub(protocol, "designModule")
    lead = _sub(_sub(protocol, "sponsorCollaboratorsModule"), "leadSponsor")
    enrollment = _sub(design, "enrollmentInfo")
    start = _sub(status, "startDateStruct")
    primary = _sub(status, "primaryCompletionDateStruct")
    completion = _sub(status, "completionDateStruct")
    count = enrollment.get("count")
    locations = _sub(protocol, "contactsLocationsModule").get("locations")
    has_results = top.get("hasResults")
    return (
        _text(_sub(protocol, "identificationModule").get("acronym")),
        _text(lead.get("name")),
        _text(lead.get("class")),
        _text(design.get("studyType")),
        _joined(design.get("phases")),
        _text(status.get("whyStopped")),
        count if type(count) is int and _INT64[0] <= count <= _INT64[1] else None,
        _text(enrollment.get("type")),
        _text(start.get("date")),
        _text(start.get("type")),
        _text(primary.get("date")),
        _text(primary.get("type")),
        _text(completion.get("date")),
        _text(completion.get("type")),
        int(has_results) if type(has_results) is bool else None,
        _text(_sub(status, "resultsFirstPostDateStruct").get("date")),
        _text(_sub(status, "studyFirstPostDateStruct").get("date")),
        _text(status.get("statusVerifiedDate")),
        _joined(_sub(protocol, "conditionsModule").get("conditions")),
        _joined(_sub(protocol, "armsInterventionsModule").get("interventions"), _intervention),
        len(locations) if type(locations) is list else None,
    )
