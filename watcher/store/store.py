"""The Store facade: open the SQLite memory, then reach each table group by name.

Why SQLite through sqlite-utils: one file that users can open with any SQLite
tool (``sqlite-utils rows data/ctwatch.db changes``), numbered migrations
(:mod:`watcher.store.schema`), real transactions, and WAL mode so ``ctwatch
status`` can read while the daemon writes. All SQL lives in this package; the
table groups are :mod:`versions <watcher.store.versions>`, :mod:`outbox
<watcher.store.outbox>`, :mod:`runs <watcher.store.runs>` and
:mod:`subscriptions <watcher.store.subscriptions>`.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from watcher.store.base import Connection
from watcher.store.outbox import Outbox
from watcher.store.runs import Runs
from watcher.store.schema import MIGRATIONS
from watcher.store.subscriptions import Subscriptions
from watcher.store.versions import Versions


class StoreError(Exception):
    """The database cannot be opened or migrated; the message names the file."""


class Store:
    """The SQLite store. Open with :meth:`open`; close when done."""

    def __init__(self, db: Database) -> None:
        self.conn = Connection(db)
        self.versions = Versions(self.conn)
        self.outbox = Outbox(self.conn)
        self.runs = Runs(self.conn)
        self.subscriptions = Subscriptions(self.conn)

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open (creating folder and file as needed), enable WAL, migrate.

        Raises StoreError, naming the path, when the folder cannot be created or
        the file is not a usable SQLite database.
        """
        conn: sqlite3.Connection | None = None
        try:
            if str(path) != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            conn.row_factory = sqlite3.Row
            db = Database(conn, execute_plugins=False)
            if str(path) != ":memory:":
                db.enable_wal()
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            MIGRATIONS.apply(db)
        except (OSError, sqlite3.Error) as exc:
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(f"cannot open {path} ({reason})") from None
        return cls(db)

    def close(self) -> None:
        self.conn.close()
