"""The event model: what a change (or the passing of time) means, as a value.

Why a separate model: every channel, the store, the CLI and the web UI speak of
events, and each needs the same four facts - a stable dotted ``type``
(``dates.primary_completion_slipped``), a :class:`Level`, typed ``values``
(days, percent, from/to, slip count) and one neutral ``summary`` sentence. The
rules that make events live next to this module, one module per rule family.

Events are rules of thumb over registry data, never a judgment of a sponsor:
summaries say what the record says, not why.
"""

from __future__ import annotations

import enum
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from watcher.core.jsoncodec import compact_json

Value = str | int | float | bool | None
"""A typed event value (JSON scalars only, so every channel can carry it)."""


class Level(enum.Enum):
    """How much an event is likely to matter; ``high`` > ``medium`` > ``low`` > ``info``."""

    INFO = "info"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """0 for info … 3 for high: compare levels by rank. Looked up by the member's
        text: an enum member's own hash is computed in Python, and every event sorted,
        filtered or rendered asks for its rank."""
        return _RANK_OF[self._value_]

    @classmethod
    def parse(cls, text: str) -> Level:
        """``"high"`` -> Level.HIGH; ValueError naming the allowed words otherwise."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(level.value for level in cls)
            raise ValueError(f"{text!r} is not a level (use one of {allowed})") from None

    def at_least(self, other: Level) -> bool:
        """Whether this level is ``other`` or higher."""
        return self.rank >= other.rank


_RANK_OF = {level.value: rank for rank, level in enumerate(Level)}  # declared order
LEVEL_NAMES = tuple(level.value for level in Level)
STORED_LEVELS = {level.value: level for level in Level}
"""A level as stored (``"high"``) to its member: one lookup for every event read back,
where ``Level(text)`` goes through the enum machinery."""

EVENT_TYPES = (
    "status.changed",
    "dates.primary_completion_slipped",
    "dates.primary_completion_pulled_in",
    "dates.completion_slipped",
    "dates.completion_pulled_in",
    "dates.start_slipped",
    "dates.start_pulled_in",
    "enrollment.target_changed",
    "enrollment.actual_reported",
    "results.posted",
    "results.due_soon",
    "results.due",
    "results.overdue",
    "results.reported_late",
    "outcomes.primary_changed",
    "outcomes.secondary_changed",
    "arms.changed",
    "eligibility.changed",
    "sponsor.changed",
    "sites.changed",
    "contacts.changed",
    "record.administrative",
    "record.stale",
)
"""Every event type the rules make (``docs/events.md`` documents each)."""


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """The patterns, each checked to match at least one event type (a typo matches none)."""
    out = []
    for pattern in patterns:
        text = pattern.strip()
        if not text or not any(fnmatch.fnmatchcase(t, text) for t in EVENT_TYPES):
            raise ValueError(
                f"{pattern!r} matches no event type (e.g. 'status.*', 'dates.*', "
                "'results.overdue'; docs/events.md lists them)"
            )
        out.append(text)
    return tuple(out)


@dataclass(frozen=True)
class Event:
    """One typed event: ``type``, ``level``, typed ``values``, one ``summary`` sentence."""

    type: str
    level: Level
    summary: str
    values: Mapping[str, Value] = field(default_factory=dict)

    @property
    def values_json(self) -> str:
        """The values as stored (compact JSON), made once per event: the events of a
        baseline's time facts are shared by every trial of a status and a date. Kept in
        the instance's ``__dict__`` by hand: Python 3.11's ``cached_property`` takes one
        lock for every instance, which costs more than the JSON for an event stored once."""
        made: str | None = self.__dict__.get("_values_json")
        if made is None:
            made = self.__dict__["_values_json"] = compact_json(dict(self.values))
        return made

    @property
    def family(self) -> str:
        """``dates`` for ``dates.primary_completion_slipped``."""
        return self.type.split(".", 1)[0]

    def as_json(self) -> dict[str, Any]:
        """The shape webhooks and ``ctwatch events --json`` carry."""
        return {
            "type": self.type,
            "level": self.level.value,
            "summary": self.summary,
            "values": dict(self.values),
        }


def event_from_json(data: Any) -> Event | None:
    """An :meth:`Event.as_json` object read back (None for anything else)."""
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    level = data.get("level")
    values = data.get("values")
    return Event(
        data["type"],
        STORED_LEVELS.get(level, Level.INFO) if isinstance(level, str) else Level.INFO,
        str(data.get("summary", "")),
        values if isinstance(values, dict) else {},
    )


@dataclass(frozen=True)
class Thresholds:
    """The ``[events]`` table, as the rules read it (defaults: the documented ones)."""

    slip_high_days: int = 180
    enrollment_cut_high: float = 0.30
    enrollment_cut_medium: float = 0.10
    due_soon_days: int = 30
    stale_after_days: int = 30
    off: tuple[str, ...] = ()
    """Type patterns (``"sites.*"``) whose events are not made."""

    def enabled(self, event_type: str) -> bool:
        return not matches(event_type, self.off)


def matches(event_type: str, patterns: Iterable[str]) -> bool:
    """Whether a type matches any glob pattern (``"dates.*"``, ``"results.overdue"``)."""
    return any(fnmatch.fnmatchcase(event_type, p) for p in patterns)


def highest(events: Sequence[Event]) -> Level:
    """The highest level among ``events``; a change with no event counts as info."""
    return max((e.level for e in events), key=lambda lv: lv.rank, default=Level.INFO)


def ordered(events: Iterable[Event]) -> list[Event]:
    """Highest level first, then in the order the rules made them (stable)."""
    return sorted(events, key=lambda e: -e.level.rank)


@dataclass(frozen=True)
class EventFilter:
    """What one destination wants: a minimum level and, optionally, type patterns.

    A change with no event counts as one ``info`` event of no type: it passes a
    filter at ``info`` without type patterns, and no other.
    """

    min_level: Level = Level.INFO
    types: tuple[str, ...] = ()

    @property
    def everything(self) -> bool:
        return self.min_level is Level.INFO and not self.types

    def passes(self, events: Sequence[Event]) -> bool:
        """Whether a change with these events is for this destination."""
        if self.everything:
            return True
        if not events:
            return self.min_level is Level.INFO and not self.types
        return any(self.wants(e) for e in events)

    def wants(self, event: Event) -> bool:
        if not event.level.at_least(self.min_level):
            return False
        return not self.types or matches(event.type, self.types)
