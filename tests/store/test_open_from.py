"""The store is opened from its ``[database]`` section, by the root and by the servers' pool.

Why a test of its own: before, four callers unpacked path, secrets and busy
timeout by hand and the servers' pool forgot ``readable_records``; now the
section is read in one place (:meth:`Store.open_from`), and these tests pin
that every setting of the section reaches the connection.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from watcher.config import DatabaseConfig
from watcher.redact import Redactor
from watcher.store import Store
from watcher.store.pool import StorePool
from watcher.testing.samples import SEED_NCT


def _busy_ms(store: Store) -> int:
    row = store.conn.one("PRAGMA busy_timeout")
    assert row is not None
    return int(row[0])


def test_open_from_takes_every_setting_of_the_section(tmp_path: Path) -> None:
    section = DatabaseConfig(
        path=str(tmp_path / "sub" / "ctwatch.db"),
        busy_timeout=timedelta(seconds=7),
        readable_records=False,
    )
    store = Store.open_from(section, Redactor(["s3cret-value-1"]))
    try:
        assert Path(store.path) == tmp_path / "sub" / "ctwatch.db"
        assert _busy_ms(store) == 7000
        assert store.versions._copies == "none"
        assert store.conn.masked("token s3cret-value-1") == "token ***"
    finally:
        store.close()


def test_the_pool_opens_each_path_once_from_its_section(tmp_path: Path) -> None:
    section = DatabaseConfig(path=str(tmp_path / "ctwatch.db"), busy_timeout=timedelta(seconds=3))
    pool = StorePool()
    try:
        first = pool.get(section, ["s3cret-value-2"])
        assert pool.get(section, []) is first  # one connection per path until close
        assert _busy_ms(first) == 3000
        assert first.versions._copies == "columns"
        assert first.conn.masked(f"{SEED_NCT} s3cret-value-2") == f"{SEED_NCT} ***"
        other = pool.get(DatabaseConfig(path=str(tmp_path / "other.db")), [])
        assert other is not first
    finally:
        pool.close()


def test_a_new_database_is_what_the_migrations_make(tmp_path: Path) -> None:
    """A new file is written from a migrated image (fast); it must equal a file the
    migrations built in place (an empty file that exists is migrated the old way)."""
    copied = tmp_path / "copied.db"
    migrated = tmp_path / "migrated.db"
    migrated.touch()
    for path in (copied, migrated):
        Store.open(path).close()

    def shape(path: Path) -> tuple[object, ...]:
        with sqlite3.connect(path) as conn:
            return (
                conn.execute(
                    "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY name"
                ).fetchall(),
                conn.execute("SELECT name FROM _sqlite_migrations ORDER BY name").fetchall(),
                conn.execute("PRAGMA page_size").fetchone(),
                conn.execute("PRAGMA journal_mode").fetchone(),
            )

    assert shape(copied) == shape(migrated)
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".new")] == []
