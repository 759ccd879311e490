"""Teams and webhook test setup: the doubles, a config naming them, and a masked check.

The URLs reach the config as ``${VAR}`` references, as the README tells users
to write them; every command's output is checked for the URL's secrets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from click.testing import Result

from tests.conftest import database_text, run_cli, write_config
from tests.support.teams_double import TeamsDouble
from tests.support.webhook_receiver import WebhookReceiver
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, seed_study

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwQ2Ux2dNg7kE="
TEAMS_SIG = "wF3kq9ZC0t4lRr2hYpO1xN8mS7vB6uA5eD4cX3zQ2yK"


@pytest.fixture
def teams() -> Iterator[TeamsDouble]:
    with TeamsDouble(signature=TEAMS_SIG) as double:
        yield double


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver(SECRET, path="/hooks/ctwatch-7f3a9c") as double:
        yield double


def hook_config(
    tmp_path: Path,
    registry: RegistryDouble,
    trials: list[str],
    watch_extra: str,
    extra: str = "",
    more: str = "",
) -> Path:
    """A config whose watch sends to ``watch_extra``'s destinations (``${VAR}`` URLs)."""
    path = write_config(tmp_path, registry.url, trials, extra=extra, watch_extra=watch_extra)
    path.write_text(path.read_text() + more)
    return path


def run(config: Path, *args: str, env: Mapping[str, str], secrets: tuple[str, ...]) -> Result:
    """``ctwatch ARGS``, asserting no secret reached stdout or stderr."""
    result = run_cli(config, *args, env=dict(env))
    for secret in secrets:
        assert secret not in result.stdout + result.stderr, f"{secret!r} leaked by {args}"
    return result


def outbox(tmp_path: Path) -> list[tuple[str, str, int, str | None]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute(
            "SELECT destination, status, attempts, last_error FROM outbox ORDER BY id"
        ).fetchall()


def assert_nothing_stored(tmp_path: Path, *secrets: str) -> None:
    text = database_text(tmp_path / "ctwatch.db")
    for secret in secrets:
        assert secret not in text, f"{secret!r} reached the database"


def baseline_then_change(
    config: Path, registry: RegistryDouble, env: Mapping[str, str], **edits: str
) -> None:
    """A silent baseline of the seed trial, then ``edits`` published for the next check."""
    registry.put(seed_study())
    assert run_cli(config, "check", env=dict(env)).exit_code == 0
    registry.put(changed(seed_study(), **edits))
