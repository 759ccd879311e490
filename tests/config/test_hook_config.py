"""Config for Teams and webhooks: the keys, their checks, and that URLs stay secret."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import ConfigError, load_config
from watcher.core.destination import Destination
from watcher.redact import Redactor

SIG = "kq9ZC0t4lRr2hYpO1xN8mS7vB6uA5eD4cX3zQ2yK"
TEAMS_URL = (
    "https://default0123.ab.environment.api.powerplatform.com:443/powerautomate/automations/"
    "direct/workflows/5d0e/triggers/manual/paths/invoke?api-version=1"
    f"&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
)
HOOK_URL = "https://ctms.example.org/hooks/ctwatch-f00dfeed"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwQ2Ux2dNg7kE="
EXAMPLE = """
[teams]
digest_over = 5

[webhooks]
secret = "${CTWATCH_WEBHOOK_SECRET}"
timeout = "10s"

[[watch]]
name = "rectal-cancer"
trials = ["NCT06850103"]
teams = ["${TEAMS_TRIALS_URL}"]
webhook = ["${HOOK_URL}"]

[[watch]]
name = "same-places"
trials = ["NCT02552212"]
teams = ["${TEAMS_TRIALS_URL}"]
"""
ENV = {"TEAMS_TRIALS_URL": TEAMS_URL, "HOOK_URL": HOOK_URL, "CTWATCH_WEBHOOK_SECRET": SECRET}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def watch_with(key: str, value: str) -> str:
    return f'[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n{key} = ["{value}"]\n'


def test_the_issue_example_loads(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE), ENV)
    assert config.teams.digest_over == 5 and config.webhooks.timeout.total_seconds() == 10
    first, second = config.watch
    teams, hook = first.destinations
    assert teams == second.destinations[0]  # one Workflows URL, one destination
    assert teams.kind == "teams" and hook.kind == "webhook"
    assert config.destination_urls() == {teams: TEAMS_URL, hook: HOOK_URL}
    for destination in (teams, hook):
        assert SIG not in destination.key and "/hooks/" not in destination.key
    assert teams.describe().startswith("Teams default0123.ab.environment.api.powerplatform.com (")
    assert hook.describe().startswith("webhook ctms.example.org (")


def test_every_url_and_the_secret_are_masked(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, EXAMPLE), ENV)
    mask = Redactor(config.secrets())
    echo = f"{TEAMS_URL} said no; {HOOK_URL}; key {SECRET}; path /hooks/ctwatch-f00dfeed only"
    masked = mask(echo)
    for secret in (SIG, "ctwatch-f00dfeed", SECRET, "MfKQ9r8GKYqrTwjUPD8"):
        assert secret not in masked


def test_sections_are_optional_and_webhooks_may_go_unsigned(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, watch_with("webhook", HOOK_URL)), {})
    assert config.webhooks.secret is None and config.teams.digest_over == 10
    assert config.watch[0].destinations == (Destination.webhook(HOOK_URL),)


@pytest.mark.parametrize(
    ("key", "url", "fragment"),
    [
        ("teams", "http://prod.example.org/workflows/1?sig=leak-me-1", "'http://prod.example.org/…' must use https"),
        ("webhook", "ftp://hooks.example.org/leak-me-1", "must use https"),
        ("webhook", "leak-me-1", "the value is not an https URL with a host"),
        ("teams", "https://h.example.org:99999/leak-me-1", "not a URL with a valid host and port"),
        ("webhook", "https://h.example.org/leak-me-1 x", "white space or a control character"),
    ],
)  # fmt: skip
def test_bad_urls_are_named_without_their_secrets(
    tmp_path: Path, key: str, url: str, fragment: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, watch_with(key, url)), {})
    assert caught.value.key == f"watch[0].{key}"
    assert fragment in str(caught.value)
    assert "leak-me-1" not in str(caught.value)


def test_plain_http_is_allowed_to_127_0_0_1_only(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, watch_with("teams", "http://127.0.0.1:8080/x")), {})
    assert config.watch[0].teams == ("http://127.0.0.1:8080/x",)
    with pytest.raises(ConfigError):
        load_config(write(tmp_path, watch_with("teams", "http://localhost:8080/x")), {})


@pytest.mark.parametrize(
    ("secret", "fragment"),
    [
        ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwQ2Ux2dNg7kE=", "must start with whsec_"),
        ("whsec_not*base64!", "is not whsec_ followed by base64"),
        ("whsec_c2hvcnQ=", "at least 24 random bytes"),
    ],
)
def test_a_bad_webhook_secret_is_refused_without_echo(
    tmp_path: Path, secret: str, fragment: str
) -> None:
    text = f'[webhooks]\nsecret = "{secret}"\n' + watch_with("webhook", HOOK_URL)
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert caught.value.key == "webhooks.secret" and fragment in str(caught.value)
    assert secret.removeprefix("whsec_") not in str(caught.value)


def test_the_cli_exits_2_naming_the_key_not_the_url(tmp_path: Path) -> None:
    path = write(tmp_path, watch_with("teams", "${TEAMS_URL}"))
    result = run_cli(path, "check", env={"TEAMS_URL": f"http://x.example.org/?sig={SIG}"})
    assert result.exit_code == 2
    assert "watch \"w\".teams: 'http://x.example.org/…' must use https" in result.stderr
    assert SIG not in result.stderr


def test_a_lone_url_instead_of_a_list_says_how_to_write_it(tmp_path: Path) -> None:
    text = f'[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nteams = "{TEAMS_URL}"\n'
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert str(caught.value).endswith('watch "w".teams: must be a list, e.g. teams = ["…"]')
