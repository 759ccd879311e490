"""The UI in headless Chromium (Debian's, driven by Playwright): what a person sees.

Screenshots land in each test's tmp_path (pytest keeps the last runs' folders
under its basetemp) and are named in the test's output.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.web.ui.conftest import HOSTILE_NCT, HOSTILE_TITLE, LONG, VERSIONS, Served

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 375, "height": 740}
ACTUAL_FROM = VERSIONS * 3 // 4  # slipping_records: actual enrollment in the last quarter


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh page that fails the test on any dialog (a script ran) or CSP report."""
    context = browser.new_context(viewport=DESKTOP)
    tab = context.new_page()
    problems: list[str] = []

    def dialog(opened: Any) -> None:
        problems.append(f"dialog: {opened.message}")
        opened.dismiss()

    tab.on("dialog", dialog)
    tab.on(
        "console",
        lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        yield tab
    finally:
        context.close()
    assert problems == []


def shot(page: Any, folder: Path, name: str) -> Path:
    path = folder / name
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path


def test_dashboard_lists_watches_and_links_latest_changes(
    page: Any, served: Served, tmp_path: Path
) -> None:
    page.goto(served.origin + "/")
    assert page.locator("h1").inner_text() == "Dashboard"
    assert page.locator("table.watches tbody tr").count() == 2
    assert page.locator("article.changeset").count() >= 3
    stylesheet = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "system-ui" in stylesheet  # the CSS file loaded under the CSP
    shot(page, tmp_path, "dashboard.png")
    page.locator(f'article.changeset a[href^="/trials/{LONG}"]').first.click()
    page.wait_for_url(f"**/trials/{LONG}#v*")
    assert LONG in page.locator("h1").inner_text()


def test_trial_page_draws_three_charts_from_30_versions(
    page: Any, served: Served, tmp_path: Path
) -> None:
    page.goto(f"{served.origin}/trials/{LONG}")
    figures = page.locator("figure")
    assert figures.count() == 3
    captions = [figures.nth(i).locator("figcaption").inner_text() for i in range(3)]
    assert [c.split(":")[0] for c in captions] == ["Status", "Enrollment", "Primary completion"]
    status = page.locator("svg.chart-status")
    assert status.locator("rect.seg").count() == VERSIONS
    assert status.locator("text.lane").all_text_contents() == [
        "Not yet recruiting", "Recruiting", "Active, not recruiting", "Completed",
    ]  # fmt: skip
    enrollment = page.locator("svg.chart-enrollment")
    assert enrollment.locator("circle.pt.target").count() == ACTUAL_FROM
    assert enrollment.locator("circle.pt.actual").count() == VERSIONS - ACTUAL_FROM
    assert enrollment.locator("path.line").count() == 2
    dates = page.locator("svg.chart-dates")
    assert dates.locator("circle.pt.primary").count() == VERSIONS
    assert dates.locator("circle.pt.completion").count() == VERSIONS
    assert dates.locator("line.due").count() == 1  # completed phase 3: results due
    # a slipping date reads as a rising line: later versions sit higher (smaller y)
    ys = [float(y) for y in dates.locator("circle.pt.primary").evaluate_all(
        "els => els.map(e => e.getAttribute('cy'))")]  # fmt: skip
    assert ys[-1] < ys[0] and all(b <= a for a, b in itertools.pairwise(ys))
    for chart in (status, enrollment, dates):
        box = chart.bounding_box()
        assert box is not None and box["width"] > 600 and box["height"] > 50
    assert page.locator("article.version").count() == VERSIONS
    shot(page, tmp_path, "trial-1440.png")


def test_compare_two_versions_through_the_form(page: Any, served: Served) -> None:
    page.goto(f"{served.origin}/trials/{LONG}")
    form = page.locator("form.compare")
    form.locator('select[name="a"]').select_option("1")
    form.locator('select[name="b"]').select_option(str(VERSIONS))
    form.locator("button").click()
    page.wait_for_url(f"**/trials/{LONG}/compare?a=1&b={VERSIONS}")
    assert page.locator("h2").first.inner_text().startswith("Version #1 (")
    labels = page.locator("li.entry .label").all_inner_texts()
    assert "Overall Status:" in labels and "Enrollment:" in " ".join(labels)


def test_changes_filter_and_next_page(page: Any, served: Served) -> None:
    page.goto(served.origin + "/changes")
    page.locator('form.filters input[name="trial"]').fill(LONG.lower())
    page.locator("form.filters button").click()
    page.wait_for_url("**/changes?*trial=*")
    shown = page.locator("article.changeset h3 a").all_inner_texts()
    assert shown and set(shown) == {LONG}
    assert len(shown) == VERSIONS - 1  # one page of 50 holds them all
    page.goto(f"{served.origin}/changes?trial={LONG}&limit=10")
    first = page.locator("article.changeset").first.get_attribute("data-set")
    page.locator('a[rel="next"]').click()
    page.wait_for_url("**after=*")
    assert page.locator("article.changeset").count() == 10
    assert page.locator("article.changeset").first.get_attribute("data-set") != first
    page.goto(served.origin + "/changes?since=yesterday")
    assert "since: 'yesterday' is not a date" in page.locator("p.problem").inner_text()


def test_hostile_text_is_shown_not_run(page: Any, served: Served, tmp_path: Path) -> None:
    page.goto(f"{served.origin}/trials/{HOSTILE_NCT}")
    assert page.title().startswith(HOSTILE_NCT)  # no script renamed it
    assert page.locator("h1").inner_text() == f"{HOSTILE_NCT} {HOSTILE_TITLE}"
    assert page.locator("img").count() == 0 and page.locator("script").count() == 0
    assert "<script>document.title='pwned'</script>" in page.locator("main").inner_text()
    shot(page, tmp_path, "hostile.png")


@pytest.mark.parametrize("path", ["/", f"/trials/{LONG}", "/changes", f"/trials/{HOSTILE_NCT}"])
def test_phone_width_has_no_horizontal_scroll(
    browser: Any, served: Served, tmp_path: Path, path: str
) -> None:
    context = browser.new_context(viewport=PHONE)
    try:
        tab = context.new_page()
        tab.goto(served.origin + path)
        widths = tab.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1] == PHONE["width"], widths
        if path == f"/trials/{LONG}":
            shot(tab, tmp_path, "trial-375.png")
    finally:
        context.close()
