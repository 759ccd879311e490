"""Results: first posted (a change event) and the FDAAA deadline (time events).

``results.posted`` (high): the record has results now and had none before.

The deadline follows FDAAA TrialsTracker's reading of FDAAA 801 and its Final
Rule, as far as registry data allows:

- *applicable*: an interventional trial whose phases are known and not only
  Phase 1 / Early Phase 1, that either declares an FDA-regulated drug or device,
  or (started before 2017-01-18, completing on or after it) has a US site and a
  drug, biological or device intervention; and whose deadline date falls on or
  after 2017-01-18 (the Final Rule's effective date);
- *deadline date*: the primary completion date, else the completion date
  (month-only -> the month's last day);
- *due*: that date + 1 year; + 3 years with a certificate of delay
  (``dispFirstSubmitDate``);
- *overdue*: more than 30 days (the grace) after due with no results submitted;
- *reported late*: results first submitted after due + grace.

Anything that does not parse (an empty phase list, no date) makes the trial
not applicable: no time event, never a guessed one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from watcher.core.events.context import Change
from watcher.core.events.dates import add_years, parse_date
from watcher.core.events.model import Event, Level
from watcher.core.record import dig

FINAL_RULE = date(2017, 1, 18)
GRACE_DAYS = 30
PHASE_ONE = frozenset({"PHASE1", "EARLY_PHASE1"})
REGULATED_TYPES = frozenset({"DRUG", "BIOLOGICAL", "DEVICE"})
US = "United States"


def results_events(change: Change) -> Iterator[Event]:
    if has_results(change.new) and not has_results(change.old):
        posted = _results_date(change.new)
        when = f" ({posted.isoformat()})" if posted else ""
        yield Event(
            "results.posted",
            Level.HIGH,
            f"Results were posted for the first time{when}.",
            {"submitted": posted.isoformat() if posted else None},
        )


def has_results(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    return bool(record.get("hasResults")) or isinstance(record.get("resultsSection"), dict)


def _results_date(record: Any) -> date | None:
    """When results were first submitted (else first posted), if the record says."""
    status = dig(record, "protocolSection", "statusModule")
    return parse_date(dig(status, "resultsFirstSubmitDate")) or parse_date(
        dig(status, "resultsFirstPostDateStruct", "date")
    )


@dataclass(frozen=True)
class Deadline:
    """One applicable trial's FDAAA deadline, as computed from its latest version."""

    basis: date
    """Primary completion date, else completion date (the month's last day if month-only)."""
    basis_text: str
    due: date
    certificate: bool
    results: date | None
    """When results were first submitted (or posted); None when there are none."""
    has_results: bool

    @property
    def overdue_from(self) -> date:
        return self.due + timedelta(days=GRACE_DAYS)


def deadline(record: Any) -> Deadline | None:
    """The FDAAA deadline of a record, or None when the rule does not apply (module doc).

    Written for speed, as :func:`watcher.core.events.clock.clock_facts` is (every new
    version of every trial passes here): each module is looked up once, and the tests
    run cheapest first - a legacy trial's interventions (a few) before its sites (up to
    thousands)."""
    protocol = _module(record, "protocolSection")
    design = _module(protocol, "designModule")
    if design.get("studyType") != "INTERVENTIONAL":  # most records stop here or below
        return None
    phases = design.get("phases")
    if type(phases) is not list or not phases or not all(type(p) is str for p in phases):
        return None
    if set(phases) <= PHASE_ONE:
        return None
    status = _module(protocol, "statusModule")
    basis_text = _module(status, "primaryCompletionDateStruct").get("date")
    basis = parse_date(basis_text)
    if basis is None:
        basis_text = _module(status, "completionDateStruct").get("date")
        basis = parse_date(basis_text)
    if basis is None or basis < FINAL_RULE or type(basis_text) is not str:
        return None
    if not (_declared(protocol) or _legacy(protocol, status)):
        return None
    certificate = isinstance(status.get("dispFirstSubmitDate"), str)
    due = add_years(basis, 3 if certificate else 1)
    if due is None:
        return None
    return Deadline(basis, basis_text, due, certificate, _results_date(record), has_results(record))


def _module(parent: Any, name: str) -> dict[str, Any]:
    value = parent.get(name) if type(parent) is dict else None
    return value if type(value) is dict else _NOTHING


_NOTHING: dict[str, Any] = {}
"""What :func:`_module` gives for a missing part: read, never written."""


def _declared(protocol: dict[str, Any]) -> bool:
    oversight = _module(protocol, "oversightModule")
    return oversight.get("isFdaRegulatedDrug") is True or (
        oversight.get("isFdaRegulatedDevice") is True
    )


def _legacy(protocol: dict[str, Any], status: dict[str, Any]) -> bool:
    """Started before the Final Rule (the caller has the deadline date on or after it),
    with a drug, biological or device intervention and a US site."""
    start = parse_date(_module(status, "startDateStruct").get("date"))
    if start is None or start >= FINAL_RULE:
        return False
    interventions = _module(protocol, "armsInterventionsModule").get("interventions")
    if type(interventions) is not list or not any(
        type(i) is dict and type(t := i.get("type")) is str and t in REGULATED_TYPES
        for i in interventions
    ):
        return False
    locations = _module(protocol, "contactsLocationsModule").get("locations")
    return type(locations) is list and any(
        type(x) is dict and x.get("country") == US for x in locations
    )
