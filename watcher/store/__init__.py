"""All SQL: the SQLite memory of every version seen, the outbox, runs, subscriptions."""

from watcher.store.rows import (
    ChangeRow,
    OutboxClaim,
    OutboxProblem,
    OutboxRow,
    RunCounts,
    RunInfo,
    RunRecord,
    Subscription,
    TrialRow,
    VersionRow,
)
from watcher.store.store import Store, StoreError

__all__ = [
    "ChangeRow",
    "OutboxClaim",
    "OutboxProblem",
    "OutboxRow",
    "RunCounts",
    "RunInfo",
    "RunRecord",
    "Store",
    "StoreError",
    "Subscription",
    "TrialRow",
    "VersionRow",
]
