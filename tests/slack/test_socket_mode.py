"""Slack over Socket Mode: slack-sdk's own client against a local Socket Mode double.

No public URL: ``apps.connections.open`` on the Web API double hands out the
double's ``ws://`` URL, envelopes arrive over the WebSocket and are acked by
``envelope_id``; a dropped connection is reopened by itself; ``health``
reports a connection that stays down.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from tests.support.paths import REPO
from tests.support.slack_double import SlackDouble
from tests.support.socket_mode_double import SocketModeDouble
from watcher.app import Services, build_services
from watcher.config import load_config, serving
from watcher.daemon.health import socket_problem
from watcher.slack.blocks import MUTE_ACTION
from watcher.store import Store
from watcher.store.service_state import SOCKET_MODE
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study
from watcher.timeutil import iso, parse_iso, utc_now

TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-1-test-app-token"
ENV = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_APP_TOKEN": APP_TOKEN}


@pytest.fixture
def socket_double(slack_app: SlackDouble) -> Iterator[SocketModeDouble]:
    with SocketModeDouble() as double:
        slack_app.connections_url = double.new_url
        yield double


@pytest.fixture
def slack_app() -> Iterator[SlackDouble]:
    with SlackDouble(channels=("#trial-alerts", "#oncology", "#lab")) as double:
        yield double


def socket_config(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> Path:
    extra = f"""
