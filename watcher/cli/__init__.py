"""The ``ctwatch`` command line: the group in ``main``, one module per family.

Importing this package registers every command on :data:`main`.
"""

from watcher.cli import (
    backfill,
    changes,
    check,
    demo,
    digest,
    edit,
    events,
    feed,
    history,
    outbox,
    search,
    service,
    views,
)
from watcher.cli.main import main

__all__ = [
    "backfill",
    "changes",
    "check",
    "demo",
    "digest",
    "edit",
    "events",
    "feed",
    "history",
    "main",
    "outbox",
    "search",
    "service",
    "views",
]
