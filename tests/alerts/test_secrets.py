"""Secrets never leave: echoed tokens and passwords are masked everywhere they could land."""

from __future__ import annotations

import json
from base64 import b64encode
from pathlib import Path

import pytest

from tests.conftest import database_text, run_cli, write_config
from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, TOKEN, baseline_then_change, slack_config
from tests.support.smtp_server import SmtpServer
from watcher.config.model import EmailConfig
from watcher.redact import Redactor, redact
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study

PASSWORD = "s3cret-pw-42"


def test_a_slack_error_that_echoes_the_token_is_masked_everywhere(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    echo = {
        "ok": False,
        "error": "invalid_auth",
        "response_metadata": {"messages": [f"token {TOKEN} is not valid; Bearer {TOKEN}"]},
    }
    slack.fail_next(status=200, error="invalid_auth", raw_body=json.dumps(echo), times=2)
    check = run_cli(config, "--log-level", "debug", "check", env=ENV)
    status = run_cli(config, "status", env=ENV)
    as_json = run_cli(config, "status", "--json", env=ENV)
    test_alert = run_cli(config, "test-alert", env=ENV)
    for result in (check, status, as_json, test_alert):
        assert TOKEN not in result.stdout + result.stderr
    assert "invalid_auth" in status.stdout and "***" in status.stdout
    assert "FAILED  Slack #trial-alerts: Slack #trial-alerts: invalid_auth" in test_alert.stdout
    assert TOKEN not in database_text(tmp_path / "ctwatch.db")


def test_an_smtp_reply_that_echoes_the_password_is_masked(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with SmtpServer(username="ctwatch-bot", password=PASSWORD) as smtp:
        extra = f"""
[email]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
username = "${{SMTP_USERNAME}}"
password = "${{SMTP_PASSWORD}}"
sender = "ctwatch <alerts@example.org>"
timeout = "5s"
"""
        config = write_config(
            tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='email = ["a@example.org"]'
        )
        env = {"SMTP_USERNAME": "ctwatch-bot", "SMTP_PASSWORD": PASSWORD}
        registry.put(seed_study())
        assert run_cli(config, "check", env=env).exit_code == 0
        registry.put(changed(seed_study(), status="SUSPENDED"))
        smtp.fail_next(f"451 4.3.0 try later, user ctwatch-bot pass {PASSWORD}")
        check = run_cli(config, "check", env=env)
        status = run_cli(config, "status", "--json", env=env)
    assert PASSWORD not in check.stdout + check.stderr + status.stdout
    problem = json.loads(status.stdout)["alert_problems"][0]
    assert "451 4.3.0 try later" in problem["error"] and "***" in problem["error"]
    assert PASSWORD not in database_text(tmp_path / "ctwatch.db")


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("token xoxb-1234-5678-abcdEF rejected", "token *** rejected"),
        ("app token xapp-1-A0123-456-abc", "app token ***"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer ***"),
        ("secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "secret ***"),
        (
            "POST https://x.powerplatform.com/workflows/1/triggers/manual?api-version=1&sig=AbC_12-x&sp=%2F",
            "POST https://x.powerplatform.com/workflows/1/triggers/manual?api-version=1&sig=***&sp=***",
        ),
        (
            "cannot reach http://bob:pw%40home@proxy.example:3128/api/v2 (refused)",
            "cannot reach http://***@proxy.example:3128/api/v2 (refused)",
        ),
        ("see https://clinicaltrials.gov/x?q=a@b", "see https://clinicaltrials.gov/x?q=a@b"),
        ("nothing secret here, 75 → 75", "nothing secret here, 75 → 75"),
    ],
)
def test_token_shaped_strings_are_masked(text: str, masked: str) -> None:
    assert redact(text) == masked


def test_configured_secrets_are_masked_longest_first() -> None:
    mask = Redactor(["pw-42", "s3cret-pw-42", "abc"])  # "abc" is too short to mask words
    assert mask("login s3cret-pw-42 then pw-42, abc") == "login *** then ***, abc"


def test_a_long_slack_error_is_masked_before_it_is_cut(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    config = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config, registry, status="SUSPENDED")
    padding = "x" * 292  # the token straddles the 300-character cut
    echo = {
        "ok": False,
        "error": "invalid_auth",
        "response_metadata": {"messages": [padding + TOKEN]},
    }
    slack.fail_next(status=200, error="invalid_auth", raw_body=json.dumps(echo))
    run_cli(config, "check", env=ENV)
    stored = database_text(tmp_path / "ctwatch.db")
    assert "xoxb-t" not in stored and TOKEN[:8] not in stored


def test_credentials_in_the_registry_url_never_leave(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    """A registry behind an authenticating proxy: ``https://user:password@proxy/…``."""
    secret_url = registry.url.replace("http://", "http://ct-user:pr0xy-Pass@")
    config = write_config(tmp_path, secret_url, [SEED_NCT])
    registry.put(seed_study())
    assert run_cli(config, "check").exit_code == 0  # the credentials still reach the server
    registry.fail_next(400, f"bad request GET {secret_url}/studies as ct-user / pr0xy-Pass")
    check = run_cli(config, "--log-level", "debug", "check")
    shown = run_cli(config, "config", "check")
    status = run_cli(config, "status", "--json")
    texts = (check.stdout + check.stderr, shown.stdout, status.stdout)
    for text in (*texts, database_text(tmp_path / "ctwatch.db")):
        assert "pr0xy-Pass" not in text and "ct-user" not in text
    assert "registry answered HTTP 400: bad request GET http://***@127.0.0.1" in check.stderr
    assert f"registry: {registry.url.replace('http://', 'http://***@')}" in shown.stdout


def test_smtp_credentials_are_masked_in_their_base64_forms() -> None:
    email = EmailConfig.model_validate(
        {"host": "h", "sender": "a@b.org", "username": "bot-user", "password": PASSWORD}
    )
    mask = Redactor(email.login_forms())
    plain = b64encode(f"\0bot-user\0{PASSWORD}".encode()).decode()
    login = b64encode(PASSWORD.encode()).decode()
    assert mask(f"535 AUTH PLAIN {plain} failed; {login}") == "535 AUTH PLAIN *** failed; ***"
