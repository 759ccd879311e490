"""Shared fixtures: the registry double, config files, the CLI runner.

Registry data is read from tests/fixtures/ctgov (provenance and licences in
tests/fixtures/MANIFEST.tsv and NOTICE), so a plain clone runs every test.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from tests.support.paths import CTGOV
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


def fixture_file(*parts: str) -> Path:
    """A file under tests/fixtures/ctgov; a missing one fails the test (never a skip)."""
    path = CTGOV.joinpath(*parts)
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not in tests/fixtures (see its MANIFEST.tsv)")
    return path


def load_fixture(*parts: str) -> dict[str, Any]:
    """The JSON object of a file under tests/fixtures/ctgov."""
    data: dict[str, Any] = json.loads(fixture_file(*parts).read_text(encoding="utf-8"))
    return data


# The names tests used while the records lived outside the clone (same layout).
SHARED_CTGOV = CTGOV
shared_file = fixture_file
load_shared = load_fixture


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """``-n auto``: two workers per core. Over half of the suite's wall time is waiting
    (servers that trickle on purpose, deadlines, processes starting and stopping), not
    CPU: run one after the other, its tests take about 150 s for 65 s of CPU, so more
    workers than cores overlap the waits. ``PYTEST_XDIST_AUTO_NUM_WORKERS`` still
    decides when set (None hands over to xdist's own hook, which reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    affinity = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every CPU
    cores = len(affinity(0)) if affinity is not None else (os.cpu_count() or 1)
    return 2 * cores


# What a caller's shell could set that changes what ctwatch prints or where it connects:
# a test sees the same environment from a terminal, a pipe, CI or an xdist worker
# (xdist workers get COLUMNS=80 and LINES=24, which made `status` cut titles).
PINNED_ENV = {
    "TZ": "UTC",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "NO_PROXY": "127.0.0.1,localhost",
    "PYTHONIOENCODING": "utf-8",
}
UNSET_ENV = (
    "COLUMNS", "LINES", "FORCE_COLOR", "CLICOLOR_FORCE", "PY_COLORS", "LANGUAGE",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
)  # fmt: skip


@pytest.fixture(autouse=True)
def pinned_environment() -> Iterator[None]:
    """Every test runs with :data:`PINNED_ENV`, without :data:`UNSET_ENV` or any
    ``CTWATCH_*`` variable of the caller's (but ``CTWATCH_UPDATE_GOLDEN``, which asks
    the golden tests to rewrite their files); the caller's environment comes back after."""
    saved = dict(os.environ)
    ours = [n for n in os.environ if n.startswith("CTWATCH_") and n != "CTWATCH_UPDATE_GOLDEN"]
    for name in [*UNSET_ENV, *ours]:
        os.environ.pop(name, None)
    os.environ.update(PINNED_ENV)
    time.tzset()
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        time.tzset()


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
