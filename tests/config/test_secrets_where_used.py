"""Secrets only where they are used (issue 21.1).

With every ``${VAR}`` of the config unset, the commands that only read (and the
ones that edit the file) work, ``config check`` names each unset variable as a
warning, and the commands that would deliver or serve still exit 2 naming the
variable of a destination they would use.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.hook_setup import SECRET
from watcher.config.load import DELIVERY, READ_ONLY, load_config
from watcher.config.problems import Problem
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, seed_study

VARIABLES = ("SLACK_BOT_TOKEN", "CTWATCH_FEED_TOKEN", "TEAMS_URL", "SMTP_PASSWORD", "WH_SECRET")
SET = {
    "SLACK_BOT_TOKEN": "xoxb-test-token-123",
    "CTWATCH_FEED_TOKEN": "feed-token-0123456789abcdef",
    "TEAMS_URL": "https://prod.example.org/workflows/abc?sig=s1gn4ture-0123456789",
    "SMTP_PASSWORD": "s3cret-pw-42",
    "WH_SECRET": SECRET,
}
EXTRA = """
[slack]
token = "${SLACK_BOT_TOKEN}"

[email]
host = "127.0.0.1"
sender = "ctwatch@example.org"
username = "bot"
password = "${SMTP_PASSWORD}"

[webhooks]
secret = "${WH_SECRET}"

[server]
listen = "127.0.0.1:0"
feed_token = "${CTWATCH_FEED_TOKEN}"
"""
WATCH = 'slack = ["#trial-alerts"]\nemail = ["a@example.org"]\nteams = ["${TEAMS_URL}"]'


@pytest.fixture
def config(tmp_path: Path, registry: RegistryDouble) -> Path:
    assert not any(name in os.environ for name in VARIABLES)
    registry.put(seed_study())
    path = write_config(tmp_path, registry.url, [SEED_NCT], extra=EXTRA, watch_extra=WATCH)
    first = run_cli(path, "check", env=SET)  # the baseline: nothing is sent
    assert first.exit_code == 0, first.stderr
    return path


@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("status", "--json"),
        ("history", SEED_NCT),
        ("show", SEED_NCT),
        ("list",),
        ("feed", "all"),
        ("outbox",),
        ("fields", "status"),
    ],
)
def test_reading_commands_need_no_secret(config: Path, command: tuple[str, ...]) -> None:
    result = run_cli(config, *command)
    assert result.exit_code == 0, result.stderr
    assert "is not set" not in result.stderr


def test_config_check_warns_about_each_unset_variable(config: Path) -> None:
    result = run_cli(config, "config", "check")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{config}: valid")
    warned = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warned) == len(VARIABLES)
    for name in VARIABLES:
        assert any(f"environment variable {name} is not set" in line for line in warned), name
    assert f'{config}: watch "test".teams[0]: environment variable TEAMS_URL' in result.stderr


def test_add_and_remove_edit_the_file_without_secrets(config: Path) -> None:
    before = config.read_text()
    added = run_cli(config, "add", "NCT05180006")
    assert added.exit_code == 0, added.stderr
    assert "${SLACK_BOT_TOKEN}" in config.read_text()  # references stay references
    removed = run_cli(config, "remove", "NCT05180006")
    assert removed.exit_code == 0, removed.stderr
    assert config.read_text() == before


@pytest.mark.parametrize("command", [("check",), ("test-alert",), ("run",), ("serve",)])
def test_delivering_commands_name_the_unset_variable(
    config: Path, command: tuple[str, ...]
) -> None:
    result = run_cli(config, *command)
    assert result.exit_code == 2
    assert "slack.token: environment variable SLACK_BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_does_not_need_the_servers_secrets(config: Path) -> None:
    env = {k: v for k, v in SET.items() if k != "CTWATCH_FEED_TOKEN"}
    assert run_cli(config, "check", env=env).exit_code == 0
    served = run_cli(config, "serve", env=env)
    assert served.exit_code == 2
    assert "server.feed_token: environment variable CTWATCH_FEED_TOKEN" in served.stderr


PLACEHOLDERS = f"""
[slack]
token = "${{SLACK_BOT_TOKEN}}"
app_token = "${{SLACK_APP_TOKEN}}"

[slack.commands]

[email]
host = "127.0.0.1"
sender = "ctwatch@example.org"
password = "${{SMTP_PASSWORD}}"

[webhooks]
secret = "${{WH_SECRET}}"

[server]
feed_token = "${{CTWATCH_FEED_TOKEN}}"

[[watch]]
name = "w"
trials = ["{SEED_NCT}"]
webhook = ["https://${{HOOK_HOST}}/in"]
"""


def test_placeholders_pass_validation_and_are_reported(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.toml"
    path.write_text(PLACEHOLDERS, encoding="utf-8")
    warnings: list[Problem] = []
    loaded = load_config(path, {}, needs=READ_ONLY, warnings=warnings)
    assert loaded.slack is not None and loaded.server is not None  # every check passed
    assert {w.key for w in warnings} == {
        "slack.token", "slack.app_token", "email.password", "webhooks.secret",
        "server.feed_token", "watch[0].webhook[0]",
    }  # fmt: skip
    delivery: list[Problem] = []
    env = {"SLACK_BOT_TOKEN": "x", "SMTP_PASSWORD": "p", "WH_SECRET": SECRET, "HOOK_HOST": "h"}
    load_config(path, env, needs=DELIVERY, warnings=delivery)  # servers' secrets not needed
    assert {w.key for w in delivery} == {"slack.app_token", "server.feed_token"}


def test_each_warning_says_which_commands_need_the_variable(config: Path) -> None:
    stderr = run_cli(config, "config", "check").stderr
    assert "SLACK_BOT_TOKEN is not set (check, test-alert, run and serve need it)" in stderr
    assert "CTWATCH_FEED_TOKEN is not set (run, serve need it)" in stderr
