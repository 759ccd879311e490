"""The query parameters of ``/changes`` (and the compare page), checked one by one.

Why strict: a page that silently ignores ``level=hihg`` or ``since=yesterday``
shows the wrong log and looks right. Every problem is a :class:`BadParameter`
naming the parameter and the value (cut short), which the route answers with a
400 and that one line. Empty values count as absent (an HTML form sends them).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from watcher.config import normalise_nct_id
from watcher.store.log_filters import parse_cursor
from watcher.store.timeline import LEVELS

CHANGES_PARAMS = frozenset(
    {
        "trial",
        "watch",
        "search",
        "level",
        "type",
        "since",
        "until",
        "after",
        "set",
        "format",
        "limit",
    }
)
FORMATS = ("html", "csv", "json")
MAX_SETS = 1000
MAX_LIMIT = 1000
_GLOB = re.compile(r"^[A-Za-z0-9_.*?\[\]!-]{1,100}$")
_RELATIVE = re.compile(r"^(\d{1,5})d$")


class BadParameter(ValueError):
    """A query parameter that cannot be used; ``str()`` is the one-line reason."""


def _shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


@dataclass(frozen=True)
class ChangesParams:
    """``/changes`` as asked (each part checked; None: not asked)."""

    trial: str | None = None
    watch: str | None = None
    search: str | None = None
    level: str = "info"
    type: str | None = None
    since: str | None = None
    until: str | None = None
    after: tuple[str, int] | None = None
    sets: tuple[int, ...] | None = None
    format: str = "html"
    limit: int | None = None

    def query_items(self, **override: str | None) -> list[tuple[str, str]]:
        """The filter as query parameters (without ``after`` unless given), for links."""
        items: dict[str, str | None] = {
            "trial": self.trial,
            "watch": self.watch,
            "search": self.search,
            "level": self.level if self.level != "info" else None,
            "type": self.type,
            "since": self.since,
            "until": self.until,
            "set": ",".join(str(s) for s in self.sets) if self.sets is not None else None,
        }
        items.update(override)
        return [(k, v) for k, v in items.items() if v]


def parse_changes(query: Mapping[str, str], today: date) -> ChangesParams:
    """Check every parameter (BadParameter names the first that is wrong)."""
    for name in query:
        if name not in CHANGES_PARAMS:
            raise BadParameter(f"unknown parameter {_shown(name)}")
    got = {k: v.strip() for k, v in query.items() if v.strip()}
    level = got.get("level", "info").lower()
    if level not in LEVELS:
        raise BadParameter(f"level: {_shown(level)} is not one of {', '.join(LEVELS)}")
    type_glob = got.get("type")
    if type_glob is not None and not _GLOB.match(type_glob):
        raise BadParameter(f"type: {_shown(type_glob)} is not a type or glob (e.g. field.*)")
    fmt = got.get("format", "html").lower()
    if fmt not in FORMATS:
        raise BadParameter(f"format: {_shown(fmt)} is not one of csv, json")
    since = _day("since", got.get("since"), today)
    until = _day("until", got.get("until"), today)
    if since is not None and until is not None and since > until:
        raise BadParameter(f"since: {since} is after until ({until})")
    return ChangesParams(
        trial=_trial(got.get("trial")),
        watch=got.get("watch"),
        search=got.get("search"),
        level=level,
        type=type_glob,
        since=since,
        until=until,
        after=_cursor(got.get("after")),
        sets=_sets(got.get("set")),
        format=fmt,
        limit=_limit(got.get("limit")),
    )


def _trial(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_nct_id(value)
    except ValueError:
        raise BadParameter(f"trial: {_shown(value)} is not an NCT ID (NCT and 8 digits)") from None


def _day(name: str, value: str | None, today: date) -> str | None:
    """An ISO day (``2026-01-31``) or ``Nd`` (N days before today), as ``YYYY-MM-DD``."""
    if value is None:
        return None
    relative = _RELATIVE.match(value)
    if relative:
        return (today - timedelta(days=int(relative.group(1)))).isoformat()
    try:
        return datetime.strptime(value, "%Y-%m-%d").date().isoformat()
    except ValueError:
        raise BadParameter(
            f"{name}: {_shown(value)} is not a date (YYYY-MM-DD, or 7d for 7 days ago)"
        ) from None


def _cursor(value: str | None) -> tuple[str, int] | None:
    if value is None:
        return None
    cursor = parse_cursor(value)
    if cursor is None:
        raise BadParameter(f"after: {_shown(value)} is not a page cursor (use the Next link)")
    return cursor


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also accepts ``²`` and other digits ``int`` refuses."""
    return text.isascii() and text.isdecimal()


def _sets(value: str | None) -> tuple[int, ...] | None:
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) > MAX_SETS or not all(_digits(p.strip()) and len(p.strip()) < 19 for p in parts):
        raise BadParameter(
            f"set: {_shown(value)} is not a list of change-set ids (at most {MAX_SETS})"
        )
    return tuple(int(p) for p in parts)


def _limit(value: str | None) -> int | None:
    if value is None:
        return None
    if not _digits(value) or not 1 <= int(value) <= MAX_LIMIT:
        raise BadParameter(f"limit: {_shown(value)} is not a number from 1 to {MAX_LIMIT}")
    return int(value)


def version_name(name: str, value: str | None) -> str:
    """A version as ``ctwatch history`` names it (``a``/``b`` of the compare page):
    ``2`` or ``#2`` (ctwatch's own numbers), ``r7`` (the registry's), as ``#2`` / ``r7``."""
    if value is None or not value.strip():
        raise BadParameter(f"{name}: missing (a version as history names it, e.g. {name}=1)")
    text = value.strip()
    head, digits = (text[0].lower(), text[1:]) if text[:1] in "#rR" else ("#", text)
    if not _digits(digits) or not 1 <= int(digits) < 10**9:
        raise BadParameter(f"{name}: {_shown(value)} is not a version (1, #1 or r7)")
    return f"{head}{int(digits)}"
