"""``status.changed``: the overall recruitment status moved.

High when the new status stops the trial (terminated, suspended, withdrawn),
carrying the record's why-stopped text; medium for every other move.
"""

from __future__ import annotations

from collections.abc import Iterator

from watcher.core.describe import enum_text
from watcher.core.events.context import Change
from watcher.core.events.model import Event, Level
from watcher.core.record import dig
from watcher.core.text import one_line

STATUS = "protocolSection.statusModule.overallStatus"
STOPPED = frozenset({"TERMINATED", "SUSPENDED", "WITHDRAWN"})


def status_events(change: Change) -> Iterator[Event]:
    if not change.touches(STATUS):
        return
    old = dig(change.old, "protocolSection", "statusModule", "overallStatus")
    new = dig(change.new, "protocolSection", "statusModule", "overallStatus")
    if not isinstance(old, str) or not isinstance(new, str) or old == new:
        return
    why = dig(change.new, "protocolSection", "statusModule", "whyStopped")
    why_text = one_line(why, 300) if isinstance(why, str) and why.strip() else None
    stopped = new in STOPPED
    summary = f"Overall status changed from {enum_text(STATUS, old)} to {enum_text(STATUS, new)}"
    if stopped and why_text:
        summary += f" (why stopped: “{why_text}”)"
    yield Event(
        "status.changed",
        Level.HIGH if stopped else Level.MEDIUM,
        summary + ".",
        {"from": old, "to": new, "why_stopped": why_text if stopped else None},
    )
