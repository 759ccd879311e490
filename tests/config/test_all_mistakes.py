"""Every config mistake at once, cross-references included, tables named by name
(issue 21.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import ConfigError, load_config

TEXT = """
[registry]
pace = "fast"

[[watch]]
name = "rectal-cancer"
trials = ["NCT06850103"]
email = ["team@example.org"]
slack = ["#trial-alerts"]

[[watch]]
trials = ["NCT0685010"]

[[search]]
name = "rectal-cancer"
url = "https://clinicaltrials.gov/search?condition=rectal"
"""


def lines(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    return [line.removeprefix(f"{path}: ") for line in str(caught.value).splitlines()]


def test_cross_references_come_with_the_other_mistakes(tmp_path: Path) -> None:
    assert lines(tmp_path, TEXT) == [
        "registry.pace: should be a number (got 'fast')",
        'watch "rectal-cancer".email: names email addresses but there is no [email] section',
        'watch "rectal-cancer".slack: names Slack channels but there is no [slack] section',
        "watch[1].name: required key is missing",
        "watch[1].trials: 'NCT0685010' is not an NCT ID (NCT followed by 8 digits)",
        'search "rectal-cancer".name: duplicate search name '
        "'rectal-cancer' (a watch has it already)",
        "search \"rectal-cancer\".url: unknown URL parameter 'condition' (did you mean 'cond'?)",
    ]


def test_a_valid_file_with_only_a_cross_reference_mistake(tmp_path: Path) -> None:
    text = '[[watch]]\nname = "onc"\ntrials = ["NCT06850103"]\nemail = ["a@example.org"]\n'
    assert lines(tmp_path, text) == [
        'watch "onc".email: names email addresses but there is no [email] section'
    ]


def test_the_cli_prints_them_all_and_exits_2(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.toml"
    path.write_text(TEXT, encoding="utf-8")
    result = run_cli(path, "status")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 7
    assert all(line.startswith(f"ctwatch: {path}: ") for line in result.stderr.splitlines())
