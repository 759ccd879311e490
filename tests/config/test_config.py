"""Config loading: defaults, ${VAR}, and one clear line (exit 2) for every mistake."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.paths import REPO
from watcher.config import ConfigError, load_config, parse_duration, resolve_config_path

FULL = """
[registry]
url = "https://clinicaltrials.gov/api/v2"

[database]
path = "data/ctwatch.db"

[schedule]
every = "6h"

[slack]
token = "${SLACK_BOT_TOKEN}"
api_url = "https://slack.com/api/"

[email]
host = "smtp.example.org"
port = 587
security = "starttls"
username = "${SMTP_USERNAME}"
password = "${SMTP_PASSWORD}"
sender = "ctwatch <ctwatch@example.org>"

[[watch]]
name = "rectal-cancer"
trials = ["NCT06850103", "nct02552212"]
slack = ["#trial-alerts"]
email = ["team@example.org"]
fields = ["OverallStatus", "LastUpdatePostDate", "StatusVerifiedDate"]
"""
ENV = {"SLACK_BOT_TOKEN": "xoxb-secret-token", "SMTP_USERNAME": "bot", "SMTP_PASSWORD": "pw-123456"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_issue_example_loads_with_expanded_secrets(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, FULL), ENV)
    watch = config.watch[0]
    assert watch.trials == ("NCT06850103", "NCT02552212")  # lower case normalised
    assert watch.fields == ("OverallStatus", "LastUpdatePostDate", "StatusVerifiedDate")
    assert watch.field_paths == (
        "protocolSection.statusModule.overallStatus",
        "protocolSection.statusModule.lastUpdatePostDateStruct.date",
        "protocolSection.statusModule.statusVerifiedDate",
    )
    assert config.slack is not None and config.slack.token.get_secret_value() == "xoxb-secret-token"
    assert "xoxb" not in repr(config)  # secrets never print
    assert config.database.path == str((tmp_path / "data" / "ctwatch.db").resolve())
    assert config.schedule.interval_seconds == 6 * 3600


def test_example_config_in_repository_is_valid() -> None:
    config = load_config(REPO / "config" / "ctwatch.toml", {})
    assert config.trials == ("NCT06850103",)
    assert config.registry.url == "https://clinicaltrials.gov/api/v2"
    assert config.slack is None and config.email is None


def test_defaults_with_only_a_watch(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n'), {})
    assert config.registry.url == "https://clinicaltrials.gov/api/v2"
    assert config.registry.pace == 1.0
    assert config.schedule.interval_seconds == 6 * 3600
    assert config.watch[0].fields is None


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT123"]\n',
            "watch[0].trials",
            "'NCT123' is not an NCT ID",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT０６８５０１０３"]\n',
            "watch[0].trials",
            "is not an NCT ID",
        ),
        ('[[watch]]\nname = "w"\ntrials = []\n', "watch[0].trials", "at least 1"),
        ('[[watch]]\nname = "w"\n', "watch[0].trials", "required key is missing"),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nslak = ["#x"]\n',
            "watch[0].slak",
            "unknown key",
        ),
        (
            '[registy]\nurl = "x"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "registy",
            "unknown key",
        ),
        (
            '[schedule]\nevery = "6 hours"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "schedule.every",
            "'6 hours' is not a duration",
        ),
        (
            '[schedule]\ncron = "61 * * * *"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "schedule.cron",
            "is not a cron expression",
        ),
        (
            '[schedule]\ncron = "0 14 * * 1-5"\ntimezone = "Mars/Base"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "schedule.timezone",
            "'Mars/Base' is not a known time zone",
        ),
        (
            '[schedule]\nevery = "1h"\ncron = "0 14 * * *"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "schedule",
            "either 'every' or 'cron'",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nslack = ["#a"]\n',
            "watch[0].slack",
            "no [slack] section",
        ),
        (
            '[slack]\ntoken = "x"\nsigning_secret = "s"\n[slack.commands]\nlisten = "8080"\n'
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "slack.commands.listen",
            "'8080' is not a host:port address",
        ),
        (
            '[slack]\ntoken = "x"\nsigning_secret = "s"\n[slack.commands]\n'
            'allowed_channels = ["#a b"]\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "slack.commands.allowed_channels",
            "'#a b' is not a Slack channel",
        ),
        (
            '[slack]\ntoken = "x"\nsigning_secret = " "\n'
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "slack.signing_secret",
            "is empty",
        ),
        (
            '[slack]\ntoken = "x"\n[slack.commands]\n'
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "slack.signing_secret",
            "is required by [slack.commands]",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nemail = ["a@example.org"]\n',
            "watch[0].email",
            "no [email] section",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nemail = ["not-an-address"]\n',
            "watch[0].email",
            "'not-an-address' is not an email address",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nfields = ["OverallStatuz"]\n',
            "watch[0].fields",
            "'OverallStatuz' is not a field of ClinicalTrials.gov",
        ),
        (
            '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "watch[1].name",
            "duplicate watch name",
        ),
        (
            '[registry]\nurl = "ftp://x"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "registry.url",
            "is not an http(s) URL",
        ),
        (
            '[email]\nhost = "h"\nsender = "s@example.org"\nsecurity = "ssl"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n',
            "email.security",
            "'ssl'",
        ),
        ("[[watch]]\nname = 'w'\ntrials = ['NCT06850103'\n", "", "not valid TOML"),
        ("", "watch", "required key is missing"),
    ],
)
def test_bad_config_names_key_and_value(tmp_path: Path, text: str, key: str, fragment: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.key == key
    assert fragment in str(caught.value)
    assert str(path) in str(caught.value)


def test_unset_variable_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, FULL), {"SLACK_BOT_TOKEN": "x"})
    assert caught.value.key == "email.username"
    assert "environment variable SMTP_USERNAME is not set" in str(caught.value)


def test_secret_values_are_not_echoed(tmp_path: Path) -> None:
    text = FULL.replace('token = "${SLACK_BOT_TOKEN}"', 'token = ["xoxb-leak-me"]')
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), ENV)
    assert caught.value.key == "slack.token"
    assert "xoxb-leak-me" not in str(caught.value)


def test_durations() -> None:
    assert [parse_duration(t) for t in ("90s", "30m", "6h", "1d")] == [90, 1800, 21600, 86400]
    for bad in ("0s", "6", "h", "1w", "-5m"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_config_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CTWATCH_CONFIG", raising=False)
    assert resolve_config_path(None) == Path("config/ctwatch.toml")
    monkeypatch.setenv("CTWATCH_CONFIG", str(tmp_path / "env.toml"))
    assert resolve_config_path(None) == tmp_path / "env.toml"
    assert resolve_config_path("cli.toml") == Path("cli.toml")


@pytest.mark.parametrize("command", [["check"], ["status"], ["history", "NCT06850103"]])
def test_cli_reports_config_errors_in_one_line_with_exit_2(
    tmp_path: Path, command: list[str]
) -> None:
    path = write(tmp_path, '[[watch]]\nname = "w"\ntrials = ["NCT0685010"]\n')
    result = run_cli(path, *command)
    assert result.exit_code == 2
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr
    assert f"{path}: watch \"w\".trials: 'NCT0685010' is not an NCT ID" in result.stderr


def test_cli_missing_config_file(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "nope.toml", "check")
    assert result.exit_code == 2
    assert "no config file at " in result.stderr and "nope.toml init` to write" in result.stderr


def test_cli_config_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, '[[watch]]\nname = "w"\ntrials = ["bad"]\n')
    result = run_cli(None, "check", env={"CTWATCH_CONFIG": str(path)})
    assert result.exit_code == 2
    assert str(path) in result.stderr


def test_channel_spellings_are_one_channel(tmp_path: Path) -> None:
    text = '[slack]\ntoken = "x"\n[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nslack = ["trial-alerts", "#Trial-Alerts", "C0123ABCD"]\n'
    config = load_config(write(tmp_path, text), {})
    assert config.watch[0].slack == ("#trial-alerts", "C0123ABCD")


WATCH = '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n'


@pytest.mark.parametrize(
    ("text", "key", "fragment"),
    [
        (
            '[slack]\ntoken = "${}"\n' + WATCH,
            "slack.token",
            "malformed environment reference '${}'",
        ),
        ('[slack]\ntoken = "${1BAD}"\n' + WATCH, "slack.token", "'${1BAD}'"),
        ('[slack]\ntoken = "${VAR:-x}"\n' + WATCH, "slack.token", "'${VAR:-x}'"),
        ('[slack]\ntoken = "x${VAR"\n' + WATCH, "slack.token", "'${VAR'"),
        (
            '[registry]\nfull_sweep = "99999999999d"\n' + WATCH,
            "registry.full_sweep",
            "longer than a year",
        ),
        ("[registry]\npace = inf\n" + WATCH, "registry.pace", "finite number"),
        ("[registry]\nbackoff = nan\n" + WATCH, "registry.backoff", "finite number"),
        (
            "[registry]\nretries = 99999999999999\n" + WATCH,
            "registry.retries",
            "should be at most 20",
        ),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n" + WATCH, "", "nested too deeply"),
        (
            WATCH + 'email = ["a@example.org\\r\\nBcc: evil@example.org"]\n',
            "watch[0].email",
            "contains a control character",
        ),
        (
            '[email]\nhost = "h"\nsender = "me@example.org\\nBcc: x@example.org"\n' + WATCH,
            "email.sender",
            "contains a control character",
        ),
    ],
)
def test_hostile_values_are_config_errors(
    tmp_path: Path, text: str, key: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"VAR": "v"})
    assert caught.value.key == key
    assert fragment in str(caught.value)


def test_a_config_path_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "ctwatch.toml"
    os.mkfifo(fifo)
    result = run_cli(fifo, "check")  # would block for ever on read()
    assert result.exit_code == 2
    assert f"{fifo}: is not a regular file" in result.stderr


def test_a_whole_registry_watch_list_fits_and_a_huge_file_is_refused(tmp_path: Path) -> None:
    ids = ", ".join(f'"NCT{10_000_000 + i:08d}"' for i in range(400_000))  # ~6 MB
    path = tmp_path / "ctwatch.toml"
    path.write_text(f'[[watch]]\nname = "registry"\ntrials = [{ids}]\n', encoding="utf-8")
    assert len(load_config(path, {}).watch[0].trials) == 400_000
    with path.open("a", encoding="utf-8") as out:
        out.write("# " + "x" * (32 * 1024 * 1024) + "\n")
    with pytest.raises(ConfigError, match="is over 32 MB"):
        load_config(path, {})
