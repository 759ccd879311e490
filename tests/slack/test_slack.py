"""Slack delivery end to end: `ctwatch check` -> outbox -> slack-sdk -> Slack double over HTTP."""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.slack_double import SlackDouble, block_errors
from tests.support.slack_setup import ENV, TOKEN, baseline_then_change, check, outbox, slack_config
from tests.support.trickle import TrickleServer
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

OTHER = "NCT01234567"


def test_change_posts_block_kit_with_text_fallback(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="ACTIVE_NOT_RECRUITING", last_update="2026-01-15")
    assert slack.messages == []  # the baseline was silent
    out = check(config)
    assert "alerts sent 1" in out
    (message,) = slack.messages
    assert message.channel == "#trial-alerts" and message.token == TOKEN
    assert message.text == (
        "NCT06850103 — SCRT-CAPEOX-Serplulimab for MSS/pMMR Rectal Cancer With Oligometastases: "
        "[MEDIUM] Overall status changed from Recruiting to Active, not recruiting; "
        "Overall Status: Recruiting → Active, not recruiting; Last Update Posted: 2025-12-01 → 2026-01-15"
    )
    header = message.blocks[0]
    assert header == {
        "type": "header",
        "text": {
            "type": "plain_text",
            "text": "NCT06850103 · Overall Status: Recruiting → Active, not recruiting",
        },
    }
    assert (
        "<https://clinicaltrials.gov/study/NCT06850103|SCRT-CAPEOX"
        in message.blocks[1]["text"]["text"]
    )
    assert message.blocks[2]["text"]["text"] == (  # the events lead, the field diff below
        "*[MEDIUM] Overall status changed from Recruiting to Active, not recruiting.*"
    )
    assert (
        "*Overall Status:* Recruiting → Active, not recruiting" in message.blocks[3]["text"]["text"]
    )
    context = message.blocks[-1]["elements"][0]["text"]
    assert (
        context
        == "Last update posted 2026-01-15 · <https://clinicaltrials.gov/study/NCT06850103?tab=history|View history>"
    )
    assert message.payload["unfurl_links"] is False
    assert "alerts sent 0" in check(config)  # a normal re-run never duplicates
    assert len(slack.messages) == 1


def test_shared_channel_gets_one_message_and_filters_apply(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    more = """
[[watch]]
name = "status-only"
trials = ["NCT06850103"]
slack = ["#trial-alerts", "#oncology"]
fields = ["OverallStatus"]
"""
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], more=more)
    baseline_then_change(config, registry, last_update="2026-01-15")  # not an OverallStatus change
    check(config)
    assert [m.channel for m in slack.messages] == ["#trial-alerts"]  # #oncology filtered out
    registry.put(changed(seed_study(), status="SUSPENDED", last_update="2026-02-01"))
    check(config)
    channels = sorted(m.channel for m in slack.messages[1:])
    assert channels == ["#oncology", "#trial-alerts"]  # one per channel, not one per watch
    oncology = next(m for m in slack.messages[1:] if m.channel == "#oncology")
    assert "Last Update Posted" not in oncology.text  # only the fields that watch asked for
    trial_alerts = next(m for m in slack.messages[1:] if m.channel == "#trial-alerts")
    assert "Last Update Posted" in trial_alerts.text  # the unfiltered watch shares the channel


def test_outage_nothing_sent_then_exactly_one_delivery(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="TERMINATED", why_stopped="Funding withdrawn")
    slack.fail_next(status=503, times=1)
    out = check(config)
    assert "alerts sent 0 · alerts pending 1" in out
    assert "Slack server error (HTTP 503)" in out
    assert slack.messages == []
    status = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    assert status["alerts"]["pending"] == 1 and status["alert_problems"][0]["status"] == "pending"
    out = check(config)  # recovery: the explicit check retries whatever the backoff
    assert "alerts sent 1" in out
    assert len(slack.messages) == 1
    assert "alerts sent 0" in check(config)
    assert len(slack.messages) == 1


