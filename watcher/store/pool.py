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


SERVICE = "service"
"""The connection of Slack's handlers, feeds, ``/metrics`` and ``/healthz``."""
UI = "ui"
"""The web UI's own connection: a slow page holds only its lock, never the service's."""


class StorePool:
    """``get(database, secrets)`` opens once per path and purpose; ``close()`` closes them.

    Why a purpose: a connection is used under one lock, so a change-log query that
    takes seconds would make a Slack handler (3 s to answer) wait behind it. The UI
    reads through a connection of its own, with a time limit per read.
    """

    def __init__(self) -> None:
        self._stores: dict[tuple[str, str], Store] = {}
        self._lock = threading.Lock()

    def get(
        self,
        database: DatabaseConfig,
        secrets: Sequence[str],
        *,
        purpose: str = SERVICE,
        read_seconds: float | None = None,
    ) -> Store:
        """The Store for ``database.path`` and ``purpose``, masking ``secrets`` (StoreError
        when it cannot be opened); its reads stop after ``read_seconds`` (QueryTooSlow).
        The first call for a path and purpose decides its settings until :meth:`close`."""
        with self._lock:
            store = self._stores.get((database.path, purpose))
            if store is None:
                opened = Store.open_from(database, Redactor(secrets))
                opened.conn.read_seconds = read_seconds
                store = self._stores[database.path, purpose] = opened
            return store

    def close(self) -> None:
        with self._lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()
