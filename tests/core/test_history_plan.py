"""What to import and where it goes (watcher.core.history), on a version list of the real shape."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import load_fixture
from watcher.core.history import (
    IMPORTED,
    OBSERVED,
    Held,
    ListedVersion,
    import_order,
    learn_numbers,
    moved,
    numbers_by_date,
    plan_import,
)
from watcher.registry.history import HistoryUnavailable, parse_version_list


def real_list() -> list[ListedVersion]:
    body: dict[str, Any] = load_fixture("synthetic", "NCT09000101.int-history.json")
    return parse_version_list(
        body, "https://clinicaltrials.gov/api/int/studies/NCT09000101/history"
    )


def test_the_real_list_parses_into_website_numbers() -> None:
    listed = real_list()
    assert [v.number for v in listed] == list(range(1, 11))
    assert (listed[0].date, listed[0].status, listed[0].module_labels) == (
        "2021-05-11",
        "NOT_YET_RECRUITING",
        (),
    )
    assert listed[-1].date == "2023-03-01" and listed[-1].status == "COMPLETED"
    assert listed[1].module_labels == ("Study Status", "Contacts/Locations")


def test_only_version_and_date_are_required() -> None:
    listed = parse_version_list({"changes": [{"version": 1, "date": "2020-01-02"},
                                            {"version": 0, "date": "2019-12-01"}]}, "u")  # fmt: skip
    assert listed == [ListedVersion(1, "2019-12-01"), ListedVersion(2, "2020-01-02")]
    nested = parse_version_list(
        {"history": {"changes": [{"version": 0, "date": "2019-12-01"}]}}, "u"
    )
    assert nested == [ListedVersion(1, "2019-12-01")]


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"changes": []},
        {"changes": "ten"},
        {"changes": [{"version": "0", "date": "2019-12-01"}]},
        {"changes": [{"version": True, "date": "2019-12-01"}]},
        {"changes": [{"version": -1, "date": "2019-12-01"}]},
        {"changes": [{"version": 0, "date": "yesterday"}]},
        {"changes": [{"version": 0}]},
        {"changes": [{"version": 0, "date": "2019-12-01"}, {"version": 0, "date": "2019-12-02"}]},
    ],
)
def test_a_changed_shape_is_history_unavailable(body: dict[str, Any]) -> None:
    with pytest.raises(HistoryUnavailable, match=r"^registry history not available \(unexpected"):
        parse_version_list(body, "http://h/api/int/studies/NCT00000001/history")


def observed(vid: int, submitted: str | None, number: int | None = None) -> Held:
    return Held(vid, OBSERVED, number, submitted, None)


def imported(vid: int, number: int, date: str) -> Held:
    return Held(vid, IMPORTED, number, date)


def test_nothing_stored_imports_everything_oldest_first() -> None:
    listed = real_list()
    plan = plan_import([], listed)
    assert [v.number for v in plan.fetch] == list(range(1, 11)) and plan.numbering == {}


def test_a_baseline_gets_its_number_and_only_older_versions_are_imported() -> None:
    listed = real_list()
    plan = plan_import([observed(7, "2023-03-01")], listed)
    assert plan.numbering == {7: 10}
    assert [v.number for v in plan.fetch] == list(range(1, 10))


def test_versions_newer_than_what_ctwatch_saw_are_left_for_check() -> None:
    listed = real_list()
    # ctwatch saw version 9 (submitted 2022-10-24) and nothing since: 10 is check's to alert on
    plan = plan_import([observed(3, "2022-10-24")], listed)
    assert plan.numbering == {3: 9}
    assert [v.number for v in plan.fetch] == list(range(1, 9))


def test_versions_between_two_observed_ones_are_not_imported() -> None:
    listed = real_list()
    stored = [observed(1, "2021-11-15"), observed(2, "2023-03-01")]  # 6 and 10; 7-9 missed
    plan = plan_import(stored, listed)
    assert plan.numbering == {1: 6, 2: 10}
    assert [v.number for v in plan.fetch] == [1, 2, 3, 4, 5]


def test_a_complete_history_imports_nothing() -> None:
    listed = real_list()
    stored = [imported(i, i, v.date) for i, v in enumerate(listed[:-1], start=1)]
    stored.append(observed(99, "2023-03-01", 10))
    plan = plan_import(stored, listed)
    assert plan.fetch == () and plan.numbering == {}


def test_an_unmatched_observed_version_is_placed_by_its_dates() -> None:
    listed = real_list()
    plan = plan_import([observed(5, "2022-06-10")], listed)  # no version submitted that day
    assert plan.numbering == {} and [v.number for v in plan.fetch] == list(range(1, 9))
    by_post = plan_import([Held(5, OBSERVED, None, None, "2021-07-20")], listed)
    assert [v.number for v in by_post.fetch] == [1, 2, 3]  # submitted before it was posted
    blind = plan_import([Held(5, OBSERVED, None, None, None)], listed)
    assert blind.fetch == () and blind.unplaced


def test_two_versions_on_one_day_number_the_later() -> None:
    listed = [ListedVersion(1, "2021-01-04"), ListedVersion(2, "2021-01-04")]
    assert numbers_by_date(listed) == {"2021-01-04": 2}
    assert learn_numbers([observed(1, "2021-01-04")], listed) == {1: 2}
    assert learn_numbers([observed(1, "2021-01-04", 2)], listed) == {}  # already known


def test_order_puts_imports_by_number_before_observed_ones() -> None:
    stored = [imported(10, 2, "b"), observed(11, "x"), observed(12, "y")]
    order = import_order(stored, [1, 3], {11: 4})
    assert order == [("new", 1), ("stored", 10), ("new", 3), ("stored", 11), ("stored", 12)]
    before = [("stored", 10), ("stored", 11), ("stored", 12)]
    assert moved(before, order) == [
        (("new", 1), None),
        (("stored", 10), ("new", 1)),
        (("new", 3), ("stored", 10)),
        (("stored", 11), ("new", 3)),
    ]
