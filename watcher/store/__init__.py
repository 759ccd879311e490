"""All SQL: the SQLite memory of every version seen, the outbox, runs, subscriptions."""

from watcher.store.base import StoreError
from watcher.store.lock import Busy
from watcher.store.rows import (
    ChangeRow,
    OutboxClaim,
    OutboxProblem,
    OutboxRow,
    RunCounts,
    RunInfo,
    RunRecord,
    StoredVersion,
    Subscription,
    TrialRow,
    Trouble,
    VersionRow,
)
from watcher.store.store import Store

__all__ = [
    "Busy",
    "ChangeRow",
    "OutboxClaim",
    "OutboxProblem",
    "OutboxRow",
    "RunCounts",
    "RunInfo",
    "RunRecord",
    "Store",
    "StoreError",
    "StoredVersion",
    "Subscription",
    "TrialRow",
    "Trouble",
    "VersionRow",
]
