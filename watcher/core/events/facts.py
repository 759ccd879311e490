"""The few facts of one version that the rules read, extracted once.

Why: rules that know a trial's history (slip counts, the first known target)
look at every earlier version; reading a handful of fields once per version
keeps a 100-version history cheap, and lets the pipeline load only what a rule
needs. Records come from outside: every accessor tolerates anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from watcher.core.events.dates import parse_date
from watcher.core.record import dig

DATE_FIELDS = {
    "start": "startDateStruct",
    "primary_completion": "primaryCompletionDateStruct",
    "completion": "completionDateStruct",
}


def status_module(record: Any) -> Any:
    return dig(record, "protocolSection", "statusModule")


@dataclass(frozen=True)
class DateFact:
    """A planned or actual date as written (``text``), as a day, and its type."""

    text: str
    day: date
    actual: bool


@dataclass(frozen=True)
class Facts:
    """What the history-aware rules read from one version."""

    start: DateFact | None = None
    primary_completion: DateFact | None = None
    completion: DateFact | None = None
    enrollment: int | None = None
    enrollment_actual: bool = False

    def date(self, name: str) -> DateFact | None:
        found: DateFact | None = getattr(self, name)
        return found


def date_of(record: Any, name: str) -> DateFact | None:
    """The :class:`Facts` date ``name`` (``start``, ``primary_completion``, ``completion``)."""
    return _date_in(status_module(record), DATE_FIELDS[name])


def _date_in(module: Any, struct: str) -> DateFact | None:
    """The date ``struct`` of a status module (anything odd -> None)."""
    value = module.get(struct) if isinstance(module, dict) else None
    if not isinstance(value, dict):
        return None
    text = value.get("date")
    day = parse_date(text)
    if day is None or not isinstance(text, str):
        return None
    return DateFact(text, day, value.get("type") == "ACTUAL")


def enrollment(record: Any) -> tuple[int | None, bool]:
    """The enrollment count (None when absent or not a whole number) and whether actual."""
    info = dig(record, "protocolSection", "designModule", "enrollmentInfo")
    count = dig(info, "count")
    if isinstance(count, bool) or not isinstance(count, int | float) or count < 0:
        count = None
    elif isinstance(count, float):
        count = int(count) if count.is_integer() else None
    return count, dig(info, "type") == "ACTUAL"


def facts_of(record: Any) -> Facts:
    """The :class:`Facts` of one record (anything odd -> None for that fact). The status
    module is looked up once for its three dates: each change reads two versions' facts,
    and a slip every earlier version's."""
    count, actual = enrollment(record)
    module = status_module(record)
    return Facts(
        start=_date_in(module, DATE_FIELDS["start"]),
        primary_completion=_date_in(module, DATE_FIELDS["primary_completion"]),
        completion=_date_in(module, DATE_FIELDS["completion"]),
        enrollment=count,
        enrollment_actual=actual,
    )
