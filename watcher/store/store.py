"""The Store facade: open the SQLite memory, then reach each table group by name.

Why SQLite through sqlite-utils: one file that users can open with any SQLite
tool (``sqlite-utils rows data/ctwatch.db changes``), numbered migrations
(:mod:`watcher.store.schema`), real transactions, and WAL mode so ``ctwatch
status`` can read while the daemon writes. All SQL lives in this package; the
table groups are :mod:`versions <watcher.store.versions>`, :mod:`outbox
<watcher.store.outbox>`, :mod:`runs <watcher.store.runs>`, :mod:`troubles
<watcher.store.troubles>`, :mod:`subscriptions <watcher.store.subscriptions>`,
:mod:`mutes <watcher.store.mutes>`, :mod:`service_state
<watcher.store.service_state>`, and the readers :mod:`stats <watcher.store.stats>`
and :mod:`recent <watcher.store.recent>`.
Next to the file lives its :class:`~watcher.store.lock.ProcessLock`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

from sqlite_utils import Database

from watcher.redact import redact
from watcher.store.base import Connection, StoreError
from watcher.store.lock import ProcessLock
from watcher.store.mutes import Mutes
from watcher.store.outbox import Outbox
from watcher.store.recent import Recent
from watcher.store.runs import Runs
from watcher.store.schema import NewerDatabase, migrate
from watcher.store.service_state import ServiceStates
from watcher.store.stats import Stats
from watcher.store.subscriptions import Subscriptions
from watcher.store.troubles import Troubles
from watcher.store.versions import Versions

BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's transaction


class Store:
    """The SQLite store. Open with :meth:`open`; close when done."""

    def __init__(self, db: Database, path: str, masked: Callable[[str], str] = redact) -> None:
        self.conn = Connection(db, path, masked)
        self.path = path
        self.versions = Versions(self.conn)
        self.outbox = Outbox(self.conn)
        self.runs = Runs(self.conn)
        self.troubles = Troubles(self.conn)
        self.subscriptions = Subscriptions(self.conn)
        self.mutes = Mutes(self.conn)
        self.service_state = ServiceStates(self.conn)
        self.stats = Stats(self.conn)
        self.recent = Recent(self.conn)
        self.lock = ProcessLock(Path(f"{path}.lock"))

    @classmethod
    def open(
        cls,
        path: str | Path,
        masked: Callable[[str], str] = redact,
        busy_timeout: float = BUSY_TIMEOUT,
    ) -> Store:
        """Open (creating folder and file as needed), enable WAL, migrate.

        Raises StoreError, naming the path, when the folder cannot be created,
        the file is not a usable SQLite database, it cannot be written, or a
        newer ctwatch has migrated it.
        """
        conn: sqlite3.Connection | None = None
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(path), check_same_thread=False, timeout=busy_timeout, isolation_level=None
            )
            conn.row_factory = sqlite3.Row
            db = Database(conn, execute_plugins=False)
            db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            migrate(db)
        except (OSError, sqlite3.Error, NewerDatabase) as exc:
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(f"cannot open {path} ({reason})") from None
        return cls(db, str(path), masked)

    def close(self) -> None:
        self.conn.close()
