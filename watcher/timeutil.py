"""Time in one place: the injectable clock, stored timestamps, server wait hints.

Why one module: the pipeline, delivery, the store and the slash commands all
stamp rows, and a registry, Slack or a webhook receiver may all ask us to wait
(``Retry-After``). Written once, every layer agrees on the format (UTC, second
precision, ``Z``) and on how far a server's wish is trusted.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

Clock = Callable[[], datetime]
"""Returns the current moment (aware, UTC); injected so tests control time."""

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_RETRY_AFTER = 6 * 3600.0
"""A server may ask for a pause, not for eternity: longer hints are capped."""


def utc_now() -> datetime:
    """The real clock."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """Timestamps as stored: UTC, second precision, ``Z`` suffix."""
    return moment.astimezone(UTC).strftime(STAMP_FORMAT)


def parse_iso(text: str) -> datetime:
    """Stored timestamps (``2026-11-25T14:30:00Z``) back to aware datetimes."""
    return datetime.strptime(text, STAMP_FORMAT).replace(tzinfo=UTC)


def parse_retry_after(
    value: str | None, now: datetime | None = None, cap: float = MAX_RETRY_AFTER
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or HTTP date).

    Never raises: garbage, negative, infinite or absurd values give None or are
    clamped to ``[0, cap]``, so a lying server cannot crash a cycle or park an
    alert for a thousand years.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or utc_now())).total_seconds()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)
