"""Alerts link to the registry's comparison of exactly the two versions, when both are known."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.histories import next_version, publish, seed_history
from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, check, slack_config
from watcher.alerts.email_message import build_message
from watcher.core.diff import FieldChange
from watcher.core.render import Alert, console_text
from watcher.slack.blocks import alert_message, digest_message
from watcher.testing.registry_double import RegistryDouble

NCT = "NCT06850103"
COMPARE = f"https://clinicaltrials.gov/study/{NCT}?tab=history&a=4&b=5#version-content-panel"
HISTORY = f"https://clinicaltrials.gov/study/{NCT}?tab=history"
CHANGE = FieldChange(
    "protocolSection.statusModule.overallStatus", "Overall Status", "changed", "RECRUITING",
    "SUSPENDED",
)  # fmt: skip


def alert(compare: tuple[int, int] | None) -> Alert:
    return Alert(NCT, "SCRT-CAPEOX", (CHANGE,), "2026-01-15", compare=compare)


def test_every_renderer_links_to_the_comparison() -> None:
    exact = alert((4, 5))
    assert exact.history_url == COMPARE and exact.history_label == "Compare versions 4 → 5"
    assert f"  {COMPARE}\n" in console_text(exact)
    _, blocks = alert_message(exact)
    context = blocks[-1]["elements"][0]["text"]
    assert context.endswith(f"<{COMPARE.replace('&', '&amp;')}|Compare versions 4 → 5>")
    _, digest = digest_message([exact, alert(None)])
    assert COMPARE.replace("&", "&amp;") in digest[1]["text"]["text"]
    message = build_message(exact, "ctwatch <c@example.org>", ["a@example.org"],
                            datetime(2026, 1, 15, tzinfo=UTC))  # fmt: skip
    html_part = message.get_body(("html",))
    text_part = message.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = html_part.get_content()
    assert COMPARE.replace("&", "&amp;") in html
    assert "Compare versions 4 → 5 on ClinicalTrials.gov" in html
    assert COMPARE in text_part.get_content()


@pytest.mark.parametrize("compare", [None, (5, 5), (5, 4), (0, 1)])
def test_without_two_known_ordered_numbers_the_history_tab(compare: tuple[int, int] | None) -> None:
    plain = alert(compare)
    assert plain.history_url == HISTORY and plain.history_label == "View history"
    _, blocks = alert_message(plain)
    assert blocks[-1]["elements"][0]["text"].endswith(f"<{HISTORY}|View history>")


def test_slack_alert_after_a_backfill_links_to_the_exact_versions(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(NCT, sample.versions)
    config = slack_config(tmp_path, registry, slack, [NCT])
    check(config)
    assert run_cli(config, "backfill", NCT, env=ENV).exit_code == 0
    publish(registry, next_version(sample.current, "2026-01-14", status="SUSPENDED"))
    assert "alerts sent 1" in check(config)
    (message,) = slack.messages
    context = message.blocks[-1]["elements"][0]["text"]
    assert context == (
        f"Last update posted 2026-01-15 · <{COMPARE.replace('&', '&amp;')}|Compare versions 4 → 5>"
    )
