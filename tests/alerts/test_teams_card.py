"""What Teams and webhook receivers get: Adaptive Cards and event bodies, pure.

Golden files fix the card and the webhook body for real-shaped change sets
(regenerate with CTWATCH_UPDATE_GOLDEN=1 and review the diff); the other
tests prove the rules that hold whatever the record says: no record text
becomes markup or a link, and no card is over the size budget.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.conftest import load_fixture
from tests.support.alert_cases import CASES, NOW, alert_between, golden
from tests.support.teams_double import card_errors
from watcher.alerts.teams_card import (
    MAX_BYTES,
    alert_card,
    digest_card,
    encode,
    shortened_card,
)
from watcher.alerts.webhook_payload import EVENT_TYPES, build_payload, message_id
from watcher.alerts.webhook_payload import encode as encode_event
from watcher.core.render import Alert, Notice, Queued, change_lines
from watcher.testing.samples import changed, make_study, seed_study

QUEUED = Queued(42, "2026-11-25T14:30:00Z")
HOSTILE = (
    "[Click here](https://evil.example/phish) **urgent** _now_ <at>everyone</at> "
    "{{DATE(2017-02-14T06:08:00Z, SHORT)}} ${secret} \u202eevil\x07"
)


def card_of(payload: dict[str, Any]) -> dict[str, Any]:
    content: dict[str, Any] = payload["attachments"][0]["content"]
    return content


def walk(value: Any) -> Iterator[dict[str, Any]]:
    """Every object in a card, depth first."""
    if isinstance(value, dict):
        yield value
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def urls(payload: dict[str, Any]) -> set[str]:
    return {str(o["url"]) for o in walk(payload) if "url" in o}


def texts(payload: dict[str, Any]) -> list[str]:
    return [str(o["text"]) for o in walk(payload) if o.get("type") == "TextRun"]


@pytest.mark.parametrize("name", sorted(CASES))
def test_teams_card_golden(name: str) -> None:
    payload = alert_card(CASES[name]())
    assert card_errors(payload) == []
    card = card_of(payload)
    assert card["version"] == "1.4" and card["msteams"] == {"width": "full"}
    golden(f"teams_{name}.json", json.dumps(payload, indent=2, ensure_ascii=False) + "\n")


@pytest.mark.parametrize("name", sorted(CASES))
def test_webhook_body_golden(name: str) -> None:
    alert = dataclasses.replace(CASES[name](), queued=QUEUED)
    msg_id = message_id(alert)
    assert msg_id == "msg_42_20261125T143000Z"
    body = build_payload(alert, msg_id, NOW)
    assert body["type"] in EVENT_TYPES and body["version"] == 1
    assert json.loads(encode_event(body)) == body  # what is sent is plain JSON
    golden(f"webhook_{name}.json", json.dumps(body, indent=2, ensure_ascii=False) + "\n")


def test_status_change_card_reads_like_the_other_destinations() -> None:
    payload = alert_card(CASES["status_change"]())
    card = card_of(payload)
    runs = texts(payload)
    assert runs[0] == "NCT06850103 · Overall Status: Recruiting → Active, not recruiting"
    assert runs[1].startswith("SCRT-CAPEOX-Serplulimab")
    assert runs[2] == "[MEDIUM] Overall status changed from Recruiting to Active, not recruiting."
    assert runs[3:7] == ["Overall Status: ", "Recruiting", " → ", "Active, not recruiting"]
    assert runs[-1] == "Last update posted 2026-01-15"
    title = card["body"][1]["inlines"][0]
    assert title["selectAction"]["url"] == "https://clinicaltrials.gov/study/NCT06850103"
    assert [(a["title"], a["url"]) for a in card["actions"]] == [
        ("View history", "https://clinicaltrials.gov/study/NCT06850103?tab=history"),
        ("Open record", "https://clinicaltrials.gov/study/NCT06850103"),
    ]


def hostile_alert() -> Alert:
    old = make_study("NCT05180006", HOSTILE)
    new = changed(old, status="TERMINATED", why_stopped=HOSTILE + " [x](javascript:alert(1))")
    new["protocolSection"]["identificationModule"]["briefTitle"] = HOSTILE
    return alert_between(old, new)


def test_record_text_cannot_inject_markup_or_links() -> None:
    alert = hostile_alert()
    payloads = [alert_card(alert), digest_card([alert, alert]), shortened_card(alert)]
    for payload in payloads:
        assert card_errors(payload) == []
        kinds = {o.get("type") for o in walk(payload)}
        assert "TextBlock" not in kinds and "FactSet" not in kinds  # markdown-free elements only
        assert urls(payload) <= {
            "https://clinicaltrials.gov/study/NCT05180006",
            "https://clinicaltrials.gov/study/NCT05180006?tab=history",
        }
        runs = " ".join(texts(payload))
        assert "[Click here](https://evil.example/phish)" in runs  # shown as the text it is
        assert "{{" not in runs and "{\u200b{DATE(" in runs  # no template function
        assert "\x07" not in runs


def test_a_huge_change_set_is_summarised_under_the_budget() -> None:
    old = seed_study()
    new = copy.deepcopy(old)
    for i in range(500):
        new["protocolSection"]["descriptionModule"][f"note{i:03d}"] = f"{i} " + "word " * 700
    alert = alert_between(old, new)
    payload = alert_card(alert)
    assert len(encode(payload)) <= MAX_BYTES
    assert card_errors(payload) == []
    runs = texts(payload)
    more = next(t for t in runs if t.startswith("…and "))
    shown = sum(1 for o in walk(payload) if o.get("spacing") == "Small")  # one per change row
    assert 10 < shown < 500
    assert more == f"…and {len(change_lines(alert.changes)) - shown} more changes; see the history"
    assert runs[-1].startswith("Last update posted")


def test_a_real_record_rewritten_everywhere_still_fits() -> None:
    old = load_fixture("records", "NCT02513394.json")
    new = copy.deepcopy(old)

    def reword(value: Any) -> Any:
        if isinstance(value, str) and len(value) > 40:
            return value + " (revised by the sponsor)"
        if isinstance(value, dict):
            return {k: reword(v) for k, v in value.items()}
        if isinstance(value, list):
            return [reword(v) for v in value]
        return value

    new["protocolSection"] = reword(new["protocolSection"])
    alert = alert_between(old, new)
    assert len(alert.changes) > 100
    payload = alert_card(alert)
    assert len(encode(payload)) <= MAX_BYTES
    assert card_errors(payload) == []


def test_digest_of_many_trials_fits_and_names_the_rest() -> None:
    alerts = []
    for i in range(300):
        old = make_study(f"NCT0{i:07d}", f"Trial {i} " + "long title " * 30)
        alerts.append(alert_between(old, changed(old, status="COMPLETED", verified="2026-01")))
    payload = digest_card(alerts)
    assert len(encode(payload)) <= MAX_BYTES
    assert card_errors(payload) == []
    runs = texts(payload)
    assert runs[0] == "ctwatch: 300 trials changed"
    rest = next(t for t in runs if t.startswith("…and "))
    assert "NCT00000299" in rest or rest.endswith("…")


def test_shortened_card_is_small_and_keeps_the_links() -> None:
    old = seed_study()
    new = copy.deepcopy(old)
    for i in range(50):
        new["protocolSection"]["descriptionModule"][f"note{i:03d}"] = "word " * 700
    payload = shortened_card(alert_between(old, new))
    assert len(encode(payload)) < 2048
    assert "50 changes: too long to show here; see the history." in texts(payload)
    assert "https://clinicaltrials.gov/study/NCT06850103?tab=history" in urls(payload)


def test_notice_and_test_cards() -> None:
    gone = Notice("NCT06850103 is no longer in the registry", "It may have been withdrawn.")
    payload = alert_card(Alert("NCT06850103", "", (), notice=gone))
    assert card_errors(payload) == []
    assert texts(payload) == ["ctwatch · NCT06850103 is no longer in the registry",
                              "It may have been withdrawn."]  # fmt: skip
    failing = alert_card(Alert("", "", (), notice=Notice("checks are failing", "HTTP 503")))
    assert "actions" not in card_of(failing)  # no trial, no link to one
    test = alert_card(Alert("NCT06850103", "test alert for watch “x”", (), test=True))
    assert texts(test)[0] == "ctwatch test alert"
    assert texts(test)[1].startswith("[TEST] ctwatch test alert for watch “x”: delivery works")


def test_notice_and_test_events() -> None:
    now = datetime(2026, 11, 25, 14, 30, 5, tzinfo=UTC)
    notice = Alert("", "", (), notice=Notice("checks are failing", "why"), queued=QUEUED)
    body = build_payload(notice, "msg_1", now)
    assert body == {
        "version": 1,
        "type": "ctwatch.notice",
        "id": "msg_1",
        "timestamp": "2026-11-25T14:30:00Z",  # when it was queued, not when sent
        "data": {"nct_id": None, "headline": "checks are failing", "body": "why", "links": None},
    }
    test = build_payload(Alert("NCT06850103", "t", (), test=True), "msg_test_1", now)
    assert test["type"] == "test" and test["timestamp"] == "2026-11-25T14:30:05Z"
    assert message_id(Alert("NCT06850103", "t", (), test=True)) is None


def test_a_digest_with_a_notice_names_it_without_a_broken_link() -> None:
    failing = Alert("", "", (), notice=Notice("checks are failing", "HTTP 503"))
    payload = digest_card([CASES["status_change"](), failing])
    assert card_errors(payload) == []
    assert texts(payload)[0] == "ctwatch: 2 alerts (1 notice)"
    assert "ctwatch · checks are failing" in texts(payload)
    assert urls(payload) == {"https://clinicaltrials.gov/study/NCT06850103?tab=history"}
