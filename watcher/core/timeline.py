"""What a trial's timelines are made of: the few facts of each version that are drawn.

Why pure and separate from the store: the web UI's charts (status swimlane,
enrollment steps, planned dates against version dates) and any later chart in
a digest read the same facts the same way, from one record at a time, without
I/O. Every reader is defensive: historic records miss whole modules.

The results due date follows FDAAA 801 as FDAAA TrialsTracker reads it: results
are due one year after the *actual* primary completion date. Only whether a
trial is an applicable clinical trial decides it in law, which the record does
not say outright; the rule here is the tracker's rule of thumb (interventional,
not phase 1 / early phase 1, a primary completion date that is ACTUAL and no
results posted). It marks a date on a chart; it judges no one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from watcher.core.events.dates import add_years
from watcher.core.record import dig

_EARLY_PHASES = {"PHASE1", "EARLY_PHASE1"}


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


@dataclass(frozen=True)
class DatedValue:
    """A registry date (``2026-06`` or ``2026-06-30``) and its type (ACTUAL / ESTIMATED)."""

    date: str
    type: str | None = None

    @property
    def day(self) -> dt.date | None:
        """The date as a day (a month alone is its first day); None when it does not parse."""
        return parse_day(self.date)


@dataclass(frozen=True)
class Facts:
    """The drawn facts of one version."""

    status: str | None = None
    enrollment: int | None = None
    enrollment_type: str | None = None
    """``ACTUAL`` or ``ESTIMATED`` (the target), as the record says."""
    primary_completion: DatedValue | None = None
    completion: DatedValue | None = None
    study_type: str | None = None
    phases: tuple[str, ...] = ()
    has_results: bool = False

    @classmethod
    def of(cls, record: Any) -> Facts:
        status = dig(record, "protocolSection", "statusModule")
        design = dig(record, "protocolSection", "designModule")
        count = dig(design, "enrollmentInfo", "count")
        phases = dig(design, "phases")
        return cls(
            status=_str(dig(status, "overallStatus")),
            enrollment=count if isinstance(count, int) and not isinstance(count, bool) else None,
            enrollment_type=_str(dig(design, "enrollmentInfo", "type")),
            primary_completion=_dated(dig(status, "primaryCompletionDateStruct")),
            completion=_dated(dig(status, "completionDateStruct")),
            study_type=_str(dig(design, "studyType")),
            phases=tuple(p for p in phases if isinstance(p, str))
            if isinstance(phases, list)
            else (),
            has_results=bool(dig(record, "hasResults")) or "resultsSection" in (record or {}),
        )


def _dated(struct: Any) -> DatedValue | None:
    value = _str(dig(struct, "date"))
    return DatedValue(value, _str(dig(struct, "type"))) if value else None


def parse_day(text: str | None) -> dt.date | None:
    """``2026``, ``2026-06`` or ``2026-06-30`` -> a day (the first of a month or year)."""
    if not text:
        return None
    parts = text[:10].split("-")
    try:
        numbers = [int(p) for p in parts] + [1] * (3 - len(parts))
        return dt.date(numbers[0], numbers[1], numbers[2])
    except (ValueError, IndexError):
        return None


def results_due(facts: Facts) -> dt.date | None:
    """One year after an actual primary completion, for an interventional trial beyond
    phase 1 without posted results (the rule of thumb above); None otherwise."""
    pcd = facts.primary_completion
    if pcd is None or pcd.type != "ACTUAL" or facts.has_results:
        return None
    if facts.study_type != "INTERVENTIONAL" or (
        set(facts.phases) and set(facts.phases) <= _EARLY_PHASES
    ):
        return None
    day = pcd.day
    return None if day is None else add_years(day, 1)
