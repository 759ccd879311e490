"""Planned dates: slips and pull-ins of start, primary completion and completion.

Direction-aware: a later date is a *slip*, an earlier one a *pull-in* (a trial
that ended early pulls its completion in; that is not a slip). Month-only dates
count as the month's last day; estimated -> actual with the same day is no event.
A slip is high at ``slip_high_days`` or more, medium below; a pull-in of
primary completion or completion is medium at that size, low below; a start
pulled in is low. A slip carries the trial's history where versions are
stored: how many slips of that date so far (this one included) and the days
since the earliest known date.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from watcher.core.events.context import Change
from watcher.core.events.dates import months, ordinal
from watcher.core.events.facts import DATE_FIELDS, DateFact, Facts
from watcher.core.events.model import Event, Level

_WORDS = {"start": "Start", "primary_completion": "Primary completion", "completion": "Completion"}


_PATHS = {name: f"protocolSection.statusModule.{struct}" for name, struct in DATE_FIELDS.items()}


def date_events(change: Change) -> Iterator[Event]:
    for name, path in _PATHS.items():
        if not change.touches(path):
            continue
        old, new = change.old_date(name), change.new_date(name)
        if old is None or new is None or old.day == new.day:
            continue
        days = (new.day - old.day).days
        if days > 0:
            yield _slip(change, name, old, new, days)
        elif name != "start" or change.thresholds.enabled("dates.start_pulled_in"):
            yield _pulled_in(change, name, old, new, -days)


def _slip(change: Change, name: str, old: DateFact, new: DateFact, days: int) -> Event:
    t = change.thresholds
    count, first = _history(change.earlier, old, name)
    count += 1
    since = (new.day - first.day).days
    level = Level.HIGH if days >= t.slip_high_days else Level.MEDIUM
    summary = (
        f"{_WORDS[name]} date moved later by {days} days ({old.text} → {new.text}, "
        f"about {months(days)} months); {ordinal(count)} slip"
    )
    if count > 1 or first.text != old.text:
        summary += f"; {_signed_months(since)} since {first.text} (first known)"
    return Event(
        f"dates.{name}_slipped",
        level,
        summary + ".",
        {
            "old": old.text,
            "new": new.text,
            "days": days,
            "slip_count": count,
            "first_known": first.text,
            "days_since_first_known": since,
            "new_is_actual": new.actual,
        },
    )


def _pulled_in(change: Change, name: str, old: DateFact, new: DateFact, days: int) -> Event:
    big = days >= change.thresholds.slip_high_days
    level = Level.LOW if name == "start" or not big else Level.MEDIUM
    kind = "actual" if new.actual else "planned"
    return Event(
        f"dates.{name}_pulled_in",
        level,
        f"{_WORDS[name]} date moved earlier by {days} days ({old.text} → {new.text}, {kind}).",
        {"old": old.text, "new": new.text, "days": -days, "new_is_actual": new.actual},
    )


def _history(earlier: Sequence[Facts], old: DateFact, name: str) -> tuple[int, DateFact]:
    """Slips of ``name`` among the earlier versions (up to ``old``, the old version's date)
    and the first known date."""
    known = [d for d in (f.date(name) for f in earlier) if d is not None]
    known.append(old)
    first = known[0]
    slips = sum(1 for a, b in itertools.pairwise(known) if b.day > a.day)
    return slips, first


def _signed_months(days: int) -> str:
    sign = "+" if days >= 0 else "−"
    return f"{sign}{abs(months(days))} months ({sign}{abs(days)} days)"
