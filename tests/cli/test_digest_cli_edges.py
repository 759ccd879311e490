"""a cron digest that never fires is accepted, then status/list crash."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


@pytest.mark.parametrize("command", [("config", "check"), ("list",), ("status",), ("digest",)])
def test_a_digest_that_never_fires_is_refused_with_exit_2(
    tmp_path: Path, registry: RegistryDouble, command: tuple[str, ...]
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra='digest = "0 8 30 2 *"')
    result = run_cli(config, *command)
    assert result.exit_code == 2
    assert "Traceback" not in result.stderr
    assert "digest" in result.stderr


def test_check_with_a_never_firing_digest_fails_instead_of_holding_changes_forever(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra='digest = "0 8 30 2 *"')
    registry.put(seed_study())
    first = run_cli(config, "check")
    registry.put(changed(seed_study(), status="SUSPENDED"))
    second = run_cli(config, "check")
    assert first.exit_code == second.exit_code == 2  # refused at load: nothing is held
    assert not (tmp_path / "ctwatch.db").exists()


def test_digest_send_of_one_quiet_alert_does_not_say_nothing_was_sent(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='quiet_hours = "00:00-23:59"'
    )
    registry.put(seed_study())
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(seed_study(), status="SUSPENDED"))
    assert run_cli(config, "check").exit_code == 0
    result = run_cli(config, "digest", "send", "--watch", "test")
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        after = conn.execute("SELECT kind, status FROM outbox").fetchall()
    assert after == [("change", "digested"), ("digest", "sent")]  # sent now, as asked
    assert "nothing waiting" not in result.stdout
