"""The SVG primitives on real-shaped versions: marks per version, escaping, odd data."""

from __future__ import annotations

import re
from datetime import date

from watcher.core.timeline import DatedValue, Facts, parse_day, results_due
from watcher.store.timeline import StoryVersion
from watcher.web.ui import charts


def version(number: int, day: str, **facts: object) -> StoryVersion:
    return StoryVersion(
        id=number, number=number, date=day, source="observed", registry_version=None,
        fetched_at=f"{day}T00:00:00Z", facts=Facts(**facts), entries=(),  # type: ignore[arg-type]
    )  # fmt: skip


def test_a_hostile_status_cannot_leave_its_attribute_or_text() -> None:
    hostile = '"><script>alert(1)</script>'
    svg = str(charts.status_chart([version(1, "2024-01-01", status=hostile)], date(2025, 1, 1)))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert re.search(r'class="seg s-&#x27;|class="seg s-&quot;', svg)


def test_one_version_and_missing_facts_still_draw() -> None:
    only = [version(1, "2024-05-01")]
    today = date(2024, 5, 2)
    for svg in (
        charts.status_chart(only, today),
        charts.enrollment_chart(only, today),
        charts.dates_chart(only, today, None),
    ):
        assert str(svg).startswith("<svg") and "NaN" not in str(svg)
    assert 'class="pt' not in str(charts.enrollment_chart(only, today))
    assert "Enrollment is not stated in any stored version" in str(
        charts.enrollment_chart(only, today)
    )


def test_points_only_where_a_version_states_the_value() -> None:
    versions = [
        version(1, "2023-01-01", enrollment=100, enrollment_type="ESTIMATED",
                primary_completion=DatedValue("2024-06", "ESTIMATED")),
        version(2, "2023-06-01", enrollment=120, enrollment_type="ESTIMATED"),
        version(3, "2024-01-01", enrollment=90, enrollment_type="ACTUAL",
                primary_completion=DatedValue("2025-01", "ESTIMATED")),
    ]  # fmt: skip
    enrollment = str(charts.enrollment_chart(versions, date(2024, 6, 1)))
    assert enrollment.count('class="pt target"') == 2 and enrollment.count('class="pt actual"') == 1
    dates = str(charts.dates_chart(versions, date(2024, 6, 1), date(2026, 1, 1)))
    assert dates.count('class="pt primary"') == 2 and dates.count('class="pt completion"') == 0
    assert 'class="due"' in dates and "results due 2026-01-01" in dates


def test_results_due_rule_of_thumb() -> None:
    done = DatedValue("2024-02-29", "ACTUAL")
    base = {"study_type": "INTERVENTIONAL", "phases": ("PHASE3",), "primary_completion": done}
    assert results_due(Facts(**base)) == date(2025, 2, 28)  # type: ignore[arg-type]
    assert results_due(Facts(**{**base, "has_results": True})) is None  # type: ignore[arg-type]
    assert results_due(Facts(**{**base, "phases": ("PHASE1",)})) is None  # type: ignore[arg-type]
    planned = {**base, "primary_completion": DatedValue("2024-02", "ESTIMATED")}
    assert results_due(Facts(**planned)) is None  # type: ignore[arg-type]
    assert parse_day("2024-13") is None and parse_day("2024-02") == date(2024, 2, 1)
