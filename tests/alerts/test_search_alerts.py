"""What a search alert looks like everywhere: the card from a real-shaped record, every renderer's
escaping and limits, and the payload that carries it through the outbox."""

from __future__ import annotations

import copy
import json
from email import message_from_bytes, policy
from typing import Any

import pytest

from tests.alerts.test_teams_card import texts, urls, walk
from tests.conftest import load_fixture
from tests.support.alert_cases import NOW
from tests.support.slack_blockkit import block_errors
from tests.support.teams_double import card_errors
from watcher.alerts.delivery import _alert
from watcher.alerts.email_message import build_message, subject
from watcher.alerts.teams_card import MAX_BYTES, alert_card, digest_card, encode
from watcher.alerts.webhook_payload import build_payload
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange, diff_records
from watcher.core.render import Alert, Queued, console_text
from watcher.core.search_card import SearchEvent, TrialCard, event_payload, read_payload
from watcher.slack.blocks import MAX_BLOCKS, alert_message, digest_message
from watcher.store import OutboxClaim

QUEUED = Queued(7, "2026-11-25T14:30:00Z")
HOSTILE = "<!channel> & <https://evil.example|click> **now** {{DATE(x)}}\r\nBcc: x@evil.example"


def event_alert(record: dict[str, Any], kind: str = "new", search: str = "rectal-io") -> Alert:
    """The alert delivery builds from the outbox row an event was queued as."""
    nct = record["protocolSection"]["identificationModule"]["nctId"]
    event = SearchEvent(kind, search, TrialCard.of(record))  # type: ignore[arg-type]
    claim = OutboxClaim(
        7, None, nct, Destination.console(), None, 0, QUEUED.at, f"search.{kind}",
        json.loads(json.dumps(event_payload(event))),
    )  # fmt: skip
    return _alert(claim, ())


def test_the_card_of_a_big_record_says_what_decides() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    card = TrialCard.of(record)
    facts = dict(card.facts())
    assert facts["Lead sponsor"] == "Great Lakes Oncology Group"
    assert facts["Phase"] == "Phase 3"
    assert facts["Overall status"] == "Recruiting"
    assert facts["Conditions"] == (
        "Non-Small Cell Lung Carcinoma, Stage III Lung Cancer AJCC v8, "
        "Stage IIIA Lung Cancer AJCC v8 (+3 more)"
    )
    interventions = record["protocolSection"]["armsInterventionsModule"]["interventions"]
    assert facts["Interventions"].endswith(f"(+{len(interventions) - 3} more)")
    assert facts["Enrollment"] == "1,480 (estimated)"
    assert facts["Start date"] == "2022-03-07"
    assert facts["First posted"] == "2022-01-21"
    sites = record["protocolSection"]["contactsLocationsModule"]["locations"]
    assert facts["Locations"] == f"{len(sites):,} sites in United States, Canada"
    assert len(sites) > 1000  # the thousands separator
    assert TrialCard.from_json(json.loads(json.dumps(card.to_json()))) == card


def test_every_renderer_names_the_kind_in_words_and_the_search() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    for kind, words in (("new", "New trial"), ("matches", "Now matches")):
        alert = event_alert(record, kind)
        assert console_text(alert).startswith(f"{words} · search “rectal-io”\nNCT09000102 — ")
        text, blocks = alert_message(alert, actions=True)
        assert blocks[0]["text"]["text"] == f"{words} · rectal-io"
        assert text.startswith(f"{words} · search “rectal-io”: NCT09000102")
        assert subject(alert).startswith(f"[ctwatch] {words} in “rectal-io”: NCT09000102 — ")
        assert texts(alert_card(alert))[0] == f"{words} · rectal-io"
        body = build_payload(alert, "msg_7", NOW)
        assert body["type"] == f"search.{kind}"
        assert body["data"]["event"] == words and body["data"]["search"] == "rectal-io"
        assert body["data"]["card"]["nct_id"] == "NCT09000102"
        assert "Phase: Phase 3" in body["data"]["summary"]


