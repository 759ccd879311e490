"""The web UI's read model over a real SQLite file: paging, filters, numbering, and the
plug-in point for events (an ``events`` table, as issue 22 adds, made here by hand)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.story import import_story, record_story, slipping_records
from watcher.store import Store
from watcher.store.timeline import ChangeQuery, levels_from

NCT = "NCT01234567"
OTHER = "NCT07654321"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store.open(tmp_path / "ctwatch.db")
    record_story(opened, NCT, slipping_records(NCT, 12))
    record_story(opened, OTHER, slipping_records(OTHER, 4, title="Another"))
    return opened


def test_numbers_are_the_history_numbers_and_pages_never_overlap(store: Store) -> None:
    history = {v.id: v.number for v in store.versions.history(NCT)}
    story = store.timeline.story(NCT)
    assert story is not None
    assert {v.id: v.number for v in story.versions} == history  # as `ctwatch history`
    seen, after = [], None
    while True:
        page = store.timeline.changes(ChangeQuery(after=after, limit=4))
        seen += page
        if len(page) < 4:
            break
        after = (page[-1].date, page[-1].version_id)
    keys = [(c.date, c.version_id) for c in seen]
    assert keys == sorted(keys, reverse=True) and len(set(keys)) == len(keys) == 11 + 3


def test_imported_versions_are_numbered_before_observed_ones(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    records = slipping_records(NCT, 5)
    record_story(store, NCT, records[3:])  # ctwatch saw the last two
    import_story(store, NCT, records[:3])  # then imported the older three
    story = store.timeline.story(NCT)
    assert story is not None
    assert [(v.number, v.imported) for v in story.versions] == [
        (1, True), (2, True), (3, True), (4, False), (5, False),
    ]  # fmt: skip
    assert [v.date for v in story.versions] == sorted(v.date for v in story.versions)


def test_without_events_every_change_is_info(store: Store) -> None:
    assert store.conn.one("SELECT COUNT(*) AS n FROM events")["n"] == 0  # type: ignore[index]
    assert store.timeline.changes(ChangeQuery(level="high")) == []
    sets = store.timeline.changes(ChangeQuery(level="info", limit=100))
    assert {e.level for s in sets for e in s.entries} == {"info"}
    assert {e.type for s in sets for e in s.entries} <= {"field.changed", "field.added"}


def test_events_plug_in_first_with_their_levels_and_types(store: Store) -> None:
    story = store.timeline.story(NCT)
    assert story is not None
    target = story.versions[5]
    store.conn.db.execute(
        """INSERT INTO events (nct_id, version_id, type, level, summary, detected_at)
           VALUES (?, ?, ?, ?, ?, ?)""",
        [NCT, target.id, "dates.primary_completion_slipped", "medium", "Slipped by 92 days",
         "2026-12-07T00:00:00Z"],
    )  # fmt: skip
    assert store.timeline.has_events()
    (found,) = store.timeline.changes(ChangeQuery(level="medium"))
    assert found.version_id == target.id and found.level == "medium"
    assert found.entries[0].type == "dates.primary_completion_slipped"
    assert found.entries[0].text.endswith("Slipped by 92 days")
    assert [e.level for e in found.entries[1:]] == ["info"] * (len(found.entries) - 1)
    assert store.timeline.changes(ChangeQuery(level="high")) == []
    (by_type,) = store.timeline.changes(ChangeQuery(type_glob="dates.*"))
    assert by_type.version_id == target.id
    assert len(store.timeline.changes(ChangeQuery(type_glob="field.*", limit=100))) == 14
    again = store.timeline.story(NCT)
    assert again is not None and again.versions[5].entries[0].level == "medium"


def test_levels_from() -> None:
    assert levels_from("low") == ("high", "medium", "low")
    assert levels_from("info") == ("high", "medium", "low", "info")
