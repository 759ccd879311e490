"""The UI over HTTP on a real socket: answers, 400/404 wording, CSP, escaping, paging."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from html import escape
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.web.ui.conftest import (
    HOSTILE_NCT,
    HOSTILE_TITLE,
    HOSTILE_WHY,
    IMPORTED_NCT,
    LONG,
    QUIET,
    SEARCH,
    VERSIONS,
    Served,
)
from watcher.web.ui.routes import CSP

PAGES = [
    "/",
    f"/trials/{LONG}",
    f"/trials/{QUIET}",  # one version: nothing changed
    f"/trials/{IMPORTED_NCT}",
    f"/trials/{HOSTILE_NCT}",
    f"/searches/{quote(SEARCH, safe='')}",
    f"/trials/{LONG}/compare?a=1&b={VERSIONS}",
    "/changes",
    "/changes?level=info&type=field.*&since=2019-01-01&until=2030-01-01",
]


def get(served: Served, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(served.origin + path, timeout=10, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_csp_viewport_and_no_script(served: Served, path: str) -> None:
    answer = get(served, path)
    assert answer.status_code == 200, answer.text[:300]
    assert answer.headers["content-security-policy"] == CSP
    assert "script-src" not in CSP and "default-src 'none'" in CSP  # no script at all
    assert answer.headers["x-content-type-options"] == "nosniff"
    html = answer.text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "<script" not in html.lower()
    assert " style=" not in html and "<style" not in html  # styles only from the CSS file
    assert re.search(r"<[^>]*\son[a-z]+=", html) is None  # no event-handler attribute


def test_hostile_title_and_why_stopped_are_shown_as_text(served: Served) -> None:
    for path in (f"/trials/{HOSTILE_NCT}", "/", f"/changes?trial={HOSTILE_NCT}"):
        html = get(served, path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;" in html
    changes = get(served, f"/changes?trial={HOSTILE_NCT}&format=json").json()
    texts = [e["text"] for c in changes["changes"] for e in c["entries"]]
    assert any("<script>document.title='pwned'</script>" in t for t in texts)  # kept as text
    assert changes["changes"][0]["title"] == HOSTILE_TITLE
    html = get(served, f"/trials/{HOSTILE_NCT}").text
    assert "Stopped &lt;script&gt;document.title=&#39;pwned&#39;&lt;/script&gt;" in html
    assert HOSTILE_WHY.startswith("<b>")  # the words alerts use drop the bold tag


def test_trial_page_has_three_captioned_charts_and_every_version(served: Served) -> None:
    html = get(served, f"/trials/{LONG}").text
    captions = re.findall(r"<figcaption>(\w[\w ]*):", html)
    assert captions == ["Status", "Enrollment", "Primary completion"]
    assert html.count('<svg class="chart') == 3
    assert html.count('class="seg ') == VERSIONS  # one status bar per version
    numbers = re.findall(r'<article class="version" id="v(\d+)">', html)
    assert [int(n) for n in numbers] == list(range(VERSIONS, 0, -1))  # newest first, as history
    assert f"https://clinicaltrials.gov/study/{LONG}?tab=history" in html
    assert "Results due" in html  # completed, phase 3, actual primary completion


def test_unknown_and_malformed_trials(served: Served) -> None:
    missing = get(served, "/trials/NCT09999999")
    assert missing.status_code == 404
    assert "NCT09999999 is not watched" in missing.text
    bad = get(served, "/trials/NCT123")
    assert bad.status_code == 400 and "trial: &#39;NCT123&#39; is not an NCT ID" in bad.text
    compare = get(served, f"/trials/{LONG}/compare?a=1&b=99")
    assert compare.status_code == 404 and "#99" in compare.text
    wrong = get(served, f"/trials/{LONG}/compare?a=x&b=2")
    assert (
        wrong.status_code == 400 and "a: &#39;x&#39; is not a version (1, #1 or r7)" in wrong.text
    )
    for name in ("a", "b"):  # a superscript digit blames the version, not the trial
        other = "b" if name == "a" else "a"
        odd = get(served, f"/trials/{LONG}/compare?{name}=%C2%B2&{other}=2")
        assert odd.status_code == 400
        assert f"{name}: &#39;²&#39; is not a version (1, #1 or r7)" in odd.text


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("level=hihg", "level: 'hihg' is not one of high, medium, low, info"),
        ("since=yesterday", "since: 'yesterday' is not a date"),
        ("until=2026-13-01", "until: '2026-13-01' is not a date"),
        ("trial=NCT123", "trial: 'NCT123' is not an NCT ID"),
        ("after=garbage", "after: 'garbage' is not a page cursor"),
        ("type=<b>", "type: '<b>' is not a type or glob"),
        ("format=xml", "format: 'xml' is not one of csv, json"),
        ("set=1,x", "set: '1,x' is not a list of change-set ids"),
        # str.isdigit accepts a superscript two, which int() refuses: a 400, never a 500
        ("set=%C2%B2", "set: '²' is not a list of change-set ids"),
        ("limit=%C2%B2", "limit: '²' is not a number from 1 to 1000"),
        ("watch=nope", "watch: no watch is named 'nope'"),
        ("search=nope", "search: no search is named 'nope'"),
        ("colour=red", "unknown parameter 'colour'"),
        ("since=2026-02-01&until=2026-01-01", "since: 2026-02-01 is after until (2026-01-01)"),
    ],
)
def test_changes_bad_parameters_are_400_naming_them(
    served: Served, query: str, reason: str
) -> None:
    if "format" not in query:  # an export answers one plain line
        answer = get(served, f"/changes?{query}&format=csv")
        assert answer.status_code == 400
        assert answer.text.startswith(reason) and answer.text.count("\n") == 1
    page = get(served, f"/changes?{query}")
    assert page.status_code == 400
    assert '<p class="problem">' + escape(reason).replace("&#x27;", "&#39;") in page.text


def _all_sets(database: Path) -> list[tuple[str, int]]:
    """Every change set, newest version date first (the order the log promises)."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute(
            """SELECT COALESCE(submitted, last_update_posted, substr(fetched_at, 1, 10)), id
               FROM versions WHERE change_count > 0"""
        ).fetchall()
    return sorted(((str(d), int(i)) for d, i in rows), reverse=True)


