"""Slack and Teams digests at scale (1,000 changes, the issue's size)."""

from __future__ import annotations

from dataclasses import replace

from tests.support.alert_cases import CASES
from watcher.alerts.teams_card import MAX_BYTES, digest_card, encode
from watcher.core.digest import Digest, by_trial
from watcher.core.render import Alert
from watcher.slack.blocks import MAX_BLOCKS, MAX_SECTION, digest_message

SITE = "https://ctwatch.example.org"


def many(count: int, site: str | None = None) -> tuple[Alert, ...]:
    base = [case() for case in CASES.values()]
    return tuple(
        replace(
            base[i % len(base)],
            nct_id=f"NCT{10_000_000 + i:08d}",
            site=site,
            change_set=100_000 + i,
        )
        for i in range(count)
    )


def test_slack_folded_link_survives_a_big_digest() -> None:
    alerts = many(1000, SITE)
    digest = Digest(by_trial(alerts), reason="digest", members=alerts)
    _, blocks = digest_message(digest.alerts, digest=digest)
    assert len(blocks) <= MAX_BLOCKS
    folded = [b for b in blocks if b["type"] == "section"][-1]["text"]["text"]
    assert len(folded) <= MAX_SECTION
    # a Slack link is <url|text>: an opened '<' must be closed, or the link is broken
    assert folded.count("<") == folded.count(">"), "a link cut in half by truncation"
    assert "see them all>" in folded


def test_teams_digest_card_of_1000_changes_fits() -> None:
    alerts = many(1000, SITE)
    digest = Digest(by_trial(alerts), reason="digest", members=alerts, already_sent=alerts[:50])
    card = digest_card(digest.alerts, digest=digest)
    size = len(encode(card))
    assert size <= MAX_BYTES
