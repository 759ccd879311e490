"""Signed HTTP-mode clicks on alerts posted to the Slack double (shared by tests/slack)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx

from tests.conftest import run_cli, write_config
from tests.support.slack_double import TEAM_ID, PostedMessage, SlackDouble
from watcher.app import build_services
from watcher.config import load_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ENV = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET}
OUR_TEAM = TEAM_ID


def buttons_config(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> Path:
    extra = f"""
[slack]
token = "${{SLACK_BOT_TOKEN}}"
api_url = "{slack.url}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
retries = 0
timeout = "5s"

[slack.commands]
listen = "127.0.0.1:0"
"""
    return write_config(
        tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='slack = ["#trial-alerts"]'
    )


@contextmanager
def web(config: Path) -> Iterator[str]:
    loaded = load_config(config, ENV)
    services = build_services(lambda: loaded).start()
    try:
        assert services.web is not None
        yield services.web.origin
    finally:
        services.stop()


def signed(url: str, body: bytes) -> httpx.Response:
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def click(
    slack: SlackDouble, message: PostedMessage, action: str, *, team: str = OUR_TEAM,
    channel_id: str | None = None, channel_name: str = "trial-alerts",
) -> bytes:  # fmt: skip
    """Slack's form for a click: ``payload`` = the ``block_actions`` JSON."""
    where = channel_id or message.channel_id
    payload = {
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": "U0ALICE", "username": "alice"},
        "container": {"type": "message", "message_ts": message.ts, "channel_id": where},
        "channel": {"id": where, "name": channel_name},
        "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
        "response_url": slack.response_url("click"),
        "actions": [{"action_id": action, "block_id": "ctwatch_actions", "type": "button",
                     "value": SEED_NCT}],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def alerted(config: Path, registry: RegistryDouble, slack: SlackDouble) -> PostedMessage:
    """A baseline, then a status change alerted in #trial-alerts (with buttons)."""
    registry.put(seed_study())
    check(config)
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    assert "alerts sent 1" in check(config)
    return slack.messages[-1]
