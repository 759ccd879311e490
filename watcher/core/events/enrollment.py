"""Enrollment: the target moved, or the actual enrollment was reported.

``enrollment.target_changed``: both counts known, the old one above 0 (no
percent otherwise), and the count is not being reported as actual for the
first time. A cut of ``enrollment_cut_high`` (30 %) or more is high, of
``enrollment_cut_medium`` (10 %) or more medium, anything else (smaller cuts,
increases) low.

``enrollment.actual_reported``: the type became ACTUAL. Carries the percent
of the last target (none when there was no target above 0); the level follows
the shortfall against that target with the same thresholds (no shortfall:
low). An actual enrollment of 0 (a withdrawn trial) is data, reported as such.

Both carry the first known target, from the earliest stored version.
"""

from __future__ import annotations

from collections.abc import Iterator

from watcher.core.events.context import Change
from watcher.core.events.model import Event, Level, Thresholds

ENROLLMENT = "protocolSection.designModule.enrollmentInfo"


def enrollment_events(change: Change) -> Iterator[Event]:
    if not change.touches(ENROLLMENT):
        return
    old, new = change.old_facts, change.new_facts
    first = _first_target(change)
    if new.enrollment_actual and not old.enrollment_actual and new.enrollment is not None:
        yield _actual(change.thresholds, old.enrollment, new.enrollment, first)
        return
    if old.enrollment is None or new.enrollment is None or old.enrollment == new.enrollment:
        return
    if old.enrollment == 0:
        return  # no percent to compute
    fraction = (new.enrollment - old.enrollment) / old.enrollment
    level = _cut_level(change.thresholds, -fraction)
    percent = round(fraction * 100, 1)
    direction = "cut" if fraction < 0 else "raised"
    summary = (
        f"Enrollment target {direction} from {old.enrollment} to {new.enrollment} ({percent:+g} %)"
    )
    if first is not None and first != old.enrollment:
        summary += f"; first known target {first}"
    yield Event(
        "enrollment.target_changed",
        level,
        summary + ".",
        {"old": old.enrollment, "new": new.enrollment, "percent": percent, "first_target": first},
    )


def _actual(thresholds: Thresholds, target: int | None, actual: int, first: int | None) -> Event:
    if target is None or target <= 0:
        summary = f"Actual enrollment reported: {actual}."
        return Event(
            "enrollment.actual_reported",
            Level.LOW,
            summary,
            {"actual": actual, "target": target, "percent_of_target": None, "first_target": first},
        )
    percent = round(actual / target * 100, 1)
    level = _cut_level(thresholds, 1 - actual / target)
    summary = f"Actual enrollment reported: {actual} ({percent:g} % of the target of {target})"
    if first is not None and first != target:
        summary += f"; first known target {first}"
    return Event(
        "enrollment.actual_reported",
        level,
        summary + ".",
        {"actual": actual, "target": target, "percent_of_target": percent, "first_target": first},
    )


def _cut_level(thresholds: Thresholds, cut: float) -> Level:
    """A cut (0.3 = 30 % fewer) as a level; no cut is low."""
    if cut >= thresholds.enrollment_cut_high - 1e-9:
        return Level.HIGH
    if cut >= thresholds.enrollment_cut_medium - 1e-9:
        return Level.MEDIUM
    return Level.LOW


def _first_target(change: Change) -> int | None:
    """The earliest stored target (a count not yet reported as actual)."""
    for facts in change.history:
        if facts.enrollment is not None and not facts.enrollment_actual:
            return facts.enrollment
    return None
