"""Buttons on alerts, over signed HTTP (Slack's HTTP mode): Unwatch, Mute 7 days, trust."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import run_cli
from tests.slack.test_slash import ENV, OTHER, SECRET, commands_config, form, signature
from tests.support.slack_blockkit import block_errors
from tests.support.slack_double import PostedMessage, SlackDouble
from watcher.app import build_services
from watcher.config import load_config, serving
from watcher.core.diff import FieldChange
from watcher.core.render import Alert
from watcher.slack.blocks import MAX_BLOCKS, MUTE_ACTION, UNWATCH_ACTION, alert_message
from watcher.store import Mute, Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study
from watcher.web.asgi import COMMANDS_PATH, INTERACTIONS_PATH


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble(channels=("#trial-alerts", "#oncology", "#lab")) as double:
        yield double


@contextmanager
def web(config: Path) -> Iterator[str]:
    loaded = load_config(config, ENV)
    services = build_services(lambda: loaded).start()
    try:
        assert services.web is not None
        yield services.web.origin
    finally:
        services.stop()


def signed(url: str, body: bytes, secret: str = SECRET) -> httpx.Response:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(body, ts, secret),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def click(
    slack: SlackDouble,
    message: PostedMessage,
    action: str,
    *,
    channel: str | None = None,
    value: str | None = None,
) -> bytes:
    """Slack's form for a click: ``payload`` = the ``block_actions`` JSON."""
    channel_id = slack.channel_id(channel) if channel else message.channel_id
    name = (channel or "").removeprefix("#") or "trial-alerts"
    payload = {
        "type": "block_actions",
        "team": {"id": "T0TEST"},
        "user": {"id": "U0ALICE", "username": "alice"},
        "container": {"type": "message", "message_ts": message.ts, "channel_id": channel_id},
        "channel": {"id": channel_id, "name": name},
        "message": {"ts": message.ts, "text": message.text, "blocks": message.blocks},
        "response_url": slack.response_url("click"),
        "actions": [
            {"action_id": action, "block_id": "ctwatch_actions", "type": "button",
             "value": value if value is not None else SEED_NCT}
        ],
    }  # fmt: skip
    return urlencode({"payload": json.dumps(payload)}).encode()


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def alerted(config: Path, registry: RegistryDouble, slack: SlackDouble) -> PostedMessage:
    """A baseline, then a status change alerted in Slack (with buttons)."""
    registry.put(seed_study())
    check(config)
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    assert "alerts sent 1" in check(config)
    message = slack.messages[-1]
    assert message.blocks[-1]["block_id"] == "ctwatch_actions"
    return message


def mutes(tmp_path: Path) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        return db.execute("SELECT channel_id, nct_id, user_id FROM mutes").fetchall()


def test_unwatch_button_ends_a_slack_subscription_and_says_so_on_the_alert(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, registry, slack, trials=(OTHER,), watch_extra="")
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    with web(config) as origin:
        signed(origin + COMMANDS_PATH, form(slack, f"watch {SEED_NCT}", channel="#lab"))
        assert "now watched" in slack.wait_for_responses(1)[0]["text"]
        message = alerted(config, registry, slack)
        assert message.channel_id == slack.channel_id("#lab")
        answer = signed(origin + INTERACTIONS_PATH, click(slack, message, UNWATCH_ACTION))
        assert answer.status_code == 200 and answer.text == ""  # acknowledged at once
        assert slack.wait_for_calls("chat.update") == 1
        replies = slack.wait_for_responses(2)
    (update,) = slack.updates
    assert update.ts == message.ts and update.channel_id == message.channel_id
    assert update.blocks[-1]["elements"][0]["text"] == (
        f"<@U0ALICE> unwatched *{SEED_NCT}* in this channel."
    )
    assert (
        replies[1]["text"] == f"• *{SEED_NCT}*: unwatched; this channel gets no more alerts for it"
    )
    assert replies[1]["replace_original"] is False
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-03-01"))
    check(config)
    assert len(slack.messages) == 1  # unwatched: no more alerts there


