"""Names that no URL can reach and a public_url no link can use are refused at load:
``ctwatch config check`` exits 2 with one line naming the key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli

BASE = """
[registry]
url = "http://127.0.0.1:9/api/v2"

[database]
path = "ctwatch.db"
"""


def _check(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "ctwatch.toml"
    path.write_text(BASE + text, encoding="utf-8")
    result = run_cli(path, "config", "check")
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    return result.exit_code, lines


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("line\nbreak", "control character"),
        ("tab\there", "control character"),
        ("bell\a", "control character"),
        (" oncology", "spaces at its start or end"),
        ("oncology ", "spaces at its start or end"),
        ("  ", "spaces at its start or end"),
    ],
)
@pytest.mark.parametrize("table", ["watch", "search"])
def test_a_name_no_url_reaches_is_refused_naming_the_key(
    tmp_path: Path, table: str, name: str, reason: str
) -> None:
    body = (
        'trials = ["NCT06850103"]'
        if table == "watch"
        else 'url = "https://clinicaltrials.gov/search?cond=asthma"'
    )
    code, lines = _check(tmp_path, f"\n[[{table}]]\nname = {json.dumps(name)}\n{body}\n")
    assert code == 2
    problems = [line for line in lines if "name" in line]
    assert len(problems) == 1, lines
    assert f"{table}" in problems[0] and reason in problems[0], problems[0]


def test_ordinary_names_still_load(tmp_path: Path) -> None:
    text = (
        '\n[[watch]]\nname = "Oncology / phase 3 é"\ntrials = ["NCT06850103"]\n'
        '\n[[search]]\nname = "asthma, recruiting"\n'
        'url = "https://clinicaltrials.gov/search?cond=asthma"\n'
    )
    code, lines = _check(tmp_path, text)
    assert code == 0, lines


WATCH = '\n[[watch]]\nname = "oncology"\ntrials = ["NCT06850103"]\n'


@pytest.mark.parametrize(
    "url",
    [
        "https://ctwatch.example.org/?x=1",
        "https://ctwatch.example.org#top",
        "https://ctwatch.example.org/app?",
    ],
)
def test_a_public_url_with_a_query_or_fragment_is_refused(tmp_path: Path, url: str) -> None:
    server = f'\n[server]\nlisten = "127.0.0.1:0"\npublic_url = "{url}"\n'
    code, lines = _check(tmp_path, server + WATCH)
    assert code == 2
    assert len(lines) == 1 and "public_url" in lines[0] and "query or fragment" in lines[0], lines


def test_a_public_url_with_a_path_prefix_loads(tmp_path: Path) -> None:
    text = '\n[server]\nlisten = "127.0.0.1:0"\npublic_url = "https://example.org/ctwatch/"\n'
    code, lines = _check(tmp_path, text + WATCH)
    assert code == 0, lines
