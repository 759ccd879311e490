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

The package itself exports only the values and the time rules: reading a config or a
database needs an :class:`Event` or a :class:`Level`, never the classifier, so the
classifier (:mod:`classify <watcher.core.events.classify>`) is imported from its
module by what classifies, and ``ctwatch status`` starts without it.
"""

from watcher.core.events.clock import ClockFacts, ClockState, clock_facts, evaluate
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
    "Level",
    "Thresholds",
    "clock_facts",
    "evaluate",
    "highest",
    "matches",
]
