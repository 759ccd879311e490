"""The README is a front page: small, its commands true, its links alive.

The full documentation lives in ``docs/`` (a MkDocs site); the README keeps
what a visitor needs first. Its test command is the one CI runs, and its
example config is valid.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import load_config

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
MAX_README_BYTES = 12 * 1024


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_the_readme_stays_a_front_page() -> None:
    assert len(README.read_bytes()) <= MAX_README_BYTES


def test_the_readme_test_command_is_the_one_ci_runs() -> None:
    commands = [line for block in blocks("sh") for line in block.splitlines()]
    assert 'pip install -e ".[test]" && python -m pytest -n auto' in commands
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert lines[-1] == "python -m pytest -n auto"  # CI's last step is the README's command


def test_the_readme_quick_start_runs_the_example_config() -> None:
    commands = [line for block in blocks("sh") for line in block.splitlines()]
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install . && ctwatch check" in (
        commands
    )
    config = load_config(REPO / "config" / "ctwatch.toml", {})  # what `ctwatch check` reads
    assert "NCT06850103" in config.trials  # the trial the README names


def test_the_readme_links_reach_docs_pages() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README.read_text(encoding="utf-8"))
    local = [link for link in links if not link.startswith(("http://", "https://"))]
    assert len(local) > 20
    for link in local:
        assert (REPO / link).is_file(), f"README links to {link}, which does not exist"


def test_the_readme_example_config_is_valid(tmp_path: Path) -> None:
    (toml,) = blocks("toml")
    path = tmp_path / "ctwatch.toml"
    path.write_text(toml, encoding="utf-8")
    config = load_config(path, {"SLACK_BOT_TOKEN": "xoxb-test"})
    assert [w.name for w in config.watch] == ["rectal-cancer"]
    assert [s.name for s in config.search] == ["rectal-io"]


@pytest.mark.parametrize("page", sorted((REPO / "docs").rglob("*.md")), ids=lambda p: p.name)
def test_every_docs_page_is_in_the_nav(page: Path) -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    assert f" {page.relative_to(REPO / 'docs').as_posix()}\n" in nav


def test_the_readme_alert_is_what_the_demo_prints() -> None:
    text = README.read_text(encoding="utf-8")
    alert = text.split("\n```\nNCT05180006", 1)[1].split("```", 1)[0]
    alert = "NCT05180006" + alert
    demo = run_cli(None, "demo", "--no-pause")
    assert demo.exit_code == 0, demo.stderr
    for line in alert.splitlines():
        if line.strip():
            assert line in demo.stdout.splitlines(), f"the demo does not print {line!r}"