def test_changes_keyset_pages_walk_everything_once_newest_first(served: Served) -> None:
    seen: list[tuple[str, int]] = []
    url: str | None = "/changes?format=json&limit=7"
    pages = 0
    while url is not None:
        body = get(served, url).json()
        seen += [(c["date"], c["change_set"]) for c in body["changes"]]
        url = body["next"]
        pages += 1
    assert seen == _all_sets(served.database)
    assert pages == -(-len(seen) // 7) + (len(seen) % 7 == 0)


def test_changes_filters_watch_trial_type_period_level_and_sets(served: Served) -> None:
    def sets(query: str) -> list[dict[str, object]]:
        answer = get(served, f"/changes?format=json&{query}")
        assert answer.status_code == 200, answer.text
        return list(answer.json()["changes"])

    assert {c["nct_id"] for c in sets("watch=quiet")} == set()  # one version: nothing changed
    assert {c["nct_id"] for c in sets(f"trial={HOSTILE_NCT}")} == {HOSTILE_NCT}
    assert len(sets(f"trial={LONG}&limit=100")) == VERSIONS - 1
    assert sets("level=high") == [] and sets("level=low") == []  # no events yet: all info
    assert len(sets(f"trial={LONG}&level=info&limit=100")) == VERSIONS - 1
    assert sets("type=field.removed") == []
    period = sets(f"trial={LONG}&since=2020-01-01&until=2020-12-31&limit=100")
    assert period and all("2020-01-01" <= str(c["date"]) <= "2020-12-31" for c in period)
    chosen = [c["change_set"] for c in sets(f"trial={LONG}&limit=3")]
    exactly = sets("set=" + ",".join(str(s) for s in chosen))
    assert [c["change_set"] for c in exactly] == chosen
    imported = sets(f"trial={IMPORTED_NCT}")
    assert [c["source"] for c in imported] == ["imported"]
    html = get(served, f"/changes?trial={IMPORTED_NCT}").text
    assert '<span class="badge imported">imported</span>' in html


def test_changes_csv_is_spreadsheet_safe_and_links_the_next_page(served: Served) -> None:
    answer = get(served, f"/changes?format=csv&trial={LONG}&limit=2")
    assert answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0][:3] == ["date", "nct_id", "title"]
    assert all(r[1] == LONG for r in rows[1:])
    assert 'rel="next"' in answer.headers["link"] and "format=csv" in answer.headers["link"]
    hostile = get(served, f"/changes?format=csv&trial={HOSTILE_NCT}").text
    assert HOSTILE_TITLE.replace('"', '""') in hostile


