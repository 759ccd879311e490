"""Markup is never a change: historic HTML and current Markdown compared by content.

Real shapes: a version 0 as the history endpoint serves it and a version list's
first-version outcome (synthetic, hand-written in the registry's markup, in
tests/fixtures/ctgov/synthetic), and every real API v2 record under
tests/fixtures/ctgov/records turned into the history endpoints' form.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.conftest import load_fixture
from tests.support.histories import current, historic, to_html, to_markdown
from tests.support.paths import CTGOV
from watcher.core.describe import display_value
from watcher.core.diff import diff_records, item_key
from watcher.core.richtext import key_text, readable, same_text, text_content
from watcher.core.snapshot import take_snapshot
from watcher.testing.samples import seed_study

ELIGIBILITY = "protocolSection.eligibilityModule.eligibilityCriteria"


def test_entities_tags_lists_and_escapes_are_not_words() -> None:
    assert same_text("<p>Age &gt;&#x2F;= 18</p>", "Age \\>/= 18")
    assert same_text("<ul><li>One</li><li>Two</li></ul>", "* One\n* Two")
    assert same_text("<ol><li>One</li><li>Two</li></ol>", "1. One\n2. Two")
    assert same_text("Investigator&#x27;s choice", "Investigator's choice")
    assert same_text("**Bold** and _emphasis_", "<b>Bold</b> and <em>emphasis</em>")
    assert same_text("a\n\n  b", "a b")


def test_real_words_still_differ() -> None:
    assert not same_text("<p>Age &gt;= 18</p>", "Age \\>= 21")
    assert not same_text("<ul><li>One</li></ul>", "* One\n* Two")
    assert not same_text("and&#x2F;or", "and or")  # punctuation is text too
    # only known tags are tags: "<18 and >65" keeps its words
    assert text_content("age <18 and >65") == "age < 18 and > 65"
    assert not same_text("age <18 and >65", "age 18")


def test_first_version_outcome_of_a_version_list() -> None:
    listed = load_fixture("synthetic", "NCT09000101.int-history.json")
    html = listed["originalData"]["primaryOutcomes"][0]["description"]
    assert html.startswith("<ul><li>")
    markdown = (
        "* A ≥2-point improvement on the 8-point ordinal scale sustained for ≥48 hours\n"
        "* Discharge from hospital by Day 15"
    )
    assert same_text(html, markdown)
    assert not same_text(html, markdown.replace("≥2-point", "≥3-point"))
    assert readable(html).splitlines()[0] == (
        "A ≥2-point improvement on the 8-point ordinal scale sustained for ≥48 hours"
    )


def test_a_version_zero_reads_the_same_in_markdown() -> None:
    v0 = load_fixture("synthetic", "NCT09000101.history-v0.json")["study"]
    for text in (
        v0["protocolSection"]["eligibilityModule"]["eligibilityCriteria"],
        v0["protocolSection"]["descriptionModule"]["briefSummary"],
    ):
        markdown = to_markdown(text)
        assert "&#x2F;" in text and "&#x2F;" not in markdown
        assert same_text(text, markdown)
    # the whole record, imported vs as the API v2 would serve it: no change at all
    served_today = current(v0, "2026-11-20")
    assert (
        diff_records(take_snapshot("X", v0).record, take_snapshot("X", served_today).record) == []
    )


@pytest.mark.parametrize(
    "name",
    sorted(p.name for p in (CTGOV / "records").glob("NCT*.json")),
)
def test_every_real_record_equals_its_historic_form(name: str) -> None:
    record = load_fixture("records", name)
    old = take_snapshot("X", historic(record)).record
    new = take_snapshot("X", record).record
    assert old != new  # the markup really differs
    assert diff_records(old, new) == []


def test_a_real_change_behind_markup_is_found_and_reads_plainly() -> None:
    record = seed_study()
    record["protocolSection"]["eligibilityModule"] = {
        "eligibilityCriteria": "Inclusion Criteria:\n\n* Age \\>= 18 years\n* ECOG 0-1"
    }
    old = historic(record)
    new = copy.deepcopy(record)
    new["protocolSection"]["eligibilityModule"]["eligibilityCriteria"] = (
        "Inclusion Criteria:\n\n* Age \\>= 18 years\n* ECOG 0-2"
    )
    (change,) = diff_records(take_snapshot("X", old).record, take_snapshot("X", new).record)
    assert change.path == ELIGIBILITY
    assert change.old.startswith("<p>Inclusion Criteria:</p><ul><li>Age &gt;= 18")
    shown = display_value(ELIGIBILITY, change.old)
    assert "<" not in shown and "&gt;" not in shown and "Age >= 18 years" in shown


def test_list_items_keep_their_identity_across_markup() -> None:
    record = seed_study()
    record["protocolSection"]["outcomesModule"] = {
        "secondaryOutcomes": [
            {"measure": "Time to a NEWS of <= 2 and/or discharge", "timeFrame": "Day 1 to 29"}
        ]
    }
    record["protocolSection"]["conditionsModule"] = {"keywords": ["Investigator's choice"]}
    old = historic(record)
    measure = old["protocolSection"]["outcomesModule"]["secondaryOutcomes"][0]["measure"]
    assert measure == "Time to a NEWS of &lt;= 2 and&#x2F;or discharge"  # as v0 of NCT04280705
    schema = "protocolSection.outcomesModule.secondaryOutcomes"
    assert item_key(schema, {"measure": measure}) == item_key(
        schema, {"measure": "Time to a NEWS of <= 2 and/or discharge"}
    )
    new = copy.deepcopy(record)
    new["protocolSection"]["outcomesModule"]["secondaryOutcomes"][0]["timeFrame"] = "Day 1 to 60"
    changes = diff_records(take_snapshot("X", old).record, take_snapshot("X", new).record)
    assert [(c.path, c.old, c.new) for c in changes] == [
        (
            f"{schema}[Time to a NEWS of <= 2 and/or discharge].timeFrame",
            "Day 1 to 29",
            "Day 1 to 60",
        )
    ]


def test_markdown_round_trip_of_the_hand_built_form() -> None:
    text = (
        "Inclusion Criteria:\n\n* Age \\>= 18 years\n* pMMR/MSS\n\nExclusion Criteria:\n\n1. None"
    )
    html = to_html(text)
    assert html == (
        "<p>Inclusion Criteria:</p><ul><li>Age &gt;= 18 years</li><li>pMMR&#x2F;MSS</li></ul>"
        "<p>Exclusion Criteria:</p><ol><li>None</li></ol>"
    )
    assert same_text(html, text) and same_text(to_markdown(html), text)
    assert key_text("St. Mary&#x27;s Hospital") == "St. Mary's Hospital"
    assert key_text("Plain & simple") == "Plain & simple"


def test_text_without_markup_is_shown_as_written() -> None:
    assert readable("* Age \\>= 18") == "* Age \\>= 18"
    assert json.dumps(display_value(ELIGIBILITY, "a < b")) == '"a < b"'
