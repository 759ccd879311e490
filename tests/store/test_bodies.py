"""Version bodies: zstd with a dictionary trained on the database's own records,
versioned dictionaries, old zlib bodies still read, page size of new files."""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from watcher.core.jsoncodec import canonical_bytes
from watcher.core.snapshot import take_snapshot
from watcher.store import Store, StoreError
from watcher.store import bodies as bodies_module
from watcher.testing.samples import make_study

NOW = "2026-12-01T09:00:00Z"


def nct(i: int) -> str:
    return f"NCT{10_000_000 + i:08d}"


def study(i: int) -> dict[str, Any]:
    return make_study(nct(i), f"Trial {i} of {i % 7} arms", sites=1 + i % 9)


def write(store: Store, start: int, count: int) -> None:
    """``count`` baselines in one batch, as the pipeline writes them."""
    with store.versions.batch() as batch:
        for i in range(start, start + count):
            with batch.trial():
                batch.record_version(take_snapshot(nct(i), study(i)), [], [], NOW)


def blobs(db: Path) -> list[tuple[int, bytes]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute("SELECT id, body FROM versions ORDER BY id"))


def dict_id(blob: bytes) -> int:
    assert blob[:4] == b"\x28\xb5\x2f\xfd", "a zstd frame"
    return int(zstandard.get_frame_parameters(blob).dict_id)


def read_all(store: Store, count: int) -> None:
    for i in range(count):
        assert store.versions.latest_record(nct(i)) == take_snapshot(nct(i), study(i)).record


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "ctwatch.db"


@pytest.fixture
def store(db: Path) -> Iterator[Store]:
    opened = Store.open(db)
    yield opened
    opened.close()


