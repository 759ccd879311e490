"""The web UI's schema steps: the change log's indexes (0019, 0020).

Registered from :mod:`watcher.store.schema` last, so steps apply in the order of their
numbers on a database of any earlier ctwatch.
"""

from __future__ import annotations

from sqlite_utils import Database

from watcher.store.schema import migration


@migration("0019_versions_by_date")
def _m0019_versions_by_date(db: Database) -> None:
    """The web UI's change log reads versions newest date first, a page at a time (keyset
    on date and id): without this index every page scans all versions (bench/ui.py at
    200,000 versions: 153 ms a first page, 277 ms deep; with it 5 and 59). The expression
    is :func:`watcher.store.timeline.date_sql`'s, letter for letter, so SQLite uses it."""
    db.execute(
        """CREATE INDEX versions_by_date ON versions(
               COALESCE(submitted, last_update_posted, substr(fetched_at, 1, 10)), id)
           WHERE change_count > 0"""
    )


@migration("0020_ui_filters")
def _m0020_ui_filters(db: Database) -> None:
    """The change log's ``type=`` filter reads candidate versions from these indexes (a
    set of version ids per kind or event type) instead of probing every version in date
    order: a rare glob on 200,000 versions took a second (bench/ui.py)."""
    db.execute("CREATE INDEX changes_by_kind ON changes(kind, version_id)")
    db.execute("CREATE INDEX events_by_type ON events(type, version_id)")