def test_slack_search_alerts_fit_block_kit_escape_and_offer_the_right_buttons() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    record["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE
    alert = event_alert(record)
    text, blocks = alert_message(alert, actions=True)
    assert block_errors(blocks) == []
    assert "<!channel>" not in text + json.dumps(blocks)
    fields = next(b["fields"] for b in blocks if "fields" in b)
    assert len(fields) == 9 and fields[0]["text"].startswith("*Lead sponsor:*")
    buttons = blocks[-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["View record", "Watch trial", "Mute 7 days"]
    assert buttons[1]["value"] == "NCT09000102"
    left = event_alert(record, "left")
    _, left_blocks = alert_message(left, actions=True)
    names = [b["text"]["text"] for b in left_blocks[-1]["elements"]]
    assert names == ["View history", "Mute 7 days"]  # a trial that left: nothing to watch


def test_a_departure_with_a_huge_explanation_still_fits_everywhere() -> None:
    old = load_fixture("records", "NCT02513394.json")
    new = copy.deepcopy(old)
    for i in range(400):
        new["protocolSection"]["descriptionModule"][f"note{i:03d}"] = f"{i} " + "word " * 300
    changes = tuple(diff_records(old, new))
    event = SearchEvent("left", "big", TrialCard.of(new))
    alert = read_back(event, changes)
    assert len(alert.changes) > 300
    _, blocks = alert_message(alert, actions=True)
    assert block_errors(blocks) == [] and len(blocks) <= MAX_BLOCKS
    card = alert_card(alert)
    assert len(encode(card)) <= MAX_BYTES and card_errors(card) == []
    digest = digest_card([alert, event_alert(old)])
    assert card_errors(digest) == [] and len(encode(digest)) <= MAX_BYTES


def read_back(event: SearchEvent, changes: tuple[FieldChange, ...]) -> Alert:
    payload = json.loads(json.dumps(event_payload(event, changes)))
    claim = OutboxClaim(8, None, event.card.nct_id, Destination.console(), None, 0, QUEUED.at,
                        event.outbox_kind, payload)  # fmt: skip
    return _alert(claim, ())


def test_email_headers_stay_one_line_and_html_is_escaped() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    record["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE
    alert = event_alert(record)
    message = build_message(alert, "ctwatch@example.org", ["team@example.org"], NOW)
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert "Bcc" not in parsed and "\n" not in str(parsed["Subject"])
    html_part = parsed.get_body(("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;" in html
    assert "<https://evil" not in html
    text_part = parsed.get_body(("plain",))
    assert text_part is not None and text_part.get_content().startswith("New trial · search")


def test_teams_search_cards_hold_no_markup_and_only_registry_links() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    record["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE
    for kind in ("new", "left"):
        card = alert_card(event_alert(record, kind))
        assert card_errors(card) == []
        assert "TextBlock" not in {o.get("type") for o in walk(card)}
        assert urls(card) <= {
            "https://clinicaltrials.gov/study/NCT09000102",
            "https://clinicaltrials.gov/study/NCT09000102?tab=history",
        }
        assert "{{" not in " ".join(texts(card))


def test_a_digest_mixes_changes_and_search_news() -> None:
    record = load_fixture("synthetic", "NCT09000102.json")
    change = Alert("NCT06850103", "Seed", (FieldChange("x", "X", "changed", "a", "b"),))
    alerts = [event_alert(record), change, event_alert(record, "left")]
    text, blocks = digest_message(alerts)
    assert block_errors(blocks) == []
    assert "NCT09000102 — " in text and "(New trial · search “rectal-io”)" in text
    assert blocks[0]["text"]["text"] == "ctwatch: 3 alerts (2 search alerts)"  # as on Teams
    assert "_New trial · search “rectal-io”_" in blocks[1]["text"]["text"]


@pytest.mark.parametrize(
    "payload", [{}, {"event": "gone", "card": {}}, {"event": "new", "card": "x"}]
)
def test_a_payload_that_is_not_a_search_event_is_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="not a search event payload"):
        read_payload(payload)
