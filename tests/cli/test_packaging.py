"""What ships: the offline demo, the Dockerfile and the example config in the image."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from tests.conftest import run_cli
from tests.support.paths import REPO
from watcher.cli import main
from watcher.config import load_config


def test_demo_runs_offline() -> None:
    result = run_cli(None, "demo", "--no-pause")
    assert result.exit_code == 0
    out = result.stdout
    assert "checked 3 · changed 0 · new 3" in out
    assert "NCT06850103 — SCRT-CAPEOX-Serplulimab" in out
    assert "  Overall Status: Recruiting → Active, not recruiting" in out
    assert "  Why Stopped: (none) → Abandon of the partner, ROCHE" in out
    assert "  [HIGH] Overall status changed from Recruiting to Terminated" in out  # events lead
    assert "(demo record): Only administrative dates changed" in out  # one quiet line
    assert "(registry requests this check: 2)" in out  # probe + one batch
    assert "(registry requests this check: 1)" in out  # probe only: nothing new
    assert "checked 3 · changed 3 · new 0 · not found 0 · errors 0 · alerts sent 3" in out
    assert "ctwatch status" in out and "Terminated" in out and "Alerts: 3 sent" in out


def test_dockerfile_matches_the_docs() -> None:
    text = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER ctwatch$", text, re.M) and "useradd" in text
    assert "VOLUME /data" in text
    assert 'ENTRYPOINT ["ctwatch"]' in text and 'CMD ["run"]' in text
    assert 'CMD ["ctwatch", "health"]' in text
    assert "CTWATCH_CONFIG=/config/ctwatch.toml" in text
    assert "pip install ." in text
    main.load_all()
    assert {"run", "health"} <= set(main.commands)  # what the image runs exists
    page = (REPO / "docs" / "service" / "docker.md").read_text()
    assert "-v ctwatch-data:/data" in page and '-v "$PWD/config:/config:ro"' in page


def test_example_config_in_the_image_puts_the_database_on_the_volume(tmp_path: Path) -> None:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "ctwatch.toml").write_text((REPO / "config" / "ctwatch.toml").read_text())
    config = load_config(folder / "ctwatch.toml", {})
    assert config.database.path == str(tmp_path / "data" / "ctwatch.db")  # /config/.. -> /data


def test_ci_runs_the_suite_in_parallel_with_what_the_test_extra_installs() -> None:
    """CI's last step is the README's test command; pytest-xdist (its ``-n auto``) comes
    with ``pip install -e ".[test]"``, which is how CI and a contributor get it."""
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == "python -m pytest -n auto"
    assert 'python -m pip install --quiet -e ".[test]"' in ci
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(
        r.startswith("pytest-xdist") for r in project["project"]["optional-dependencies"]["test"]
    )
    # `license = "MIT"` (an SPDX expression) needs setuptools 77 to build
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
