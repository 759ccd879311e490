"""Slack test setup shared by the delivery tests: the Slack double and a config for it."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.slack_double import SlackDouble
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, seed_study

TOKEN = "xoxb-test-token"
ENV = {"SLACK_BOT_TOKEN": TOKEN}


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble(
        channels=("#trial-alerts", "#oncology", "#private"),
        member_of=("#trial-alerts", "#oncology"),
    ) as double:
        yield double


def slack_config(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,
    trials: list[str],
    watch_extra: str = 'slack = ["#trial-alerts"]',
    more: str = "",
    retries: int = 0,
    digest_over: int = 10,
) -> Path:
    extra = f'\n[slack]\ntoken = "${{SLACK_BOT_TOKEN}}"\napi_url = "{slack.url}"\nretries = {retries}\ndigest_over = {digest_over}\ntimeout = "5s"\n'
    path = write_config(tmp_path, registry.url, trials, extra=extra, watch_extra=watch_extra)
    path.write_text(path.read_text() + more)
    return path


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code in (0, 1), result.stderr
    assert TOKEN not in result.stdout + result.stderr
    return result.stdout + result.stderr


def outbox(tmp_path: Path) -> list[tuple[str, str, int, str | None]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute(
            "SELECT destination, status, attempts, last_error FROM outbox ORDER BY id"
        ).fetchall()


def baseline_then_change(config: Path, registry: RegistryDouble, **edits: str) -> None:
    registry.put(seed_study())
    check(config)
    registry.put(changed(seed_study(), **edits))
