"""`check -q/--json` for cron and scripts; `ctwatch outbox` to re-send or drop alerts."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import run_cli, write_config
from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, baseline_then_change, check, outbox, slack_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


def test_quiet_is_silent_on_a_quiet_day_and_speaks_when_there_is_news(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    first = run_cli(config, "check", "-q")  # a baseline produces no alert
    assert (first.exit_code, first.stdout, first.stderr) == (0, "", "")
    quiet = run_cli(config, "check", "--quiet")
    assert (quiet.exit_code, quiet.stdout, quiet.stderr) == (0, "", "")
    registry.put(changed(seed_study(), status="SUSPENDED"))
    news = run_cli(config, "check", "-q")
    assert "Overall Status: Recruiting → Suspended" in news.stdout
    assert news.stdout.endswith("alerts sent 1\n")
    registry.fail_next(404, "gone", times=3)
    broken = run_cli(config, "check", "-q")
    assert broken.exit_code == 1 and "could not be read" in broken.stderr


def test_json_is_the_only_output(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT, "NCT99999999"])
    run_cli(config, "check")
    registry.put(changed(seed_study(), status="TERMINATED", why_stopped="Sponsor decision"))
    result = run_cli(config, "check", "--json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)  # console alerts are in it, not printed around it
    assert data["counts"]["changed"] == 1 and data["counts"]["alerts_sent"] == 1
    assert data["not_found"] == ["NCT99999999"]
    (alert,) = data["alerts"]
    assert alert["nct_id"] == SEED_NCT and alert["destination"] == "console"
    assert alert["status"] == "sent"
    assert alert["headline"] == "Overall Status: Recruiting → Terminated"
    assert "Why Stopped: (none) → Sponsor decision" in alert["changes"]
    again = json.loads(run_cli(config, "check", "--json").stdout)
    assert again["alerts"] == [] and again["ok"] is True


def test_a_failed_alert_can_be_sent_again(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(error="not_in_channel")  # the bot was not invited yet
    assert "alerts failed 1" in check(config)
    listing = run_cli(config, "outbox", env=ENV)
    assert listing.exit_code == 0
    assert listing.stdout.startswith(
        f"failed   {SEED_NCT} → Slack #trial-alerts (1 attempt, queued "
    )
    assert "Slack #trial-alerts: not_in_channel — invite the bot" in listing.stdout
    assert "alerts sent 0" in check(config)  # failed rows are not retried by themselves
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:  # as if it failed a week ago
        conn.execute("UPDATE outbox SET created_at = '2020-01-01T00:00:00Z'")
    plain = run_cli(config, "outbox", "retry", env=ENV)
    assert plain.stdout.startswith("0 alerts")  # without --failed: pending ones only
    unknown = run_cli(config, "outbox", "retry", "--failed", "--destination", "#x", env=ENV)
    assert unknown.exit_code == 2 and "have: Slack #trial-alerts" in unknown.stderr
    retried = run_cli(
        config, "outbox", "retry", "--failed", "--destination", "trial-alerts", env=ENV
    )
    assert retried.exit_code == 0 and retried.stdout.startswith("1 alert queued")
    assert outbox(tmp_path)[-1][:3] == ("slack:#trial-alerts", "pending", 0)
    assert "alerts sent 1" in check(config)  # a fresh age: not given up at once
    assert slack.messages[-1].channel == "#trial-alerts"
    assert run_cli(config, "outbox", env=ENV).stdout == "no pending or failed alerts\n"


def test_discard_asks_first(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(error="channel_not_found")
    check(config)
    no = run_cli(config, "outbox", "discard", env=ENV)  # no answer on standard input
    assert no.exit_code == 2 and "nothing discarded" in no.stderr
    assert len(outbox(tmp_path)) == 1
    yes = run_cli(config, "outbox", "discard", "--yes", env=ENV)
    assert yes.exit_code == 0 and yes.stdout.endswith("1 alert discarded\n")
    assert outbox(tmp_path) == []
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM changes").fetchone()[0] > 0  # history stays


def test_outbox_changes_wait_for_a_running_sender(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    slack.fail_next(error="not_in_channel")
    check(config)
    # the lock is per process: another process (a sender, say) holds it
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, str(tmp_path / "ctwatch.db.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        busy = run_cli(config, "outbox", "retry", "--failed", "--wait", "0", env=ENV)
        refused = run_cli(config, "outbox", "discard", "--yes", "--wait", "0", env=ENV)
    finally:
        holder.kill()
        holder.wait()
    assert refused.exit_code == 3
    assert busy.exit_code == 3 and "another ctwatch" in busy.stderr
    assert outbox(tmp_path)[0][1] == "failed"  # nothing changed


HOLD_LOCK = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""
