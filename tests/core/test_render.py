"""Golden tests of what people read: Slack payloads and email parts for real-shaped change sets.

Regenerate after an intended change with CTWATCH_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import copy
import json

import pytest

from tests.support.alert_cases import CASES, NOW, alert_between, golden
from tests.support.slack_double import block_errors
from watcher.alerts.email_message import build_message, header_safe
from watcher.core.render import Alert, Notice
from watcher.slack.blocks import alert_message, digest_message
from watcher.testing.samples import changed, make_study, seed_study


@pytest.mark.parametrize("name", sorted(CASES))
def test_slack_payload_golden(name: str) -> None:
    text, blocks = alert_message(CASES[name]())
    assert block_errors(blocks) == []
    golden(
        f"slack_{name}.json",
        json.dumps({"text": text, "blocks": blocks}, indent=2, ensure_ascii=False) + "\n",
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_email_parts_golden(name: str) -> None:
    message = build_message(
        CASES[name](), "ctwatch <alerts@example.org>", ["team@example.org"], NOW
    )
    headers = "".join(f"{k}: {message[k]}\n" for k in ("Subject", "From", "To", "Date"))
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    golden(
        f"email_{name}.txt",
        headers + "\n" + text.get_content() + "\n---- html ----\n" + html.get_content(),
    )


def test_digest_of_many_trials_fits_and_names_the_rest() -> None:
    alerts = []
    for i in range(80):
        old = make_study(f"NCT0{i:07d}", f"Trial {i} " + "long title " * 30)
        alerts.append(
            alert_between(
                old, changed(old, status="COMPLETED", last_update="2026-02-01", verified="2026-01")
            )
        )
    text, blocks = digest_message(alerts)
    assert block_errors(blocks) == []
    assert len(blocks) == 50
    assert "…and 33 more: NCT00000047, NCT00000048" in blocks[-2]["text"]["text"]
    assert all(a.nct_id in text for a in alerts)


def test_a_slack_digest_with_a_notice_shows_it_and_counts_it_apart() -> None:
    old = seed_study()
    change = alert_between(old, changed(old, status="SUSPENDED"))
    failing = Alert("", "", (), notice=Notice("checks are failing", "HTTP 503 <b>three</b> times"))
    text, blocks = digest_message([change, failing])
    assert block_errors(blocks) == []
    assert blocks[0]["text"]["text"] == "ctwatch: 2 alerts (1 notice)"
    assert blocks[2]["text"]["text"] == (
        "*ctwatch · checks are failing*\nHTTP 503 &lt;b&gt;three&lt;/b&gt; times"
    )
    assert text.endswith("→ Suspended); checks are failing") and " — ()" not in text


def test_many_long_changes_overflow_into_a_link() -> None:
    old = seed_study()
    new = copy.deepcopy(old)
    for i in range(500):
        new["protocolSection"]["descriptionModule"][f"note{i:03d}"] = f"{i} " + "word " * 700
    text, blocks = alert_message(alert_between(old, new))
    assert block_errors(blocks) == []
    assert len(blocks) == 50 and len(text) <= 40_000
    assert blocks[-2]["text"]["text"].startswith("…and ")
    assert blocks[-2]["text"]["text"].endswith(
        "See <https://clinicaltrials.gov/study/NCT06850103?tab=history|View history>."
    )


def test_header_safe_strips_every_control_character() -> None:
    assert header_safe("a\r\nBcc: x@y\u2028z\x00") == "a Bcc: x@y z"
    assert len(header_safe("x" * 500)) == 180
