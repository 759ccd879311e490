"""``[[search]]`` in the config: what it means, and every mistake on a line of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import ConfigError, load_config
from watcher.core.destination import Destination

URL = "https://clinicaltrials.gov/search?cond=Rectal%20Cancer&intr=PD-1&aggFilters=status:rec%20not"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), {})
    path = str(tmp_path / "ctwatch.toml")
    lines = str(caught.value).splitlines()
    assert all(line.startswith(f"{path}: ") for line in lines)
    return [line.removeprefix(f"{path}: ") for line in lines]


def test_a_search_alone_is_a_valid_config(tmp_path: Path) -> None:
    config = load_config(
        write(
            tmp_path,
            f'[[search]]\nname = "rectal-io"\nurl = "{URL}"\nfollow = true\n'
            'fields = ["Overall Status"]\nmax_trials = 200\n',
        ),
        {},
    )
    (search,) = config.search
    assert config.watch == ()
    assert search.query.mapping == {
        "query.cond": "Rectal Cancer",
        "query.intr": "PD-1",
        "aggFilters": "status:rec not",
    }
    assert search.follow and search.fields == ("OverallStatus",) and search.max_trials == 200
    assert search.destinations == (Destination.console(),)


def test_params_and_destinations_as_in_watch(tmp_path: Path) -> None:
    text = """
[email]
host = "smtp.example.org"
sender = "ctwatch@example.org"
[[search]]
name = "asthma"
params = { "query.cond" = "asthma", "filter.overallStatus" = "RECRUITING" }
email = ["team@example.org"]
webhook = ["https://hooks.example.org/ct"]
"""
    config = load_config(write(tmp_path, text), {})
    (search,) = config.search
    assert search.max_trials == 5000  # the default
    assert search.query.mapping["filter.overallStatus"] == "RECRUITING"
    kinds = [d.kind for d in search.destinations]
    assert kinds == ["email", "webhook"]
    assert "https://hooks.example.org/ct" in config.secrets()  # masked like a watch's URL


def test_every_mistake_is_a_line_naming_file_key_and_parameter(tmp_path: Path) -> None:
    text = f"""
[[watch]]
name = "shared"
trials = ["NCT06850103"]

[[search]]
name = "one"
url = "https://clinicaltrials.gov/search?cond=x&foo=1&aggFilters=phase:phase3"

[[search]]
name = "two"
params = {{ "query.cnd" = "x" }}

[[search]]
name = "three"
url = "https://clinicaltrials.gov/search?id=NCT06850103"

[[search]]
name = "four"
url = "https://clinicaltrials.gov/search?locStr=Paris"

[[search]]
name = "shared"
url = "{URL}"
slack = ["#ci"]

[[search]]
name = "six"
url = "https://example.org/search?cond=x"
"""
    found = problems(tmp_path, text)
    assert found == [  # tables named by name; cross-checks reported with the rest
        "search \"one\".url: unknown URL parameter 'foo'",
        "search \"one\".url: unknown aggFilters option 'phase3' for 'phase' "
        "(known: 0, 1, 2, 3, 4, NA; a wrong key matches nothing)",
        "search \"two\".params: unknown params key 'query.cnd'",
        "search \"three\".url: URL parameter 'id' is made only of NCT IDs (NCT06850103): the "
        "registry then ignores every filter; watch these trials with a [[watch]] instead",
        "search \"four\".url: URL parameter 'locStr' is a display name only: without "
        "'country', 'state' or 'city' it cannot be searched (pick the place from the site's "
        "list, then copy the URL)",
        "search \"shared\".name: duplicate search name 'shared' (a watch has it already)",
        'search "shared".slack: names Slack channels but there is no [slack] section',
        "search \"six\".url: 'https://example.org/search?cond=x' is not a registry search URL "
        "(copy it from https://clinicaltrials.gov/search?… after searching)",
    ]


def test_names_are_unique_among_watches_and_searches(tmp_path: Path) -> None:
    text = f"""
[[watch]]
name = "shared"
trials = ["NCT06850103"]
[[search]]
name = "shared"
url = "{URL}"
slack = ["#ci"]
[[search]]
name = "shared"
url = "{URL}"
"""
    assert problems(tmp_path, text) == [
        "search[0].name: duplicate search name 'shared' (a watch has it already)",
        "search[0].slack: names Slack channels but there is no [slack] section",
        "search[1].name: duplicate search name 'shared' (a watch has it already)",
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (f'url = "{URL}"\nparams = {{ "query.cond" = "x" }}', "set exactly one of 'url'"),
        ("", "set exactly one of 'url'"),
        (
            f'url = "{URL}"\nfields = ["OverallStatus"]',
            "'fields' filters field changes, which need",
        ),
        (f'url = "{URL}"\nmax_trials = 0', 'search "s".max_trials: should be at least 1'),
        (
            f'url = "{URL}"\nfolow = true',
            "unknown key 'folow' in search \"s\" (did you mean 'follow'?)",
        ),
    ],
)
def test_search_table_mistakes(tmp_path: Path, body: str, expected: str) -> None:
    found = problems(tmp_path, f'[[search]]\nname = "s"\n{body}\n')
    assert any(expected in line for line in found), found


def test_nothing_to_watch_is_still_named(tmp_path: Path) -> None:
    assert problems(tmp_path, "") == [
        "watch: required key is missing (a [[watch]] with trials, or a [[search]])"
    ]


def test_list_and_config_check_show_searches(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        '[[watch]]\nname = "w"\ntrials = ["NCT06850103"]\n'
        f'[[search]]\nname = "rectal-io"\nurl = "{URL}"\nfollow = true\nmax_trials = 800\n',
    )
    listed = run_cli(config, "list")
    assert listed.exit_code == 0, listed.stderr
    assert "search “rectal-io” → console (follow; max 800 trials)" in listed.stdout
    assert f"  {URL}" in listed.stdout
    checked = run_cli(config, "config", "check")
    assert "1 search:" in checked.stdout
    assert "  “rectal-io” → console (follow; max 800 trials)" in checked.stdout
    assert (
        "aggFilters=status:rec not · query.cond=Rectal Cancer · query.intr=PD-1" in checked.stdout
    )
