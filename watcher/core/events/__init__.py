"""Events: what a change means, by documented, deterministic rules of thumb.

A recorded change (old record, new record, the field diff, the facts of the
trial's earlier versions) goes through pure rules - one module per family:
:mod:`status <watcher.core.events.status>`, :mod:`dates
<watcher.core.events.schedule>`, :mod:`enrollment
<watcher.core.events.enrollment>`, :mod:`results
<watcher.core.events.results>` (and the FDAAA deadline), :mod:`protocol
<watcher.core.events.protocol>` (outcomes, arms, eligibility, sponsor, sites,
contacts), :mod:`administrative <watcher.core.events.administrative>` - and
comes out as typed :class:`Event` values with a :class:`Level`. Time events
(results due / overdue, stale records) live in :mod:`clock
<watcher.core.events.clock>`. ``docs/events.md`` documents every rule.
"""

from watcher.core.events.classify import classify, needs_history
from watcher.core.events.clock import ClockFacts, ClockState, clock_facts, evaluate
from watcher.core.events.facts import Facts, facts_of
from watcher.core.events.model import (
    LEVEL_NAMES,
    Event,
    EventFilter,
    Level,
    Thresholds,
    highest,
    matches,
)

__all__ = [
    "LEVEL_NAMES",
    "ClockFacts",
    "ClockState",
    "Event",
    "EventFilter",
    "Facts",
    "Level",
    "Thresholds",
    "classify",
    "clock_facts",
    "evaluate",
    "facts_of",
    "highest",
    "matches",
    "needs_history",
]