def test_rate_limit_long_retry_after_is_left_to_the_outbox(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], retries=2)
    baseline_then_change(config, registry, status="COMPLETED")
    slack.fail_next(status=429, retry_after=120)
    out = check(config)
    assert "alerts pending 1" in out and "Slack rate limit" in out
    assert [c for c in slack.calls if c[0] == "chat.postMessage"] == [
        ("chat.postMessage", 429)
    ]  # not retried in place
    (row,) = outbox(tmp_path)
    assert row[1] == "pending"
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        (due,) = conn.execute("SELECT next_attempt_at FROM outbox").fetchone()
    assert datetime.strptime(due, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC) >= datetime.now(
        UTC
    ) + timedelta(seconds=110)
    assert "alerts sent 1" in check(config)


def test_short_rate_limit_is_retried_in_place(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], retries=2)
    baseline_then_change(config, registry, status="COMPLETED")
    slack.fail_next(status=429, retry_after=0)
    assert "alerts sent 1" in check(config)
    assert [c[1] for c in slack.calls if c[0] == "chat.postMessage"] == [429, 200]


@pytest.mark.parametrize("error", ["channel_not_found", "invalid_auth", "not_in_channel"])
def test_permanent_errors_fail_visibly_and_do_not_block_others(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble, error: str
) -> None:
    more = '\n[[watch]]\nname = "onc"\ntrials = ["NCT06850103"]\nslack = ["#oncology"]\n'
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], more=more)
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(error=error)
    out = check(config)
    assert "alerts sent 1 · alerts failed 1" in out
    assert f"failed for good: Slack #trial-alerts: {error}" in out
    assert len(slack.messages) == 1
    table = run_cli(config, "status", env=ENV).stdout
    assert "FAILED" in table and error in table
    assert "alerts sent 0" in check(config)  # failed rows are not retried
    assert len(slack.messages) == 1


def test_bot_not_in_channel_is_reported_from_the_real_check(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], watch_extra='slack = ["#private"]')
    baseline_then_change(config, registry, status="SUSPENDED")
    assert "Slack #private: not_in_channel" in check(config)


def test_registry_outage_does_not_stop_delivery(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="WITHDRAWN", why_stopped="PI left")
    slack.fail_next(status=500)
    check(config)
    assert slack.messages == []
    registry.fail_next(503, "down", times=10)
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 1  # the registry could not be read...
    assert "alerts sent 1" in result.stdout  # ...but the recorded alert went out
    assert len(slack.messages) == 1


