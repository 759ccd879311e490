"""Pages over records that date themselves oddly: a submission date with a time, an
actual completion in year 9999; and a watched trial with no version yet."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support.story import record_story, slipping_records
from tests.web.ui.conftest import config_text, fill
from tests.web.ui.test_access import ENV, app_for, config_for
from watcher.config import load_config
from watcher.store import Store
from watcher.testing.samples import make_study

ODD = "NCT09999999"
LOOPBACK = 'listen = "127.0.0.1:0"'


def test_next_links_page_through_versions_whose_dates_carry_a_time(tmp_path: Path) -> None:
    """The cursor carries the record's date text: ``2024-06-29T09:00:00Z`` must page."""
    database = tmp_path / "ctwatch.db"
    fill(database)
    records = slipping_records(ODD, 25)
    for record in records:
        module = record["protocolSection"]["statusModule"]
        module["lastUpdateSubmitDate"] += "T09:00:00Z"
    store = Store.open(database)
    record_story(store, ODD, records)
    store.close()
    seen: list[int] = []
    with app_for(config_for(tmp_path, database, LOOPBACK)) as origin:
        url: str | None = f"/changes?trial={ODD}&format=json&limit=10"
        while url is not None:
            answer = httpx.get(origin + url, timeout=10)
            assert answer.status_code == 200, answer.text
            page = answer.json()
            assert all("T09:00:00Z" in row["date"] for row in page["changes"])
            seen += [row["change_set"] for row in page["changes"]]
            url = page["next"]
        html = httpx.get(f"{origin}/changes?trial={ODD}&limit=10", timeout=10).text
        link = html.split('rel="next" href="')[1].split('"')[0]
        following = httpx.get(origin + link.replace("&amp;", "&"), timeout=10)
        assert following.status_code == 200, following.text[:300]
    assert len(seen) == 24 and len(set(seen)) == 24  # every change set once (25 versions)


def test_a_trial_with_an_actual_completion_in_year_9999_renders(tmp_path: Path) -> None:
    database = tmp_path / "ctwatch.db"
    fill(database)
    record = make_study(ODD, "Far future", phase="PHASE3")
    record["protocolSection"]["designModule"]["studyType"] = "INTERVENTIONAL"
    record["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {
        "date": "9999-12-31",
        "type": "ACTUAL",
    }
    store = Store.open(database)
    record_story(store, ODD, [record])
    store.close()
    with app_for(config_for(tmp_path, database, LOOPBACK)) as origin:
        answer = httpx.get(f"{origin}/trials/{ODD}", timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    assert "9999" in answer.text


def test_a_watched_trial_not_yet_checked_says_so(tmp_path: Path) -> None:
    database = tmp_path / "ctwatch.db"
    fill(database)
    text = config_text(database, LOOPBACK)
    path = tmp_path / "ctwatch.toml"
    watched_too = text.replace('name = "quiet"\ntrials = [', f'name = "quiet"\ntrials = ["{ODD}", ')
    assert watched_too != text
    path.write_text(watched_too, encoding="utf-8")
    with app_for(load_config(path, ENV)) as origin:
        watched = httpx.get(f"{origin}/trials/{ODD}", timeout=10)
        other = httpx.get(f"{origin}/trials/NCT09999998", timeout=10)
    assert watched.status_code == 404
    assert f"{ODD} is watched but not yet checked" in watched.text
    assert "NCT09999998 is not watched" in other.text
