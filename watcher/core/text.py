"""Cutting text to fit: one rule for every place that has a limit.

Slack sections, email subjects, stored gists, list-item keys and table cells
all have limits. Cutting always ends in "…" so a reader knows something was
left out, and white space is folded where a value must stay on one line.
"""

from __future__ import annotations

ELLIPSIS = "…"


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    return text[: limit - 1].rstrip() + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """White space folded to single spaces, then :func:`truncate`."""
    return truncate(" ".join(text.split()), limit)
