"""Cheap identity, same exactness (issue 16): the hash is of the canonical bytes, and a
hash that differs only sends the record to the diff, which decides.

Proved end to end against the registry double: reordered lists and a database
written by an older ctwatch (order-free hashes, zlib bodies) raise no alert and
write no version; the new hash is stored, so the next poll takes the fast path.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import zlib
from pathlib import Path
from typing import Any

from tests.conftest import run_cli, write_config
from tests.support.paths import CTGOV, FIXTURES
from watcher.core.jsoncodec import canonical_bytes
from watcher.core.snapshot import order_free_json, take_snapshot
from watcher.store import Store
from watcher.store.schema import KNOWN
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed

FIXTURE = FIXTURES / "ctwatch-ce18872.db"
QUIET = "changed 0 · new 0 · not found 0 · errors 0 · alerts sent 0\n"


def reversed_lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: reversed_lists(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reversed_lists(v) for v in reversed(value)]
    return value


def query(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql).fetchall())


def body_hash_of(record: dict[str, Any]) -> str:
    return hashlib.sha256(take_snapshot("X", record).body).hexdigest()


def test_the_hash_is_of_the_canonical_body() -> None:
    record = {"b": [3, 1], "a": "é", "derivedSection": {"x": 1}}
    snap = take_snapshot("NCT00000001", record)
    assert snap.body == b'{"a":"\xc3\xa9","b":[3,1]}'
    assert snap.content_hash == hashlib.sha256(snap.body).hexdigest()
    assert take_snapshot("NCT00000001", reversed_lists(record)).content_hash != snap.content_hash


def real_records() -> list[dict[str, Any]]:
    by_id: dict[str, dict[str, Any]] = {}
    for path in sorted((CTGOV / "records").glob("NCT*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        nct = record["protocolSection"]["identificationModule"]["nctId"]
        by_id.setdefault(nct, record)
    return list(by_id.values())


def test_reordered_real_records_are_silent_and_settle_their_hash(tmp_path: Path) -> None:
    records = real_records()
    trials = [r["protocolSection"]["identificationModule"]["nctId"] for r in records]
    db = tmp_path / "ctwatch.db"
    with RegistryDouble(records) as registry:
        config = write_config(tmp_path, registry.url, trials)
        assert run_cli(config, "check").exit_code == 0
        before = dict(query(db, "SELECT nct_id, latest_hash FROM trials"))
        for record in records:
            registry.put(reversed_lists(record))
        result = run_cli(config, "check")
        assert result.stdout == f"checked {len(trials)} · {QUIET}", result.stderr
        assert query(db, "SELECT COUNT(*) FROM versions") == [(len(trials),)]
        after = dict(query(db, "SELECT nct_id, latest_hash FROM trials"))
        # the reordered copy's hash is stored: the next poll is decided by the hash alone
        assert after == {
            r["protocolSection"]["identificationModule"]["nctId"]: body_hash_of(reversed_lists(r))
            for r in records
        }
        assert sum(after[n] != before[n] for n in trials) >= len(trials) - 2  # lists moved
        assert run_cli(config, "check").stdout == f"checked {len(trials)} · {QUIET}"


# ---- a database written by the ctwatch of commit ce18872 (scripts/make_old_db.py) ------


def old_bodies(db: Path) -> dict[str, dict[str, Any]]:
    """The newest stored record of each trial, read the way the old ctwatch wrote it."""
    rows = query(db, "SELECT nct_id, body FROM versions ORDER BY id")
    return {nct: json.loads(zlib.decompress(body)) for nct, body in rows}


def test_the_fixture_was_written_by_the_old_ctwatch() -> None:
    assert query(FIXTURE, "PRAGMA page_size") == [(4096,)]
    assert [r[0] for r in query(FIXTURE, "SELECT name FROM _sqlite_migrations")] == KNOWN[:5]
    assert all(body[:1] == b"\x78" for (body,) in query(FIXTURE, "SELECT body FROM versions"))
    old = dict(query(FIXTURE, "SELECT nct_id, latest_hash FROM trials"))
    records = old_bodies(FIXTURE)
    for nct, record in records.items():  # order-free hashes ...
        assert old[nct] == hashlib.sha256(order_free_json(record).encode()).hexdigest()
    # ... which differ from the new hash wherever a list is not in sorted order
    assert [n for n, r in records.items() if old[n] != body_hash_of(r)] == [
        "NCT00000101",
        "NCT00000103",
    ]


def test_an_old_database_opens_reads_its_versions_and_stays_quiet(tmp_path: Path) -> None:
    db = tmp_path / "ctwatch.db"
    shutil.copy(FIXTURE, db)
    records = old_bodies(db)
    store = Store.open(db)
    try:
        assert store.versions.latest_record("NCT00000101") == records["NCT00000101"]
        assert [len(v.changes) for v in store.versions.history("NCT00000101")] == [2, 0]
    finally:
        store.close()
    assert query(db, "PRAGMA page_size") == [(4096,)]  # an existing file keeps its pages
    assert [r[0] for r in query(db, "SELECT name FROM _sqlite_migrations")] == KNOWN

    served = {
        "NCT00000101": records["NCT00000101"],  # the very record: same bytes
        "NCT00000102": reversed_lists(records["NCT00000102"]),  # lists in another order
        "NCT00000103": {**records["NCT00000103"], "derivedSection": {"x": 1}},  # rebuild noise
    }
    with RegistryDouble(served.values()) as registry:
        config = write_config(tmp_path, registry.url, list(served))
        first = run_cli(config, "check", "--full")
        assert first.stdout == f"checked 3 · {QUIET}", first.stderr
        assert query(db, "SELECT COUNT(*) FROM versions") == [(4,)]
        assert query(db, "SELECT COUNT(*) FROM outbox") == [(1,)]  # the old alert only
        hashes = dict(query(db, "SELECT nct_id, latest_hash FROM trials"))
        assert hashes == {n: body_hash_of(r) for n, r in served.items()}
        assert run_cli(config, "check", "--full").stdout == f"checked 3 · {QUIET}"

        registry.put(changed(served["NCT00000101"], status="COMPLETED", last_update="2025-11-02"))
        third = run_cli(config, "check", "--full")
        assert "Overall Status: Active, not recruiting → Completed" in third.stdout
        assert third.stdout.endswith("changed 1 · new 0 · not found 0 · errors 0 · alerts sent 1\n")
    (newest,) = query(db, "SELECT body FROM versions WHERE id = 5")
    assert newest[0][:4] == b"\x28\xb5\x2f\xfd"  # new bodies are zstd frames
    history = run_cli(config, "history", "NCT00000101")
    assert history.exit_code == 0
    assert history.stdout.count("Overall Status") == 2


def test_canonical_bytes_are_what_the_old_ctwatch_stored() -> None:
    """orjson's canonical form is byte for byte the json module's, so old bodies compare
    equal as bytes (and a first sweep after the upgrade parses nothing)."""
    for (body,) in query(FIXTURE, "SELECT body FROM versions"):
        raw = zlib.decompress(body)
        assert canonical_bytes(json.loads(raw)) == raw
