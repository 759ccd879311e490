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


def _get(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _joined(items: list[str]) -> str | None:
    return SEPARATOR.join(items) if items else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _date(status: Any, struct: str) -> tuple[str | None, str | None]:
    """``(date, type)`` of a ``…DateStruct``."""
    return _text(_get(status, struct, "date")), _text(_get(status, struct, "type"))


def _intervention(item: Any) -> str | None:
    name = _text(_get(item, "name"))
    if name is None:
        return None
    kind = _text(_get(item, "type"))
    return f"{kind}: {name}" if kind else name


def facts(record: Any) -> tuple[Any, ...]:
    """The values of :data:`COLUMNS` for one record (NULL wherever the record is silent)."""
    protocol = _get(record, "protocolSection")
    ident = _get(protocol, "identificationModule")
    status = _get(protocol, "statusModule")
    design = _get(protocol, "designModule")
    lead = _get(protocol, "sponsorCollaboratorsModule", "leadSponsor")
    enrollment = _get(design, "enrollmentInfo")
    start, start_type = _date(status, "startDateStruct")
    primary, primary_type = _date(status, "primaryCompletionDateStruct")
    completion, completion_type = _date(status, "completionDateStruct")
    conditions = [c for c in _list(_get(protocol, "conditionsModule", "conditions")) if _text(c)]
    interventions = _list(_get(protocol, "armsInterventionsModule", "interventions"))
    named = [n for n in (_intervention(i) for i in interventions) if n]
    locations = _get(protocol, "contactsLocationsModule", "locations")
    has_results = _get(record, "hasResults")
    return (
        _text(_get(ident, "acronym")),
        _text(_get(lead, "name")),
        _text(_get(lead, "class")),
        _text(_get(design, "studyType")),
        _joined([p for p in _list(_get(design, "phases")) if _text(p)]),
        _text(_get(status, "whyStopped")),
        _int(_get(enrollment, "count")),
        _text(_get(enrollment, "type")),
        start,
        start_type,
        primary,
        primary_type,
        completion,
        completion_type,
        int(has_results) if isinstance(has_results, bool) else None,
        _text(_get(status, "resultsFirstPostDateStruct", "date")),
        _text(_get(status, "studyFirstPostDateStruct", "date")),
        _text(_get(status, "statusVerifiedDate")),
        _joined(conditions),
        _joined(named),
        len(locations) if isinstance(locations, list) else None,
    )
