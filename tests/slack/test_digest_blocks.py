"""A scheduled digest in Slack and Teams stays within their limits, folding the rest."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.alert_cases import CASES
from watcher.alerts.teams_card import MAX_BYTES, digest_card, encode
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.slack.blocks import MAX_BLOCKS, MAX_SECTION, digest_message

CHANGES_URL = "https://ctwatch.example.org/changes?digest=42"


def many(count: int) -> tuple[Alert, ...]:
    base = [case() for case in CASES.values()]
    return tuple(
        replace(base[i % len(base)], nct_id=f"NCT{10_000_000 + i:08d}") for i in range(count)
    )


@pytest.mark.parametrize("more_url", [None, CHANGES_URL])
def test_slack_folds_what_does_not_fit_into_a_count(more_url: str | None) -> None:
    alerts = many(80)
    digest = Digest(alerts, reason="digest", already_sent=alerts[:1], more_url=more_url)
    text, blocks = digest_message(alerts, digest=digest)
    assert len(blocks) <= MAX_BLOCKS
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in sections)
    folded = sections[-1]["text"]["text"]
    shown = len(sections) - 1
    assert f"…and {80 - shown} more" in folded
    if more_url is None:
        assert "NCT10000079" in folded  # no page to link: the rest are named
    else:
        assert f"<{CHANGES_URL}|…and {80 - shown} more>" in folded
    assert blocks[0]["text"]["text"] == "ctwatch digest: 80 trials changed · 1 already sent"
    assert text.startswith("ctwatch digest: 80 trials changed · 1 already sent")


def test_teams_digest_card_stays_under_its_size_limit() -> None:
    alerts = many(300)
    digest = Digest(alerts, reason="digest", more_url=CHANGES_URL)
    card = digest_card(alerts, digest=digest)
    assert len(encode(card)) <= MAX_BYTES
    body = str(card)
    assert "ctwatch digest: 300 trials changed" in body
    assert "All changes" in body and CHANGES_URL in body
