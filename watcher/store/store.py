"""The Store facade: open the SQLite memory, then reach each table group by name.

Why SQLite through sqlite-utils: one file that users can open with any SQLite
tool (``sqlite-utils rows data/ctwatch.db changes``), numbered migrations
(:mod:`watcher.store.schema`), real transactions, and WAL mode so ``ctwatch
status`` can read while the daemon writes. All SQL lives in this package; the
table groups are :mod:`versions <watcher.store.versions>`, :mod:`outbox
<watcher.store.outbox>`, :mod:`runs <watcher.store.runs>`, :mod:`troubles
<watcher.store.troubles>`, :mod:`overview <watcher.store.overview>` (what
``status`` lists), :mod:`subscriptions <watcher.store.subscriptions>`,
:mod:`histories <watcher.store.history>` (imported registry history, its queue),
:mod:`mutes <watcher.store.mutes>`, :mod:`events <watcher.store.events>` (what changes
meant), :mod:`service_state
<watcher.store.service_state>`, :mod:`searches <watcher.store.searches>` (their
members and events) and the readers :mod:`stats <watcher.store.stats>` and
:mod:`recent <watcher.store.recent>`; :mod:`watches <watcher.store.watches>` (which watch
follows which trial), :mod:`changelog <watcher.store.changelog>` (every change, streamed)
and :mod:`timeline <watcher.store.timeline>` (the web UI's read model).
Next to the file lives its :class:`~watcher.store.lock.ProcessLock`.
"""

from __future__ import annotations

import functools
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from sqlite_utils import Database

from watcher.redact import redact
from watcher.store.base import Connection, StoreError
from watcher.store.bodies import BodyCodec
from watcher.store.channel_timings import ChannelTimings
from watcher.store.digests import Digests
from watcher.store.events import Events
from watcher.store.history import Histories
from watcher.store.lock import ProcessLock
from watcher.store.mutes import Mutes
from watcher.store.outbox import Outbox
from watcher.store.overview import Overview
from watcher.store.runs import Runs
from watcher.store.schema import NewerDatabase, migrate
from watcher.store.searches import Searches
from watcher.store.service_state import ServiceStates
from watcher.store.subscriptions import SearchSubscriptions, Subscriptions
from watcher.store.troubles import Troubles
from watcher.store.versions import Versions, copy_mode
from watcher.store.watches import Watches

if TYPE_CHECKING:
    from watcher.config.model import DatabaseConfig
    from watcher.store.changelog import ChangeLog
    from watcher.store.recent import Recent
    from watcher.store.stats import Stats
    from watcher.store.timeline import Timeline

BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's transaction
PAGE_SIZE = 16384
"""For new databases. A version row is ~1.3-2 KB (a zstd body with its columns), and
what is left at the end of each page is wasted: the same 10,000 benchmark trials
take 21.8 MB in 4 KB pages, 19.2 MB in 8 KB, 18.3 MB in 16 KB and 32 KB, and
18.9 MB in 64 KB (bench, 2026-11-30); of the two best, 16 KB writes half the WAL
of 32 KB for a cycle's scattered updates of ``trials`` rows. An existing
database keeps the page size it was created with."""


