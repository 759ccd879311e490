"""Registry dates as days: ``2024-09`` is the month's last day, ``2024-09-17`` itself.

Why the month's last day: a month-only date promises "by the end of that month",
and it is what FDAAA TrialsTracker uses; comparing ``2024-09`` with
``2024-09-30`` then finds no slip. Anything that does not parse is ``None``:
no event is made from a date nobody can read.
"""

from __future__ import annotations

import calendar
import functools
from datetime import date
from typing import Any


def parse_date(text: Any) -> date | None:
    """``YYYY-MM-DD`` or ``YYYY-MM`` (-> last day of the month), else None."""
    return _parsed(text) if type(text) is str else None


@functools.lru_cache(maxsize=4096)
def _parsed(text: str) -> date | None:
    """Cached: every trial's time facts read two or three dates, and registry dates repeat
    (a few thousand months and days cover most records), so a baseline parses each once."""
    parts = text.strip().split("-")
    try:
        numbers = [int(p) for p in parts]
    except ValueError:
        return None
    try:
        if len(numbers) == 3:
            return date(numbers[0], numbers[1], numbers[2])
        if len(numbers) == 2:
            year, month = numbers
            return date(year, month, calendar.monthrange(year, month)[1])
    except ValueError:  # month 13, day 31 in April, year 0…
        return None
    return None


def add_years(day: date, years: int) -> date | None:
    """The same day ``years`` later (29 February -> 28 February); None past year 9999 (a
    record may say anything: a date there has no deadline, never a crash)."""
    if not date.min.year <= day.year + years <= date.max.year:
        return None
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def months(days: int) -> int:
    """Whole months in a number of days, rounded (for summaries only)."""
    return round(days / 30.4375)


def ordinal(n: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st…"""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
