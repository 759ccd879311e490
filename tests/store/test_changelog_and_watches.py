"""``ChangeLog`` (what ``ctwatch changes`` streams) and ``trial_watches``, on real SQLite files."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from watcher.core.diff import diff_records
from watcher.core.snapshot import take_snapshot
from watcher.cycle.stored import stored_changes
from watcher.store import Store, Subscription
from watcher.store.runs import DIGEST_SLICE, scope_digest
from watcher.store.watches import watches_digest
from watcher.testing.samples import changed, make_study

NCT = "NCT06850103"


def trial(n: int) -> str:
    return f"NCT{10000000 + n:08d}"


def grow(store: Store, nct: str, statuses: list[str], days: list[str]) -> None:
    """A baseline then one version per further status, seen on each day."""
    previous = make_study(nct, f"Trial {nct}", status=statuses[0])
    store.versions.record_version(take_snapshot(nct, previous), [], [], days[0])
    for status, day in zip(statuses[1:], days[1:], strict=True):
        record = changed(previous, status=status)
        changes = stored_changes(diff_records(previous, record))
        store.versions.record_version(take_snapshot(nct, record), changes, [], day)
        previous = record


def test_every_change_in_recorded_order_across_pages(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    days = ["2026-11-01T00:00:00Z", "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"]
    for n in range(7):
        grow(store, trial(n), ["RECRUITING", "SUSPENDED", "COMPLETED"], days)
    whole = list(store.changelog.stream())
    paged = list(store.changelog.stream(page=3))  # keyset pages of three rows
    assert whole == paged and len(whole) == 14  # two status changes per trial
    assert [(c.change_id, c.version_id) for c in whole] == sorted(
        (c.change_id, c.version_id) for c in whole
    )
    first = whole[0]
    assert (first.nct_id, first.ref, first.source, first.label) == (
        trial(0), "#2", "observed", "Overall Status"
    )  # fmt: skip
    assert (first.old, first.new, first.seen_at) == ("Recruiting", "Suspended", days[1])
    recent = list(store.changelog.stream(since="2026-11-15"))
    assert {c.ref for c in recent} == {"#3"} and len(recent) == 7
    assert list(store.changelog.stream(since="2027-01-01")) == []
    store.close()


def test_a_few_trials_or_many(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    days = ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"]
    for n in range(6):
        grow(store, trial(n), ["RECRUITING", "COMPLETED"], days)
    few = list(store.changelog.stream(nct_ids=[trial(4), trial(1)]))
    assert [c.nct_id for c in few] == [trial(1), trial(4)]
    many = [trial(n) for n in range(2, 900)]  # past the IN-list limit: filtered as they stream
    assert [c.nct_id for c in store.changelog.stream(nct_ids=many, page=2)] == [
        trial(n) for n in range(2, 6)
    ]
    assert list(store.changelog.stream(nct_ids=[])) == []
    store.close()


def test_trial_watches_names_watches_searches_and_channels(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    assert store.watches.sync({"rectal": [NCT, trial(1)], "other": [trial(1)]}) is True
    assert store.watches.sync({"rectal": [NCT, trial(1)], "other": [trial(1)]}) is False
    assert store.watches.sync({"rectal": [NCT]}) is True  # a trial and a watch left
    store.subscriptions.add(
        [Subscription("C123", NCT, channel_name="trials", created_at="2026-12-01T00:00:00Z")]
    )
    with sqlite3.connect(path) as conn:
        conn.execute(
            "INSERT INTO search_members VALUES ('pd-1', ?, '2026-12-01', '2026-12-01')", [NCT]
        )
    assert store.watches.of([NCT, trial(1)]) == {NCT: ["#trials", "pd-1", "rectal"]}
    with sqlite3.connect(path) as conn:
        assert conn.execute(
            "SELECT kind, name FROM trial_watches WHERE nct_id = ? ORDER BY kind", [NCT]
        ).fetchall() == [("search", "pd-1"), ("slack", "#trials"), ("watch", "rectal")]
    store.close()


def test_trial_changes_carries_numbers_source_seen_and_watches(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    grow(store, NCT, ["RECRUITING", "COMPLETED"], ["2026-11-01T00:00:00Z", "2026-11-02T09:00:00Z"])
    store.watches.sync({"rectal": [NCT]})
    store.close()
    with sqlite3.connect(path) as conn:
        got = conn.execute(
            """SELECT c.version, c.version_ref, c.registry_version, c.source, c.seen_at,
                      c.label, c.old, c.new, w.name
               FROM trial_changes c JOIN trial_watches w USING (nct_id)"""
        ).fetchall()
    assert got == [
        (2, "#2", None, "observed", "2026-11-02T09:00:00Z", "Overall Status", "Recruiting",
         "Completed", "rectal"),
    ]  # fmt: skip


def test_a_writer_between_pages_neither_repeats_nor_loses_rows(tmp_path: Path) -> None:
    """Each page is its own read: the daemon may record versions while a log streams."""
    path = tmp_path / "ctwatch.db"
    reader = Store.open(path)
    days = ["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"]
    for n in range(3):
        grow(reader, trial(n), ["RECRUITING", "COMPLETED"], days)
    stream = reader.changelog.stream(page=1)
    seen = [next(stream).nct_id]
    writer = Store.open(path)  # another connection, as another process would have
    grow(writer, trial(9), ["RECRUITING", "TERMINATED"], days)
    writer.close()
    seen += [c.nct_id for c in stream]
    assert seen == [trial(0), trial(1), trial(2), trial(9)]
    reader.close()


def test_digests_hashed_in_slices_are_those_of_the_whole_list() -> None:
    """The scope and watch digests hash a slice of IDs at a time (no joined copy of a
    whole-registry list); the bytes hashed are those of the whole list joined, as an
    older ctwatch stored them, so an upgrade recognises its unchanged watch list."""
    ids = [trial(n) for n in range(2 * DIGEST_SLICE + 7)]
    for count in (0, 1, DIGEST_SLICE - 1, DIGEST_SLICE, DIGEST_SLICE + 1, len(ids)):
        part = ids[:count]
        joined = "\n".join(part).encode("ascii")
        assert scope_digest(part) == hashlib.sha256(joined).hexdigest()
    members = {"a": ids, "b": ids[:3], "é": [], "c": ids[DIGEST_SLICE:]}
    text = "\n".join(f"{name}\t{','.join(trials)}" for name, trials in members.items())
    assert watches_digest(members) == hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_watch_members_follow_the_config_in_sql(tmp_path: Path) -> None:
    """``watch_members`` is made to say exactly the config's watches (compared in SQLite,
    through a temporary table), and an unchanged config writes nothing."""
    path = tmp_path / "ctwatch.db"
    store = Store.open(path)
    assert store.watches.sync({"a": [trial(1), trial(2)], "b": [trial(2)]})
    assert not store.watches.sync({"a": [trial(1), trial(2)], "b": [trial(2)]})
    assert store.watches.sync({"a": [trial(2), trial(3)], "c": [trial(1)]})
    store.close()
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT watch, nct_id FROM watch_members ORDER BY 1, 2").fetchall()
    assert rows == [("a", trial(2)), ("a", trial(3)), ("c", trial(1))]
