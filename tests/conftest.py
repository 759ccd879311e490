"""Shared fixtures: the registry double, config files, the CLI runner.

Real registry data is read from ../shared/ctgov (next to the repository) and
tests that need it skip cleanly when it is absent.
"""

from __future__ import annotations

import io
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from watcher.app import App
from watcher.cli import main
from watcher.config import Config
from watcher.daemon.scheduler import ConfigSource, Daemon
from watcher.store import RunRecord
from watcher.testing.registry_double import RegistryDouble

pytest_plugins = [
    "tests.support.slack_setup",
    "tests.support.hook_setup",
]  # doubles' fixtures, every module

SHARED_CTGOV = Path(__file__).resolve().parents[2] / "shared" / "ctgov"


def shared_file(*parts: str) -> Path:
    """A file under ../shared/ctgov, or skip the test when it is not there."""
    path = SHARED_CTGOV.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def load_shared(*parts: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(shared_file(*parts).read_text(encoding="utf-8"))
    return data


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    with RegistryDouble() as double:
        yield double


def write_config(
    folder: Path,
    url: str,
    trials: Sequence[str],
    *,
    extra: str = "",
    watch_extra: str = "",
    name: str = "ctwatch.toml",
    incremental: bool = False,
) -> Path:
    """A config pointing at ``url`` with no pacing or backoff (tests never sleep).

    Incremental fetching is off unless asked for: these tests publish edits
    without moving the registry's dataTimestamp; tests/cycle/test_incremental.py
    covers the probe and incremental paths with realistic registry updates.
    """
    trial_list = ", ".join(f'"{t}"' for t in trials)
    text = f"""
[registry]
url = "{url}"
pace = 0
backoff = 0
retries = 2
incremental = {str(incremental).lower()}

[database]
path = "ctwatch.db"
{extra}
[[watch]]
name = "test"
trials = [{trial_list}]
{watch_extra}
"""
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def run_cli(config: Path | None, *args: str, env: dict[str, str] | None = None) -> Result:
    """Run ``ctwatch [--config PATH] ARGS`` in-process; stdout and stderr kept apart."""
    argv = (["--config", str(config)] if config else []) + list(args)
    return CliRunner().invoke(main, argv, env=env, catch_exceptions=False)


def database_text(db: Path) -> str:
    """Every value of every table, as text: what a secret would have to hide in."""
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row) for table in tables for row in conn.execute(f'SELECT * FROM "{table}"')
        )


def finished_run(finished_at: str, error: str | None = None) -> RunRecord:
    """A run record as the store returns it, finished at ``finished_at``."""
    return RunRecord(
        id=1, started_at=finished_at, finished_at=finished_at, checked=1, changed=0, new=0,
        not_found=0, errors=0, requests=1, complete=error is None, data_timestamp=None,
        error=error, mode="full",
    )  # fmt: skip


def daemon_for(path: Path) -> Daemon[App]:
    source = ConfigSource(path)
    config = source.read_if_changed()
    assert config is not None

    def build(cfg: Config, sleep: Callable[[float], None]) -> App:
        return App.build(cfg, out=io.StringIO(), sleep=sleep)

    return Daemon(source, config, build)
