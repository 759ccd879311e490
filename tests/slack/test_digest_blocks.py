"""A scheduled digest in Slack and Teams stays within their limits, folding the rest."""

from __future__ import annotations

from dataclasses import replace

import pytest

from tests.support.alert_cases import CASES
from watcher.alerts.teams_card import MAX_BYTES, digest_card, encode
from watcher.core.digest import Digest, by_trial
from watcher.core.render import Alert
from watcher.slack.blocks import MAX_BLOCKS, MAX_SECTION, digest_message

SITE = "https://ctwatch.example.org"


def many(count: int, site: str | None = None) -> tuple[Alert, ...]:
    base = [case() for case in CASES.values()]
    return tuple(
        replace(base[i % len(base)], nct_id=f"NCT{10_000_000 + i:08d}", site=site, change_set=i + 1)
        for i in range(count)
    )


@pytest.mark.parametrize("site", [None, SITE])
def test_slack_folds_what_does_not_fit_into_a_count(site: str | None) -> None:
    alerts = many(80, site)
    digest = Digest(alerts, reason="digest", already_sent=alerts[:1], members=alerts)
    text, blocks = digest_message(alerts, digest=digest)
    assert len(blocks) <= MAX_BLOCKS
    sections = [b for b in blocks if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in sections)
    folded = sections[-1]["text"]["text"]
    shown = len(sections) - 1
    assert f"…and {80 - shown} more" in folded
    assert "NCT10000079" in folded  # the rest are named
    if site is not None:  # and linked to exactly their changes in the web UI
        rest = ",".join(str(i + 1) for i in range(shown, 80))
        assert f"<{SITE}/changes?set={rest}|see them all>" in folded
    assert (
        blocks[0]["text"]["text"]
        == "ctwatch digest: 80 trials changed · 27 high · 27 medium · 1 already sent"
    )
    assert text.startswith(
        "ctwatch digest: 80 trials changed · 27 high · 27 medium · 1 already sent"
    )


def test_a_folded_trial_that_changed_twice_links_both_of_its_changes() -> None:
    first = many(60, SITE)
    again = tuple(replace(a, change_set=1000 + i) for i, a in enumerate(first))
    members = first + again
    digest = Digest(by_trial(members), reason="digest", members=members)
    _, blocks = digest_message(digest.alerts, digest=digest)
    folded = [b for b in blocks if b["type"] == "section"][-1]["text"]["text"]
    assert ",1059," in folded or folded.endswith(",1059|see them all>)") or "1059" in folded
    assert "60" in folded and "1059" in folded  # both change sets of the last trial


def test_teams_digest_card_stays_under_its_size_limit() -> None:
    alerts = many(150, SITE)
    digest = Digest(alerts, reason="digest", members=alerts)
    card = digest_card(alerts, digest=digest)
    assert len(encode(card)) <= MAX_BYTES
    body = str(card)
    assert "ctwatch digest: 150 trials changed" in body
    assert f"{SITE}/changes?set=" in body


def test_sections_by_watch_head_their_trials_in_slack_and_teams() -> None:
    alerts = many(4, SITE)
    groups = {a.nct_id: ("watch “a”" if i % 2 else "watch “b”") for i, a in enumerate(alerts)}
    digest = Digest(alerts, reason="digest", members=alerts, groups=groups)
    _, blocks = digest_message(alerts, digest=digest)
    texts = [
        b["elements"][0]["text"] if b["type"] == "context" else b.get("text", {}).get("text", "")
        for b in blocks
    ]
    assert texts.count("*watch “a”*") == 1 and texts.count("*watch “b”*") == 1
    card = str(digest_card(alerts, digest=digest))
    assert "watch “a”" in card and "watch “b”" in card
