"""One open Store per database path, for servers that outlive a config reload.

Why: the web server, the Slack listeners and the Socket Mode watcher run next
to the daemon, whose App (and its connection) is closed and rebuilt on every
config reload. They keep connections of their own (WAL lets them read and
write next to the daemon), opened on first use and closed once, at stop, so
a reload never pulls a connection from under a request in flight.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from watcher.redact import Redactor
from watcher.store.store import Store

if TYPE_CHECKING:
    from watcher.config.model import DatabaseConfig


class StorePool:
    """``get(database, secrets)`` opens once per path; ``close()`` closes them all."""

    def __init__(self) -> None:
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()

    def get(self, database: DatabaseConfig, secrets: Sequence[str]) -> Store:
        """The Store for ``database.path``, masking ``secrets`` (StoreError when it cannot be
        opened). The first call for a path decides its settings until :meth:`close`."""
        with self._lock:
            store = self._stores.get(database.path)
            if store is None:
                opened = Store.open_from(database, Redactor(secrets))
                store = self._stores[database.path] = opened
            return store

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()
