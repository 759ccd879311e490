"""Config mistakes: all reported at once, in ctwatch's words; field names and labels."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.paths import GOLDEN
from watcher.config import ConfigError, load_config
from watcher.config.problems import MAX_PROBLEMS
from watcher.core.fieldnames import AmbiguousField, find_field

MANY_MISTAKES = """[registy]
url = "https://clinicaltrials.gov/api/v2"

[registry]
retries = "many"
pace = 99

[email]
host = "smtp.example.org"
sender = "ctwatch@example.org"
security = "ssl"
password = 12345

[[watch]]
name = ""
trails = ["NCT06850103"]
slack = "#trial-alerts"
fields = ["Overall Status", "OverallStatuz"]

[[watch]]
name = "second"
trials = ["NCT1", 5, "nct02552212"]

[[search]]
name = "rectal-io"
url = "https://clinicaltrials.gov/search?cond=Rectal%20Cancer"
slack = ["#ci"]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_every_mistake_is_reported_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, MANY_MISTAKES)
    result = run_cli(path, "check")
    assert result.exit_code == 2
    expected = (GOLDEN / "config_errors.txt").read_text(encoding="utf-8")
    assert result.stderr.replace(str(path), "ctwatch.toml") == expected
    for pydantic_words in ("Input should", "Field required", "valid tuple", "Extra inputs"):
        assert pydantic_words not in result.stderr
    assert "12345" not in result.stderr  # a secret key's value is never echoed


def test_a_typo_names_the_key_with_a_suggestion_not_a_missing_key(tmp_path: Path) -> None:
    path = write(tmp_path, '[[watch]]\nname = "w"\ntrails = ["NCT06850103"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert [p.line("f") for p in caught.value.problems] == [
        "f: unknown key 'trails' in watch \"w\" (did you mean 'trials'?)"
    ]
    assert caught.value.key == "watch[0].trails"


def test_unset_variables_and_bad_values_are_reported_together(tmp_path: Path) -> None:
    text = (
        '[slack]\ntoken = "${SLACK_BOT_TOKEN}"\n[email]\nhost = "h"\nsender = "s@example.org"\n'
        'password = "${SMTP_PASSWORD}"\n[[watch]]\nname = "w"\ntrials = ["NCT0685010"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert [p.key for p in caught.value.problems] == [
        "slack.token", "email.password", "watch[0].trials",
    ]  # fmt: skip
    assert "environment variable SMTP_PASSWORD is not set" in str(caught.value)


def test_cross_reference_mistakes_are_all_listed(tmp_path: Path) -> None:
    text = (
        '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nslack = ["#a"]\n'
        '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nemail = ["a@example.org"]\n'
    )
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    assert [p.key for p in caught.value.problems] == [
        "watch[0].slack", "watch[1].name", "watch[1].email",
    ]  # fmt: skip


def test_the_list_is_capped(tmp_path: Path) -> None:
    watches = "".join(f'[[watch]]\nname = "w{i}"\ntrials = ["bad{i}"]\n' for i in range(30))
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, watches), {})
    lines = str(caught.value).splitlines()
    assert len(lines) == MAX_PROBLEMS + 1
    assert lines[-1].endswith("... and 10 more problems")


@pytest.mark.parametrize(
    ("written", "piece"),
    [
        ("OverallStatus", "OverallStatus"),
        ("overallstatus", "OverallStatus"),
        ("Overall Status", "OverallStatus"),
        ("overall  status", "OverallStatus"),
        ("Last Update Posted", "LastUpdatePostDate"),
        ("protocolSection.statusModule.whyStopped", "WhyStopped"),
        ("Locations > Facility", "LocationFacility"),
        ("Completion Date", "CompletionDateStruct"),  # the struct: covers its date and type
    ],
)
def test_fields_are_found_by_piece_name_path_or_label(written: str, piece: str) -> None:
    info = find_field(written)
    assert info is not None and info.piece == piece


def test_a_label_of_unrelated_fields_is_ambiguous() -> None:
    with pytest.raises(AmbiguousField, match="is the label of several fields"):
        find_field("Groups › Title")


def test_watch_fields_accept_the_labels_alerts_print(tmp_path: Path) -> None:
    text = '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\nfields = ["Overall Status", "why stopped"]\n'
    config = load_config(write(tmp_path, text), {})
    assert config.watch[0].fields == ("OverallStatus", "WhyStopped")


def test_fields_command_lists_pieces_with_labels() -> None:
    result = run_cli(None, "fields", "status")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert any(line.split() == ["OverallStatus", "Overall", "Status"] for line in lines)
    everything = run_cli(None, "fields").stdout.splitlines()
    assert len(everything) > 400
    nothing = run_cli(None, "fields", "no-such-field-anywhere")
    assert nothing.exit_code == 2 and "no field name, label or path contains" in nothing.stderr
