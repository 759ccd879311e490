"""``record.administrative`` (info): a change made only of bookkeeping fields.

The update dates, the status-verified date and the registry's version holder
move with every resubmission; a change that touches nothing else is worth one
quiet line, not an alert of its own weight.
"""

from __future__ import annotations

from collections.abc import Iterator

from watcher.core.events.context import Change
from watcher.core.events.model import Event, Level

ADMINISTRATIVE = (
    "protocolSection.statusModule.statusVerifiedDate",
    "protocolSection.statusModule.lastUpdateSubmitDate",
    "protocolSection.statusModule.lastUpdatePostDateStruct",
    "protocolSection.statusModule.lastUpdateSubmitQcDate",
    "derivedSection.miscInfoModule.versionHolder",
)


_UNDER = tuple(p + "." for p in ADMINISTRATIVE)


def is_administrative(schema_path: str) -> bool:
    return schema_path in ADMINISTRATIVE or schema_path.startswith(_UNDER)


def administrative_events(change: Change) -> Iterator[Event]:
    if change.changes and all(is_administrative(p) for p in change.schema_paths):
        yield Event(
            "record.administrative",
            Level.INFO,
            "Only administrative dates changed (update or verification dates).",
            {"fields": len(change.changes)},
        )