[slack]
token = "${{SLACK_BOT_TOKEN}}"
app_token = "${{SLACK_APP_TOKEN}}"
api_url = "{slack.url}"
retries = 0
timeout = "5s"
"""
    return write_config(
        tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='slack = ["#trial-alerts"]'
    )


def start(config: Path) -> Services:
    loaded = load_config(config, ENV)
    return build_services(lambda: loaded, socket_check_every=0.05, socket_ping_interval=0.5).start()


def command_form(slack: SlackDouble, text: str, channel: str = "#lab") -> dict[str, str]:
    return {
        "token": "deprecated",
        "team_id": "T0TEST",
        "channel_id": slack.channel_id(channel),
        "channel_name": channel.removeprefix("#"),
        "user_id": "U0ALICE",
        "command": "/ctwatch",
        "text": text,
        "response_url": slack.response_url("cmd"),
        "trigger_id": "1.2.3",
    }


def test_commands_arrive_over_the_socket_and_are_acked_by_envelope(
    tmp_path: Path,
    registry: RegistryDouble,
    slack_app: SlackDouble,
    socket_double: SocketModeDouble,
) -> None:
    registry.put(seed_study())
    services = start(socket_config(tmp_path, registry, slack_app))
    try:
        assert socket_double.wait_for_connections(1)
        assert services.web is None  # no inbound port at all
        helped = socket_double.wait_for_ack(
            socket_double.send("slash_commands", command_form(slack_app, "help"))
        )
        assert helped["payload"]["response_type"] == "ephemeral"
        assert "`/ctwatch watch NCT06850103 [NCT…]`" in helped["payload"]["text"]
        envelope = socket_double.send(
            "slash_commands", command_form(slack_app, f"watch {SEED_NCT}")
        )
        ack = socket_double.wait_for_ack(envelope)
        assert ack["payload"]["text"] == f"Checking {SEED_NCT} in the registry…"
        (reply,) = slack_app.wait_for_responses(1)
        assert "now watched in this channel" in reply["text"]
    finally:
        services.stop()
    # every Slack call, apps.connections.open included, went to [slack] api_url
    assert ("apps.connections.open", 200) in slack_app.calls
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        subs = db.execute("SELECT channel_id, nct_id FROM subscriptions").fetchall()
    assert subs == [(slack_app.channel_id("#lab"), SEED_NCT)]


def test_a_dropped_connection_is_reopened_and_recorded(
    tmp_path: Path,
    registry: RegistryDouble,
    slack_app: SlackDouble,
    socket_double: SocketModeDouble,
) -> None:
    services = start(socket_config(tmp_path, registry, slack_app))
    try:
        assert socket_double.wait_for_connections(1)
        assert services.socket_mode is not None and services.socket_mode.wait_until(True, 10)
        socket_double.drop()
        assert socket_double.wait_for_connections(2)
        socket_double.ask_to_reconnect()
        assert socket_double.wait_for_connections(3)
        ack = socket_double.wait_for_ack(
            socket_double.send("slash_commands", command_form(slack_app, "help"))
        )
        assert "ctwatch" in ack["payload"]["text"]
        assert services.socket_mode.wait_until(True, 10)
    finally:
        services.stop()
    opened = [c for c in slack_app.calls if c[0] == "apps.connections.open"]
    assert len(opened) >= 3 and socket_double.refused == 0  # a fresh URL every time
    store = Store.open(tmp_path / "ctwatch.db")
    state = store.service_state.get(SOCKET_MODE)
    store.close()
    assert state is not None and state.up
    assert socket_problem(state, parse_iso(state.checked_at)) is None


def test_a_connection_that_stays_down_makes_health_fail(
    tmp_path: Path,
    registry: RegistryDouble,
    slack_app: SlackDouble,
    socket_double: SocketModeDouble,
) -> None:
    slack_app.connections_url = None  # apps.connections.open fails: Slack cannot be reached
    registry.put(seed_study())
    config = socket_config(tmp_path, registry, slack_app)
    assert run_cli(config, "check", env=ENV).exit_code == 0
    services = start(config)
    try:
        assert services.socket_mode is not None and services.socket_mode.wait_until(False, 10)
    finally:
        services.stop()
    store = Store.open(tmp_path / "ctwatch.db")
    state = store.service_state.get(SOCKET_MODE)
    assert state is not None and not state.up
    assert state.detail == "apps.connections.open failed: internal_error"
    now = parse_iso(state.since)
    assert socket_problem(state, now + timedelta(seconds=60)) is None  # reconnects take seconds
    later = socket_problem(state, now + timedelta(minutes=3))
    assert later is not None and "down since" in later and "internal_error" in later
    # as `ctwatch health` sees it, in another process, once the outage has lasted
    long_ago = iso(utc_now() - timedelta(minutes=10))
    store.service_state.record(SOCKET_MODE, True, long_ago)
    store.service_state.record(SOCKET_MODE, False, long_ago)  # went down ten minutes ago
    store.service_state.record(SOCKET_MODE, False, iso(utc_now()), f"invalid_auth {APP_TOKEN}")
    store.close()
    result = run_cli(config, "health", env=ENV)
    assert result.exit_code == 1
    assert f"Slack Socket Mode connection has been down since {long_ago}" in result.stderr
    assert APP_TOKEN not in result.stderr  # masked before it was stored


def test_a_button_click_over_the_socket_mutes_the_trial_in_that_channel(
    tmp_path: Path,
    registry: RegistryDouble,
    slack_app: SlackDouble,
    socket_double: SocketModeDouble,
) -> None:
    config = socket_config(tmp_path, registry, slack_app)
    registry.put(seed_study())
    assert run_cli(config, "check", env=ENV).exit_code == 0
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    assert "alerts sent 1" in run_cli(config, "check", env=ENV).stdout
    (alert,) = slack_app.messages
    assert alert.blocks[-1]["block_id"] == "ctwatch_actions"  # clicks can reach us: buttons
    services = start(config)
    try:
        assert socket_double.wait_for_connections(1)
        envelope = socket_double.send("interactive", click_payload(slack_app, alert, MUTE_ACTION))
        assert socket_double.wait_for_ack(envelope)["envelope_id"] == envelope
        assert slack_app.wait_for_calls("chat.update") == 1
    finally:
        services.stop()
    (update,) = slack_app.updates
    assert update.ts == alert.ts and update.channel_id == slack_app.channel_id("#trial-alerts")
    note = update.blocks[-1]["elements"][0]["text"]
    assert note.startswith(f":no_bell: <@U0ALICE> muted *{SEED_NCT}* in this channel until ")
    assert all(b.get("block_id") != "ctwatch_actions" for b in update.blocks)
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-03-01"))
    summary = run_cli(config, "check", env=ENV).stdout
    assert "changed 1" in summary and len(slack_app.messages) == 1  # muted: nothing posted
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        statuses = db.execute("SELECT status FROM outbox ORDER BY id").fetchall()
    assert statuses == [("sent",), ("muted",)]


def click_payload(slack: SlackDouble, message: Any, action: str) -> dict[str, Any]:
    """Slack's ``block_actions`` payload for a click on one of ``message``'s buttons."""
    channel_id = message.channel_id
    return {
        "type": "block_actions",
        "team": {"id": "T0TEST", "domain": "test"},
        "user": {"id": "U0ALICE", "username": "alice", "team_id": "T0TEST"},
        "api_app_id": "A0CTWATCH",
        "container": {"type": "message", "message_ts": message.ts, "channel_id": channel_id},
        "channel": {"id": channel_id, "name": "trial-alerts"},
        "message": {"type": "message", "ts": message.ts, "text": message.text,
                    "blocks": message.blocks},
        "response_url": slack.response_url("click"),
        "actions": [
            {"action_id": action, "block_id": "ctwatch_actions", "type": "button",
             "value": SEED_NCT, "action_ts": "1700000001.000200"}
        ],
    }  # fmt: skip


def test_serve_over_socket_mode_as_a_process_stops_on_sigterm(
    tmp_path: Path,
    registry: RegistryDouble,
    slack_app: SlackDouble,
    socket_double: SocketModeDouble,
) -> None:
    config = socket_config(tmp_path, registry, slack_app)
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "--log-level", "info", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **ENV},
    )
    try:
        assert socket_double.wait_for_connections(1)
        ack = socket_double.wait_for_ack(
            socket_double.send("slash_commands", command_form(slack_app, "list"))
        )
        assert ack["payload"]["text"].startswith("This channel watches no trials yet.")
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    assert "Slack Socket Mode connected" in stderr and "ctwatch serve stopped" in stderr
    assert "Traceback" not in stderr and APP_TOKEN not in stderr and TOKEN not in stderr


def test_the_docs_socket_mode_config_is_socket_mode(tmp_path: Path) -> None:
    page = REPO / "docs" / "setup" / "slack-socket-mode.md"
    section = page.read_text(encoding="utf-8").split("## Set up Socket Mode", 1)[1]
    snippet = section.split("```toml\n", 1)[1].split("```", 1)[0]
    path = tmp_path / "ctwatch.toml"
    path.write_text(snippet + '\n[[watch]]\nname = "t"\ntrials = ["NCT06850103"]\n')
    config = load_config(path, ENV)
    plan = serving(config)
    assert plan.socket_mode and plan.interactive and plan.listen is None and not plan.slack_http