def test_search_page_lists_members_with_joined_and_left(served: Served) -> None:
    answer = get(served, "/searches/" + quote(SEARCH, safe=""))
    assert answer.status_code == 200
    rows = re.findall(
        r'<tr class="(member|left)"><td><a href="/trials/(NCT\d+)">NCT\d+</a></td><td>.*?</td>'
        r"<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td></tr>",
        answer.text,
    )
    assert rows == [
        ("member", HOSTILE_NCT, "2026-02-01T06:00:00Z", "2026-02-01T06:00:00Z", ""),
        ("member", LONG, "2026-01-01T06:00:00Z", "2026-03-01T06:00:00Z", ""),
        ("left", QUIET, "2026-01-01T06:00:00Z", "—", "2026-03-01T06:00:00Z"),
    ]
    assert "tumor &lt;b&gt;search&lt;/b&gt;" in answer.text
    scoped = get(served, "/changes?format=json&search=" + quote(SEARCH)).json()["changes"]
    assert {c["nct_id"] for c in scoped} == {LONG, HOSTILE_NCT}  # and QUIET (no changes)


def test_search_page_unknown_is_404(served: Served) -> None:
    answer = get(served, "/searches/nope")
    assert answer.status_code == 404 and "no search is named" in answer.text


def test_dashboard_lists_watches_and_latest_changes(served: Served) -> None:
    html = get(served, "/").text
    assert "oncology" in html and "quiet" in html
    assert f'href="/trials/{LONG}#v{VERSIONS}"' in html
    assert QUIET not in re.sub(r"<table.*?</table>", "", html, flags=re.S)  # no change of its own


def test_static_css_is_served_from_the_package(served: Served) -> None:
    answer = get(served, "/ui/static/ui.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    assert "svg.chart" in answer.text
    assert get(served, "/ui/static/../../asgi.py").status_code == 404


def test_pages_render_while_a_cycle_holds_the_write_lock(served: Served) -> None:
    """WAL: a reader never waits for a writer (a cycle mid-transaction)."""
    writer = sqlite3.connect(served.database, isolation_level=None, timeout=1)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE trials SET last_checked_at = '2026-12-01T00:00:00Z'")
        for path in PAGES:
            assert get(served, path).status_code == 200, path
        assert "2026-12-01T00:00:00Z" not in get(served, "/").text  # uncommitted: unseen
    finally:
        writer.execute("ROLLBACK")
        writer.close()


def test_the_ui_writes_nothing(served: Served) -> None:
    """``PRAGMA data_version`` moves when any other connection commits: it must not."""
    watcher = sqlite3.connect(served.database)
    try:
        before = watcher.execute("PRAGMA data_version").fetchone()[0]
        for path in [
            *PAGES,
            f"/trials/{HOSTILE_NCT}",
            "/changes?format=csv",
            "/changes?format=json",
        ]:
            assert get(served, path).status_code == 200
        assert httpx.post(served.origin + "/changes").status_code == 405  # GET only
        assert watcher.execute("PRAGMA data_version").fetchone()[0] == before
    finally:
        watcher.close()
