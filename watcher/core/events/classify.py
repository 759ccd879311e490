"""The entry point: one change -> its events, highest level first.

The rule families run in a fixed order (status, dates, enrollment, results,
protocol, administrative), each a pure function of the :class:`Change`; types
listed in ``[events] off`` are dropped. Deterministic: the same change and
history always give the same events.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from watcher.core.diff import FieldChange
from watcher.core.events.administrative import administrative_events
from watcher.core.events.context import Change
from watcher.core.events.enrollment import ENROLLMENT, enrollment_events
from watcher.core.events.facts import Facts
from watcher.core.events.model import Event, Thresholds, ordered
from watcher.core.events.protocol import protocol_events
from watcher.core.events.results import results_events
from watcher.core.events.schedule import date_events
from watcher.core.events.status import status_events

Rule = Callable[[Change], Iterator[Event]]
RULES: tuple[Rule, ...] = (
    status_events,
    date_events,
    enrollment_events,
    results_events,
    protocol_events,
    administrative_events,
)
_HISTORY_PATHS = (
    "protocolSection.statusModule.startDateStruct",
    "protocolSection.statusModule.primaryCompletionDateStruct",
    "protocolSection.statusModule.completionDateStruct",
    ENROLLMENT,
)
_UNDER_HISTORY = tuple(path + "." for path in _HISTORY_PATHS)


def classify(
    old: Any,
    new: Any,
    changes: Sequence[FieldChange],
    earlier_versions: Sequence[Facts] = (),
    thresholds: Thresholds | None = None,
) -> list[Event]:
    """The events of the change ``old`` -> ``new`` (both normalised records).

    ``changes`` is :func:`watcher.core.diff.diff_records` of the two;
    ``earlier_versions`` the :class:`Facts` of the versions before ``old``,
    oldest first (see :func:`needs_history`: only date and enrollment rules
    read them). Never raises on odd record shapes: a rule that cannot read
    what it needs makes no event.
    """
    if not changes:
        return []
    t = thresholds or Thresholds()
    change = Change(old, new, changes, earlier_versions, t)
    found = [e for rule in RULES for e in rule(change) if t.enabled(e.type)]
    return ordered(found)


def needs_history(changes: Sequence[FieldChange]) -> bool:
    """Whether any rule will read the earlier versions (so callers can skip loading them)."""
    return any(
        change.schema_path in _HISTORY_PATHS or change.schema_path.startswith(_UNDER_HISTORY)
        for change in changes
    )