@pytest.fixture
def small_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Train at 60 versions (from the newest 60), again at 2x: quick to reach in a test."""
    monkeypatch.setattr(bodies_module, "TRAIN_AT", 60)
    monkeypatch.setattr(bodies_module, "SAMPLES", 60)
    monkeypatch.setattr(bodies_module, "GROWTH", 2)


@pytest.mark.usefixtures("small_training")
def test_a_dictionary_is_trained_stored_and_used(store: Store, db: Path) -> None:
    write(store, 0, 20)
    assert {dict_id(b) for _, b in blobs(db)} == {0}  # zstd, no dictionary yet
    write(store, 20, 50)  # trained as the 60th version is whole, mid-batch
    assert [dict_id(b) for _, b in blobs(db)] == [0] * 60 + [1] * 10
    write(store, 70, 5)
    assert [dict_id(b) for _, b in blobs(db)][70:] == [1] * 5
    read_all(store, 75)
    with sqlite3.connect(db) as conn:
        (trained_on, data), *more = conn.execute("SELECT trained_on, data FROM body_dictionaries")
    assert not more and trained_on == 60
    assert zstandard.ZstdCompressionDict(data).dict_id() == 1
    # a dictionary makes real-shaped bodies much smaller than compressing each alone
    body = canonical_bytes(take_snapshot("X", study(3)).record)
    alone = len(zstandard.ZstdCompressor(level=3).compress(body))
    assert len(blobs(db)[72][1]) < alone * 0.7


@pytest.mark.usefixtures("small_training")
def test_older_dictionaries_stay_readable_in_a_fresh_process(store: Store, db: Path) -> None:
    write(store, 0, 70)  # dictionary 1, trained at 60 versions
    write(store, 70, 80)  # dictionary 2 at 2 x 60
    assert [dict_id(b) for _, b in blobs(db)] == [0] * 60 + [1] * 60 + [2] * 30
    fresh = Store.open(db)  # knows no dictionary until a body names it
    try:
        read_all(fresh, 150)
    finally:
        fresh.close()


@pytest.mark.usefixtures("small_training")
def test_a_second_process_picks_up_the_dictionary_another_trained(tmp_path: Path) -> None:
    db = tmp_path / "ctwatch.db"
    first, second = Store.open(db), Store.open(db)
    try:
        write(first, 0, 70)
        write(second, 70, 3)  # opened before the dictionary existed
        assert [dict_id(b) for _, b in blobs(db)][70:] == [1] * 3
        read_all(second, 73)
    finally:
        first.close()
        second.close()


def test_a_zlib_body_from_an_older_ctwatch_still_reads(store: Store, db: Path) -> None:
    write(store, 0, 1)
    record = take_snapshot("X", study(0)).record
    old = zlib.compress(canonical_bytes(record), 6)
    store.conn.db.execute("UPDATE versions SET body = ?", [old])
    assert store.versions.latest_record("NCT10000000") == record


def test_a_body_naming_a_missing_dictionary_is_a_store_error(store: Store, db: Path) -> None:
    write(store, 0, 1)
    trained = zstandard.train_dictionary(
        4096, [canonical_bytes(study(i)) for i in range(60)], dict_id=9
    )
    blob = zstandard.ZstdCompressor(dict_data=trained).compress(b'{"a":1}')
    store.conn.db.execute("UPDATE versions SET body = ?", [blob])
    with pytest.raises(StoreError, match="body dictionary 9 is missing"):
        store.versions.latest_record("NCT10000000")


def test_new_databases_get_16k_pages_existing_ones_keep_theirs(tmp_path: Path) -> None:
    new = tmp_path / "new.db"
    Store.open(new).close()
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:
        conn.execute("CREATE TABLE t (x)")  # made by someone else, with 4 KB pages
    Store.open(old).close()
    with sqlite3.connect(new) as a, sqlite3.connect(old) as b:
        assert a.execute("PRAGMA page_size").fetchone() == (16384,)
        assert b.execute("PRAGMA page_size").fetchone() == (4096,)


def test_a_training_that_fails_leaves_the_batch_written(
    store: Store, db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bodies_module, "TRAIN_AT", 3)  # three records are too few to train on
    write(store, 0, 3)
    read_all(store, 3)
    assert [dict_id(b) for _, b in blobs(db)] == [0, 0, 0]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM body_dictionaries").fetchone() == (0,)


@pytest.mark.usefixtures("small_training")
def test_only_a_stored_dictionary_is_ever_named(store: Store, db: Path) -> None:
    write(store, 0, 70)  # dictionary 1, in this process's memory and in the file
    # as if the transaction that trained it had never committed
    store.conn.db.execute("DELETE FROM versions")
    store.conn.db.execute("DELETE FROM body_dictionaries")
    write(store, 100, 3)
    assert [dict_id(b) for _, b in blobs(db)] == [0, 0, 0]


@pytest.mark.usefixtures("small_training")
def test_a_damaged_body_is_left_out_of_training(store: Store, db: Path) -> None:
    write(store, 0, 40)
    store.conn.db.execute("UPDATE versions SET body = ? WHERE id = 3", [b"\x78garbage"])
    write(store, 40, 30)  # trains at 60 on the 59 readable bodies
    assert [dict_id(b) for i, b in blobs(db) if i > 60] == [1] * 10
    with pytest.raises(StoreError, match="cannot be read"):
        store.versions.latest_record("NCT10000002")


@pytest.mark.usefixtures("small_training")
def test_a_trial_undone_at_the_threshold_trains_nothing(store: Store, db: Path) -> None:
    write(store, 0, 59)
    with store.versions.batch() as batch:
        with pytest.raises(RuntimeError), batch.trial():
            batch.record_version(take_snapshot(nct(59), study(59)), [], [], NOW)  # the 60th
            raise RuntimeError("a fault after the write: the trial is undone")
        with batch.trial():
            batch.record_version(take_snapshot(nct(60), study(60)), [], [], NOW)  # now the 60th
        with batch.trial():
            batch.record_version(take_snapshot(nct(61), study(61)), [], [], NOW)
    assert [dict_id(b) for _, b in blobs(db)] == [0] * 60 + [1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT id, trained_on FROM body_dictionaries").fetchall() == [(1, 60)]


@pytest.mark.usefixtures("small_training")
def test_a_dictionary_undone_here_and_trained_elsewhere_under_its_id_is_not_mixed_up(
    tmp_path: Path,
) -> None:
    """SQLite gives a rolled-back row's ID to the next one: dictionary 1 may be trained
    by this process, undone, then trained differently by another process."""
    db = tmp_path / "ctwatch.db"
    here, there = Store.open(db), Store.open(db)
    try:
        write(here, 0, 30)
        with pytest.raises(RuntimeError), here.versions.batch() as batch:
            for i in range(30, 70):  # trains dictionary 1 at 60 ...
                with batch.trial():
                    batch.record_version(take_snapshot(nct(i), study(i)), [], [], NOW)
            assert batch.latest_body(nct(65)) is not None  # ... and reads with it
            raise RuntimeError("the batch is undone, dictionary 1 with it")
        write(there, 1000, 40)  # another process trains its own dictionary 1
        write(here, 2000, 5)  # this process must now write with that one
        assert [dict_id(b) for _, b in blobs(db)][30:] == [0] * 30 + [1] * 15
        fresh = Store.open(db)
        try:
            for reader in (here, fresh):
                for i in [*range(30), *range(1000, 1040), *range(2000, 2005)]:
                    assert (
                        reader.versions.latest_record(nct(i))
                        == take_snapshot(nct(i), study(i)).record
                    )
        finally:
            fresh.close()
    finally:
        here.close()
        there.close()