def test_unwatch_button_on_a_config_watch_names_the_watch_to_edit(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = commands_config(tmp_path, registry, slack)
    message = alerted(config, registry, slack)
    with web(config) as origin:
        assert signed(origin + INTERACTIONS_PATH, click(slack, message, UNWATCH_ACTION)).is_success
        (reply,) = slack.wait_for_responses(1)
    assert "the config file watches it here (watch “test”)" in reply["text"]
    assert slack.updates == []  # nothing changed, so the alert stays as it was


def test_mute_applies_to_the_channel_slack_names_never_to_a_value(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble, caplog: pytest.LogCaptureFixture
) -> None:
    config = commands_config(tmp_path, registry, slack)
    message = alerted(config, registry, slack)  # in #trial-alerts
    with web(config) as origin:
        url = origin + INTERACTIONS_PATH
        assert signed(url, click(slack, message, MUTE_ACTION), secret="forged").status_code == 401
        actions = json.dumps({"type": "block_actions", "actions": 5, "channel": 7})
        for shape in ("{not-json", "null", "[1,2]", '"x"', actions):
            garbage = urlencode({"payload": shape}).encode()
            for path in (INTERACTIONS_PATH, COMMANDS_PATH):
                forged = signed(origin + path, garbage, secret="forged")
                assert forged.status_code == 401  # a stranger's bytes are never parsed
                answer = signed(origin + path, garbage)
                assert (answer.status_code, answer.text) == (400, "malformed request body")
        assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
        crafted = click(slack, message, MUTE_ACTION, value=f"{SEED_NCT} C0TEST0001")
        assert signed(url, crafted).status_code == 200  # acknowledged, then ignored
        elsewhere = click(slack, message, MUTE_ACTION, channel="#oncology")
        assert signed(url, elsewhere).status_code == 200
        assert slack.wait_for_calls("chat.update") == 1
    assert mutes(tmp_path) == [(slack.channel_id("#oncology"), SEED_NCT, "U0ALICE")]
    assert slack.updates == []  # that message is not in #oncology: Slack refused the update
    assert ("chat.update", 200) in slack.calls
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-03-01"))
    assert "alerts sent 1" in check(config)  # #trial-alerts was never muted
    assert len(slack.messages) == 2


def test_status_shows_mutes(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> None:
    config = commands_config(tmp_path, registry, slack)
    registry.put(seed_study())
    check(config)
    store = Store.open(tmp_path / "ctwatch.db")
    store.mutes.set(Mute("C0LAB", SEED_NCT, "2999-01-01T00:00:00Z", "lab", "U0ALICE", "now"))
    store.mutes.set(Mute("C0OLD", SEED_NCT, "2001-01-01T00:00:00Z", "old", "U0BOB", "then"))
    store.close()
    data = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    assert [(m["channel_id"], m["nct_id"], m["until"]) for m in data["mutes"]] == [
        ("C0LAB", SEED_NCT, "2999-01-01T00:00:00Z")  # the expired one is not shown
    ]
    table = run_cli(config, "status", env=ENV).stdout
    assert f"  {SEED_NCT} in #lab until 2999-01-01T00:00:00Z (by U0ALICE)" in table


def test_buttons_fit_block_kit_and_appear_only_when_clicks_can_arrive(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    changes = tuple(
        changed_field(i) for i in range(400)
    )  # a huge change set still fits, buttons included
    _, blocks = alert_message(Alert(SEED_NCT, "Title", changes), actions=True)
    assert block_errors(blocks) == [] and len(blocks) == MAX_BLOCKS
    actions = blocks[-1]
    assert [e.get("value") for e in actions["elements"]] == [None, SEED_NCT, SEED_NCT]
    assert (
        actions["elements"][0]["url"] == f"https://clinicaltrials.gov/study/{SEED_NCT}?tab=history"
    )
    assert "actions" not in {b["type"] for b in alert_message(Alert(SEED_NCT, "T", changes))[1]}
    http = load_config(commands_config(tmp_path, registry, slack), ENV)
    assert serving(http).interactive
    plain = tmp_path / "plain.toml"
    plain.write_text(
        commands_config(tmp_path, registry, slack)
        .read_text()
        .replace('signing_secret = "${SLACK_SIGNING_SECRET}"', "")
        .replace("[slack.commands]", "[server]")
    )
    assert not serving(load_config(plain, ENV)).interactive  # no secret: nobody could click


def changed_field(index: int) -> FieldChange:
    path = f"protocolSection.descriptionModule.briefSummary{index}"
    return FieldChange(path, f"Field {index}", "changed", "x" * 500, "y" * 500)
