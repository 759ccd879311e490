"""Managing watches and searches from the CLI (issue 21.6): study URLs, ``add --search``,
``search --save``, ``remove --search``, ``remove --watch NAME --all``, long lists one ID
per line. Every edit keeps comments, is validated before it is written, and a refused
edit writes nothing."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.cli.test_first_check import closed_port
from tests.conftest import run_cli

SEARCH = "https://clinicaltrials.gov/search?cond=Rectal%20Cancer&aggFilters=status:rec"
START = """# my trials (a comment that must survive)
[slack]
token = "${SLACK_BOT_TOKEN}"  # from the environment

[[watch]]
name = "onc"  # oncology
trials = ["NCT06850103"]

[[watch]]
name = "cardio"
trials = ["NCT02552212"]
"""


def config(tmp_path: Path, text: str = START) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_add_takes_study_urls_with_query_strings(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = run_cli(
        path,
        "add",
        "https://clinicaltrials.gov/study/NCT05180006?tab=history&a=1#main",
        "https://www.clinicaltrials.gov/ct2/show/nct04280705",
        "--watch",
        "onc",
    )
    assert result.exit_code == 0, result.stderr
    data = tomllib.loads(path.read_text())
    assert data["watch"][0]["trials"] == ["NCT06850103", "NCT05180006", "NCT04280705"]
    assert "# my trials (a comment that must survive)" in path.read_text()


def test_a_url_that_is_not_a_study_page_changes_nothing(tmp_path: Path) -> None:
    path = config(tmp_path)
    for url, words in (
        (SEARCH, "a search URL: ctwatch add --search URL --name NAME"),
        ("https://example.org/study/NCT05180006", "not a study URL"),
    ):
        result = run_cli(path, "add", url, "--watch", "onc")
        assert result.exit_code == 2 and words in result.stderr
        assert path.read_text() == START


def test_add_search_writes_a_search_table(tmp_path: Path) -> None:
    path = config(tmp_path)
    result = run_cli(
        path, "add", "--search", SEARCH, "--name", "rectal", "--slack", "#trial-alerts"
    )
    assert result.exit_code == 0, result.stderr
    assert "added search “rectal” → #trial-alerts" in result.stdout
    text = path.read_text()
    assert text.startswith(START)  # everything before it, comments included, untouched
    (search,) = tomllib.loads(text)["search"]
    assert search == {"name": "rectal", "url": SEARCH, "slack": ["#trial-alerts"]}
    assert "\n\n[[search]]\n" in text


def test_add_search_is_validated_before_anything_is_written(tmp_path: Path) -> None:
    path = config(tmp_path, START.replace('[slack]\ntoken = "${SLACK_BOT_TOKEN}"', ""))
    before = path.read_text()
    cases = [
        (("--search", SEARCH, "--name", "r", "--slack", "#x"), "no [slack] section"),
        (("--search", SEARCH, "--name", "onc"), "already named 'onc'"),
        (("--search", SEARCH.replace("cond=", "condition="), "--name", "r"), "'cond'"),
        (("--search", SEARCH), "--search needs --name NAME"),
        (("NCT05180006", "--name", "x"), "--name, --slack and --email go with --search"),
    ]
    for args, words in cases:
        result = run_cli(path, "add", *args)
        assert result.exit_code == 2, args
        assert words in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert path.read_text() == before


def test_search_save_prints_the_parameters_then_saves(tmp_path: Path) -> None:
    path = config(tmp_path)
    text = path.read_text() + f'\n[registry]\nurl = "http://127.0.0.1:{closed_port()}/api/v2"\n'
    path.write_text(text)
    result = run_cli(path, "search", SEARCH, "--save", "rectal")
    assert result.stdout.startswith("API parameters:\n")
    assert "added search “rectal” → the console" in result.stdout
    assert result.exit_code == 1  # saved, but the registry could not be asked for a preview
    assert [s["name"] for s in tomllib.loads(path.read_text())["search"]] == ["rectal"]


def test_remove_a_search_and_a_whole_watch(tmp_path: Path) -> None:
    path = config(tmp_path)
    assert run_cli(path, "add", "--search", SEARCH, "--name", "rectal").exit_code == 0
    removed = run_cli(path, "remove", "--search", "rectal")
    assert removed.exit_code == 0, removed.stderr
    assert "search" not in tomllib.loads(path.read_text())
    gone = run_cli(path, "remove", "--watch", "cardio", "--all")
    assert gone.exit_code == 0, gone.stderr
    assert [w["name"] for w in tomllib.loads(path.read_text())["watch"]] == ["onc"]
    assert path.read_text().startswith("# my trials (a comment that must survive)")


def test_removals_that_cannot_be_made_write_nothing(tmp_path: Path) -> None:
    path = config(tmp_path, START.split('\n[[watch]]\nname = "cardio"', maxsplit=1)[0])
    before = path.read_text()
    cases = [
        (("--search", "nope"), "--search: no search named 'nope' (searches: none)"),
        (("--watch", "nope", "--all"), "--watch: no watch named 'nope' (watches: onc)"),
        (("--watch", "onc", "--all"), "required key is missing"),  # nothing left to watch
        (("--all",), "--all deletes a whole watch: give --watch NAME"),
        (("NCT06850103", "--watch", "onc"), "ctwatch remove --watch onc --all"),
    ]
    for args, words in cases:
        result = run_cli(path, "remove", *args)
        assert result.exit_code == 2, args
        assert words in result.stderr, (args, result.stderr)
        assert path.read_text() == before


def test_long_trial_lists_are_written_one_id_per_line(tmp_path: Path) -> None:
    path = config(tmp_path)
    ids = [f"NCT0{n}000000" for n in range(1, 6)]
    assert run_cli(path, "add", *ids, "--watch", "onc").exit_code == 0
    text = path.read_text()
    assert 'trials = [\n    "NCT06850103",\n    "NCT01000000",\n' in text
    assert 'trials = ["NCT02552212"]' in text  # a short list stays on one line
    assert tomllib.loads(text)["watch"][0]["trials"] == ["NCT06850103", *ids]