class Store:
    """The SQLite store. Open with :meth:`open`; close when done."""

    def __init__(
        self,
        db: Database,
        path: str,
        masked: Callable[[str], str] = redact,
        *,
        readable_records: bool | str = True,
    ) -> None:
        self.conn = Connection(db, path, masked)
        self.path = path
        self.codec = BodyCodec()
        self.versions = Versions(self.conn, self.codec, copies=copy_mode(readable_records))
        self.watches = Watches(self.conn)
        self.outbox = Outbox(self.conn)
        self.digests = Digests(self.conn)
        self.channel_timings = ChannelTimings(self.conn)
        self.runs = Runs(self.conn)
        self.overview = Overview(self.conn)
        self.troubles = Troubles(self.conn)
        self.subscriptions = Subscriptions(self.conn)
        self.histories = Histories(self.conn, self.codec)
        self.mutes = Mutes(self.conn)
        self.service_state = ServiceStates(self.conn)
        self.searches = Searches(self.conn)
        self.events = Events(self.conn)
        self.search_subscriptions = SearchSubscriptions(self.conn)
        self.lock = ProcessLock(Path(f"{path}.lock"))

    # The readers below serve the web UI, feeds and ``changes``; they are made (and their
    # modules imported) on first use, so a command that never reads them starts faster.

    @functools.cached_property
    def changelog(self) -> ChangeLog:
        from watcher.store.changelog import ChangeLog  # noqa: PLC0415 - on first use

        return ChangeLog(self.conn)

    @functools.cached_property
    def stats(self) -> Stats:
        from watcher.store.stats import Stats  # noqa: PLC0415 - on first use

        return Stats(self.conn)

    @functools.cached_property
    def recent(self) -> Recent:
        from watcher.store.recent import Recent  # noqa: PLC0415 - on first use

        return Recent(self.conn)

    @functools.cached_property
    def timeline(self) -> Timeline:
        from watcher.store.timeline import Timeline  # noqa: PLC0415 - on first use

        return Timeline(self.conn, self.codec)

    @classmethod
    def open(
        cls,
        path: str | Path,
        masked: Callable[[str], str] = redact,
        busy_timeout: float = BUSY_TIMEOUT,
        *,
        readable_records: bool | str = True,
    ) -> Store:
        """Open (creating folder and file as needed), enable WAL, migrate.

        Raises StoreError, naming the path, when the folder cannot be created,
        the file is not a usable SQLite database, it cannot be written, or a
        newer ctwatch has migrated it.
        """
        conn: sqlite3.Connection | None = None
        try:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            if str(path) != ":memory:" and not Path(path).exists():
                _create_migrated(Path(path))
            conn = sqlite3.connect(
                str(path), check_same_thread=False, timeout=busy_timeout, isolation_level=None
            )
            conn.row_factory = sqlite3.Row
            db = Database(conn, execute_plugins=False)
            if conn.execute("PRAGMA page_count").fetchone()[0] == 0:
                conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only a new file takes it
            _enable_wal(db, busy_timeout)
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("PRAGMA foreign_keys=ON")
            migrate(db)
        except (OSError, sqlite3.Error, NewerDatabase) as exc:
            if conn is not None:
                conn.close()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise StoreError(f"cannot open {path} ({reason})") from None
        return cls(db, str(path), masked, readable_records=readable_records)

    @classmethod
    def open_from(cls, database: DatabaseConfig, masked: Callable[[str], str] = redact) -> Store:
        """The store a ``[database]`` section names (path, busy timeout, readable records).

        Why from the section: every process and server opens the file the same
        way, and a setting added to ``[database]`` is read here once, not by
        each caller unpacking the section by hand.
        """
        return cls.open(
            database.path,
            masked,
            database.busy_timeout.total_seconds(),
            readable_records=database.readable_records,
        )

    def close(self) -> None:
        self.conn.close()


@functools.cache
def _migrated_image() -> bytes:
    """A new database with every migration applied, as bytes (made once per process).

    Why: a new file used to run all migrations, some 300 statements (15 ms); a
    process that creates many (a test worker, a demo) copies this image instead.
    It is what the migrations make, byte for byte: the same code made it."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    try:
        memory.row_factory = sqlite3.Row
        memory.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        memory.execute("PRAGMA foreign_keys=ON")
        migrate(Database(memory, execute_plugins=False))
        return memory.serialize()
    finally:
        memory.close()


def _create_migrated(path: Path) -> None:
    """Create ``path`` from :func:`_migrated_image`, atomically: the image is written to a
    temporary file and linked into place only if no file is there yet, so a second
    process creating the same database at once finds one whole file (and migrates
    nothing). Where linking is not possible the ordinary way (migrations) runs."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
    try:
        temporary.write_bytes(_migrated_image())
        os.link(temporary, path)
    except OSError:
        pass  # another process was first, or no hard links here: open and migrate as usual
    finally:
        temporary.unlink(missing_ok=True)


def _enable_wal(db: Database, busy_timeout: float) -> None:
    """Switch to WAL, trying again while another process does the same.

    Why: when two processes open a new database at once, both read it and then
    both ask for the exclusive lock the switch needs; SQLite answers one of them
    "database is locked" at once, without its busy timeout (waiting could never
    end). The other one finishes the switch in milliseconds, so the loser tries
    again, up to the busy timeout.
    """
    deadline = time.monotonic() + busy_timeout
    pause = 0.005
    while True:
        try:
            db.enable_wal()
            return
        except sqlite3.OperationalError as exc:
            left = deadline - time.monotonic()
            if "locked" not in str(exc) or left <= 0:
                raise
        time.sleep(min(pause, left))
        pause = min(pause * 2, 0.25)
