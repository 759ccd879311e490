"""Mutes belong to one workspace, and a button that fails after its ack still answers.

Signed clicks over real HTTP (Slack's HTTP mode) against the Slack double.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.slack.button_setup import (
    OUR_TEAM,
    alerted,
    buttons_config,
    check,
    click,
    signed,
    web,
)
from tests.support.slack_double import SlackDouble
from watcher.slack.blocks import MUTE_ACTION
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study
from watcher.web.asgi import INTERACTIONS_PATH


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble(channels=("#trial-alerts",)) as double:
        yield double


def mutes(tmp_path: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        return db.execute("SELECT team_id, channel_id, nct_id FROM mutes").fetchall()


def test_a_click_from_another_workspace_with_the_same_channel_name_mutes_nothing(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = buttons_config(tmp_path, registry, slack)
    message = alerted(config, registry, slack)
    with web(config) as origin:
        stranger = click(slack, message, MUTE_ACTION, team="T0OTHER", channel_id="C0OTHER001")
        assert signed(origin + INTERACTIONS_PATH, stranger).status_code == 200
        (reply,) = slack.wait_for_responses(1)
    assert reply["text"] == (
        "This alert is not from the Slack workspace ctwatch posts to; nothing was muted."
    )
    assert reply["response_type"] == "ephemeral"
    assert mutes(tmp_path) == []
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-03-01"))
    assert "alerts sent 1" in check(config)  # our #trial-alerts was never muted


def test_a_click_from_our_workspace_mutes_that_team_and_channel(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = buttons_config(tmp_path, registry, slack)
    message = alerted(config, registry, slack)
    with web(config) as origin:
        assert signed(origin + INTERACTIONS_PATH, click(slack, message, MUTE_ACTION)).is_success
        assert slack.wait_for_calls("chat.update") == 1
    assert mutes(tmp_path) == [(OUR_TEAM, message.channel_id, SEED_NCT)]
    registry.put(changed(seed_study(), status="TERMINATED", last_update="2026-03-01"))
    out = check(config)
    assert "alerts sent 0" in out or "alerts sent" not in out
    assert len(slack.messages) == 1


def test_a_button_failing_after_its_ack_replies_one_line_and_logs_no_traceback(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,
    caplog: pytest.LogCaptureFixture,
) -> None:
    config = buttons_config(tmp_path, registry, slack)
    message = alerted(config, registry, slack)
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        db.execute("DROP TABLE mutes")  # the write after the ack fails
    logging.getLogger().addHandler(caplog.handler)  # `ctwatch check` set up its own logging
    try:
        with caplog.at_level(logging.INFO), web(config) as origin:
            click_mute = click(slack, message, MUTE_ACTION)
            assert signed(origin + INTERACTIONS_PATH, click_mute).is_success
            (reply,) = slack.wait_for_responses(1)
    finally:
        logging.getLogger().removeHandler(caplog.handler)
    assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
    assert reply["text"] == (
        "Sorry, that did not work (ctwatch logged why); nothing may have changed."
    )
    failed = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(failed) == 1 and failed[0].exc_info is None
    assert f"button {MUTE_ACTION} for {SEED_NCT} failed: " in failed[0].getMessage()
    assert "\n" not in failed[0].getMessage()
