"""One open Store per database path, for servers that outlive a config reload.

Why: the web server, the Slack listeners and the Socket Mode watcher run next
to the daemon, whose App (and its connection) is closed and rebuilt on every
config reload. They keep connections of their own (WAL lets them read and
write next to the daemon), opened on first use and closed once, at stop, so
a reload never pulls a connection from under a request in flight.
"""

from __future__ import annotations

import threading

from watcher.redact import Redactor
from watcher.store.store import Store


class StorePool:
    """``get(path, ...)`` opens once per path; ``close()`` closes them all."""

    def __init__(self) -> None:
        self._stores: dict[str, Store] = {}
        self._lock = threading.Lock()

    def get(self, path: str, secrets: list[str], busy_timeout: float) -> Store:
        """The Store for ``path`` (StoreError when it cannot be opened)."""
        with self._lock:
            store = self._stores.get(path)
            if store is None:
                store = self._stores[path] = Store.open(path, Redactor(secrets), busy_timeout)
            return store

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()
