"""How the change log is paged and filtered by type: the keyset cursor, the type sets.

Why apart from :mod:`watcher.store.timeline`: these decide the SQL of one filter and the
text of one URL parameter, and are tested on their own (a cursor round-trips any date
text a record carries; a type filter gives what a plain reading of every set gives).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass


def cursor_of(day: str, version_id: int) -> str:
    """``date~id`` as URL-safe base64 (no padding): opaque, because the date is the
    record's own text (``2024-06-29T09:00:00Z`` as well as ``2024-06``)."""
    return base64.urlsafe_b64encode(f"{day}~{version_id}".encode()).decode().rstrip("=")


def parse_cursor(text: str) -> tuple[str, int] | None:
    """:func:`cursor_of` read back, or None when ``text`` is not one."""
    if not 1 <= len(text) <= 200 or not text.isascii():
        return None
    try:
        plain = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    day, sep, number = plain.rpartition("~")
    if not sep or not day or not (number.isascii() and number.isdecimal()) or len(number) > 18:
        return None
    return day, int(number)


_WILDCARDS = re.compile(r"[*?\[]")
FIELD_PREFIX = "field."


DENSE = 2000
"""Matching rows from which a type filter probes versions in date order instead of
reading its candidate set (a common type fills a page after a few versions; reading
its whole set would cost more than the page)."""


@dataclass(frozen=True)
class TypeFilter:
    """One table's part of a ``type=`` filter: its candidate set and its per-version probe."""

    table: str
    column: str
    glob: str

    @property
    def candidates(self) -> str:
        return f"SELECT version_id FROM {self.table} WHERE {self.column} GLOB ?"  # noqa: S608

    @property
    def probe(self) -> str:
        # table and column are type_filters' constants; the glob is bound
        where = f"x.version_id = v.id AND {self.column} GLOB ?"
        return f"EXISTS (SELECT 1 FROM {self.table} x WHERE {where})"  # noqa: S608


def type_filters(type_glob: str, events: bool) -> list[TypeFilter]:
    """The parts of "a version with a change or event of this type".

    Why sets, not a probe per version: the log is read in date order, and a rare glob
    made SQLite probe every version (a second at 200,000). Each part reads an index
    (``changes_by_kind``, ``events_by_type``: migration 0020): a change's type is
    ``field.<kind>``, so a glob that starts ``field.`` matches the kind itself; one that
    cannot start with ``field.`` skips the changes; any other reads every kind.
    """
    literal = _WILDCARDS.split(type_glob, maxsplit=1)[0]
    parts: list[TypeFilter] = []
    if literal.startswith(FIELD_PREFIX):
        parts.append(TypeFilter("changes", "kind", type_glob.removeprefix(FIELD_PREFIX)))
    elif FIELD_PREFIX.startswith(literal):  # "f*", "*.changed", "*": may match a field type
        parts.append(TypeFilter("changes", f"('{FIELD_PREFIX}' || kind)", type_glob))
    if events:
        parts.append(TypeFilter("events", "type", type_glob))
    return parts