def test_digest_when_many_alerts_for_one_channel(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    trials = [f"NCT0000{i:04d}" for i in range(1, 14)]
    for nct in trials:
        registry.put(make_study(nct, f"Trial number {nct}"))
    config = slack_config(tmp_path, registry, slack, trials, digest_over=10)
    check(config)
    for nct in trials:
        registry.put(
            changed(
                make_study(nct, f"Trial number {nct}"), status="COMPLETED", last_update="2026-02-01"
            )
        )
    out = check(config)
    assert "alerts sent 13" in out
    (digest,) = slack.messages
    assert digest.blocks[0]["text"]["text"] == "ctwatch: 13 trials changed"
    assert block_errors(digest.blocks) == []
    assert all(nct in digest.text for nct in trials)


def test_record_text_cannot_ping_or_forge_links(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    evil_title = "Trial <!channel> & <https://evil.example|click here> <@U123>"
    config = slack_config(tmp_path, registry, slack, [OTHER])
    registry.put(make_study(OTHER, evil_title))
    check(config)
    registry.put(
        changed(make_study(OTHER, evil_title), status="TERMINATED", why_stopped="<!here> stop & go")
    )
    check(config)
    (message,) = slack.messages
    everything = json.dumps(message.blocks) + message.text
    for raw in ("<!channel>", "<!here>", "<https://evil.example", "<@U123>"):
        assert raw not in everything
    assert "&lt;!channel&gt; &amp; &lt;https://evil.example|click here&gt;" in message.text


def test_huge_change_sets_stay_within_block_kit_limits(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    big = make_study(OTHER, "A very large trial " * 20, sites=400)
    config = slack_config(tmp_path, registry, slack, [OTHER])
    registry.put(big)
    check(config)
    edited = copy.deepcopy(big)
    proto = edited["protocolSection"]
    for i, site in enumerate(proto["contactsLocationsModule"]["locations"]):
        site["status"] = "COMPLETED" if i % 2 else "ACTIVE_NOT_RECRUITING"
        if i % 3 == 0:
            site["contacts"] = [{"name": f"Coordinator {i} " + "x" * 200, "role": "CONTACT"}]
    proto["descriptionModule"]["briefSummary"] = "A rewritten summary. " * 600
    proto["statusModule"]["overallStatus"] = "ACTIVE_NOT_RECRUITING"
    registry.put(edited)
    assert "alerts sent 1" in check(config)
    (message,) = slack.messages
    assert block_errors(message.blocks) == []
    assert len(message.blocks) <= 50
    sections = json.dumps(message.blocks, ensure_ascii=False)
    assert "*Locations › Status:* changed in 400 locations: Recruiting → " in sections
    assert (
        "Recruiting → Completed ×200" in sections
        and "Recruiting → Active, not recruiting ×200" in sections
    )
    assert "*Locations › Contacts:* added in 134 locations" in sections
    assert "*Brief Summary:* Background and Significance:" in sections
    assert "→ A rewritten summary. A rewritten" in sections and "…" in sections
    assert len(message.text) <= 40_000


def test_test_alert_reports_each_destination(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    more = '\n[[watch]]\nname = "private"\ntrials = ["NCT06850103"]\nslack = ["#private"]\n'
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], more=more)
    result = run_cli(config, "test-alert", env=ENV)
    assert result.exit_code == 1
    assert "ok      Slack #trial-alerts" in result.stdout
    assert "FAILED  Slack #private: Slack #private: not_in_channel" in result.stdout
    assert slack.messages[0].blocks[0]["text"]["text"] == "ctwatch test alert"
    only = run_cli(config, "test-alert", "--watch", "test", env=ENV)
    assert only.exit_code == 0 and "#private" not in only.stdout


def test_two_watches_spelling_a_channel_differently_get_one_message(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    more = '\n[[watch]]\nname = "other"\ntrials = ["NCT06850103"]\nslack = ["trial-alerts"]\n'
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], more=more)
    baseline_then_change(config, registry, status="SUSPENDED")
    assert "alerts sent 1" in check(config)
    assert len(slack.messages) == 1


def test_an_unreadable_slack_answer_is_retried_and_blocks_nothing(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    more = '\n[[watch]]\nname = "console"\ntrials = ["NCT06850103"]\n'
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], more=more)
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(status=200, error="x", raw_body='{"ok": tr')
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0 and "Traceback" not in result.stderr
    assert "NCT06850103 — SCRT-CAPEOX" in result.stdout  # the console alert still went out
    assert "alerts sent 1 · alerts pending 1" in result.stdout
    assert "Slack answered with an unreadable body" in result.stderr
    assert "alerts sent 1" in check(config)  # and the Slack one on the next run
    assert len(slack.messages) == 1


def test_an_alert_that_cannot_be_rebuilt_is_retried_not_stranded(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(status=503)
    check(config)  # records the version; its alert stays pending
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:  # a change row that no longer decodes
        conn.execute("UPDATE changes SET new = '{broken' WHERE label = 'Overall Status'")
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0 and "Traceback" not in result.stdout
    ((_, status, attempts, error),) = outbox(tmp_path)
    assert (status, attempts) == ("pending", 2) and "JSONDecodeError" in (error or "")
    assert slack.messages == []


def test_a_trickling_slack_is_cut_off_and_retried_later(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    answer = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"ok": true' + b" " * 400
    with TrickleServer(answer, interval=0.05) as slow:
        extra = (
            f'\n[slack]\ntoken = "${{SLACK_BOT_TOKEN}}"\napi_url = "{slow.origin}/api/"\n'
            'retries = 0\ntimeout = "1s"\n'
        )
        config = write_config(
            tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='slack = ["#trial-alerts"]'
        )
        baseline_then_change(config, registry, status="SUSPENDED")
        started = time.monotonic()
        out = check(config)
        elapsed = time.monotonic() - started
    assert "alerts sent 0 · alerts pending 1" in out
    assert "Slack did not answer in full within 1 s" in out
    assert elapsed < 10
