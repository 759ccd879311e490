"""All SQL: the SQLite memory of every version seen, the outbox, runs, subscriptions,
searches."""

from watcher.store.base import QueryTooSlow, StoreError
from watcher.store.lock import Busy
from watcher.store.rows import (
    ChangedVersion,
    ChangeRow,
    Mute,
    OutboxClaim,
    OutboxProblem,
    OutboxRow,
    RunCounts,
    RunInfo,
    RunRecord,
    SearchEventRow,
    SearchState,
    SearchSubscription,
    ServiceState,
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
    "ChangedVersion",
    "Mute",
    "OutboxClaim",
    "OutboxProblem",
    "OutboxRow",
    "QueryTooSlow",
    "RunCounts",
    "RunInfo",
    "RunRecord",
    "SearchEventRow",
    "SearchState",
    "SearchSubscription",
    "ServiceState",
    "Store",
    "StoreError",
    "StoredVersion",
    "Subscription",
    "TrialRow",
    "Trouble",
    "VersionRow",
]
