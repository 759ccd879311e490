"""Delivery errors say what to do, over real sockets (issue 21.5).

Each case makes the project's double (Slack Web API, a scripted SMTP server,
Teams Workflows, a webhook receiver) refuse the way the real service does, then
runs ``ctwatch test-alert`` (exit 1 when any destination failed) or ``check``
(exit 1 when an alert failed for good in that run).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.hook_setup import SECRET, receiver, teams  # noqa: F401 - fixtures
from tests.support.scripted_smtp import ScriptedSmtp
from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, slack, slack_config  # noqa: F401 - fixture
from tests.support.teams_double import TeamsDouble
from tests.support.webhook_receiver import WebhookReceiver
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


def alert_test(config: Path, env: dict[str, str]) -> tuple[int, str]:
    result = run_cli(config, "test-alert", env=env)
    return result.exit_code, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("channel", "error", "hint"),
    [
        ("#nowhere", None, "no channel #nowhere the bot can see: check the name in the config"),
        ("#private", None, "invite the bot: type /invite @your-app-name in #private"),
        ("#trial-alerts", "invalid_auth", "check SLACK_BOT_TOKEN: the app's Bot User OAuth"),
        ("#trial-alerts", "is_archived", "#trial-alerts is archived: unarchive it"),
    ],
)
def test_slack_errors_name_the_fix(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,  # noqa: F811
    channel: str,
    error: str | None,
    hint: str,
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], f'slack = ["{channel}"]')
    if error is not None:
        slack.fail_next(error=error)
    code, out = alert_test(config, ENV)
    assert code == 1
    assert hint in out
    assert "1 of 1 destination failed" in out


def test_missing_scope_names_the_scope_slack_asked_for(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,  # noqa: F811
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    slack.fail_next(
        error="missing_scope",
        raw_body='{"ok": false, "error": "missing_scope", "needed": "chat:write.public", '
        '"provided": "chat:write"}',
    )
    code, out = alert_test(config, ENV)
    assert code == 1
    assert "missing_scope — add the chat:write.public scope under OAuth & Permissions" in out


def test_check_exits_1_when_an_alert_failed_for_good(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,  # noqa: F811
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT], 'slack = ["#private"]')
    registry.put(seed_study())
    assert run_cli(config, "check", env=ENV).exit_code == 0  # the baseline sends nothing
    registry.put(changed(seed_study(), status="SUSPENDED"))
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 1
    assert "alerts failed 1" in result.stdout
    assert "invite the bot: type /invite @your-app-name in #private" in result.stderr
    assert "1 alert could not be delivered and will not be retried" in result.stderr
    again = run_cli(config, "check", env=ENV)  # nothing failed in this run: exit 0
    assert again.exit_code == 0, again.stderr


def smtp_config(tmp_path: Path, registry: RegistryDouble, port: int, login: bool) -> Path:
    auth = 'username = "${SMTP_USERNAME}"\npassword = "${SMTP_PASSWORD}"\n' if login else ""
    extra = (
        f'\n[email]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n{auth}'
        'sender = "ctwatch@example.org"\ntimeout = "5s"\n'
    )
    return write_config(
        tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='email = ["a@example.org"]'
    )


SMTP_ENV = {"SMTP_USERNAME": "ctwatch-bot", "SMTP_PASSWORD": "s3cret-pw-42"}


def test_smtp_login_refusal_says_to_check_the_credentials(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with ScriptedSmtp() as server:
        server.replies["AUTH"] = "535 5.7.8 authentication failed"
        code, out = alert_test(smtp_config(tmp_path, registry, server.port, True), SMTP_ENV)
    assert code == 1
    assert "refused the login (535) — check [email] username and password" in out
    assert "s3cret" not in out


def test_smtp_relay_refusal_says_to_log_in(tmp_path: Path, registry: RegistryDouble) -> None:
    with ScriptedSmtp() as server:
        server.replies["RCPT"] = "554 5.7.1 <a@example.org>: Relay access denied"
        code, out = alert_test(smtp_config(tmp_path, registry, server.port, False), {})
    assert code == 1
    assert "Relay access denied — the server will not relay for ctwatch" in out


def test_a_deleted_teams_workflow_says_to_update_the_url(
    tmp_path: Path,
    registry: RegistryDouble,
    teams: TeamsDouble,  # noqa: F811
) -> None:
    gone = teams.url().replace("/workflows/", "/deleted-workflows/")
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='teams = ["${TEAMS_URL}"]'
    )
    code, out = alert_test(config, {"TEAMS_URL": gone})
    assert code == 1
    assert "answered HTTP 404" in out and "the URL is gone" in out


def test_a_removed_webhook_says_to_update_the_url(
    tmp_path: Path,
    registry: RegistryDouble,
    receiver: WebhookReceiver,  # noqa: F811
) -> None:
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='webhook = ["${HOOK_URL}"]'
    )
    code, out = alert_test(config, {"HOOK_URL": receiver.url("/hooks/old")})
    assert code == 1
    assert "answered HTTP 404" in out and "put the current URL in the config" in out


def test_every_destination_ok_exits_0(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,  # noqa: F811
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    code, out = alert_test(config, ENV)
    assert code == 0, out
    assert "ok      Slack #trial-alerts" in out
