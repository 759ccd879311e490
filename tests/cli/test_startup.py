"""Everyday commands start without the heavy modules (issue 21.10).

Each case runs ``ctwatch`` in a fresh interpreter and lists what it imported:
``--help`` needs none of the service stack, and ``status``/``history`` read the
database without Bolt, uvicorn, Starlette, Jinja2, APScheduler or the demo's
doubles. Timings live in ``bench/startup.py``, not here.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, seed_study

ROOT = Path(__file__).resolve().parents[2]

NEVER = ("slack_bolt", "uvicorn", "starlette", "jinja2", "apscheduler", "watcher.testing", "httpx",
         "watcher.web", "prometheus_client", "slack_sdk")  # fmt: skip
"""Never imported by --help, status or history (they read; no network client)."""
NOT_FOR_HELP = (*NEVER, "watcher.app", "watcher.store", "sqlite_utils", "httpx", "pydantic",
                "tomlkit", "rich", "watcher.config.model")  # fmt: skip
"""``ctwatch --help`` reads no config and opens no database."""

PROBE = """
import json, sys
from watcher.cli import main
try:
    main(sys.argv[2:])
except SystemExit:
    pass
with open(sys.argv[1], "w") as out:
    json.dump(sorted(sys.modules), out)
"""


def imported(tmp_path: Path, *args: str) -> set[str]:
    """The modules a fresh ``ctwatch ARGS`` process had imported when it finished."""
    listing = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", PROBE, str(listing), *args],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=120,
    )
    return set(json.loads(listing.read_text()))


def loaded(modules: set[str], forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        name for name in forbidden if any(m == name or m.startswith(name + ".") for m in modules)
    )


def test_help_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = imported(tmp_path, "--help")
    assert "watcher.cli.main" in modules  # the probe really ran the command line
    assert loaded(modules, NOT_FOR_HELP) == []


def test_a_command_help_imports_nothing_heavy(tmp_path: Path) -> None:
    modules = imported(tmp_path, "status", "--help")
    assert loaded(modules, NOT_FOR_HELP) == []


@pytest.mark.parametrize("command", [("status",), ("history", SEED_NCT), ("list",)])
def test_reading_commands_leave_the_service_stack_alone(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    config = tmp_path / "ctwatch.toml"
    with RegistryDouble([seed_study()]) as registry:
        config.write_text(
            f'[registry]\nurl = "{registry.url}"\npace = 0\n[database]\npath = "ct.db"\n'
            f'[[watch]]\nname = "w"\ntrials = ["{SEED_NCT}"]\n',
            encoding="utf-8",
        )
        assert run_cli(config, "check").exit_code == 0
    modules = imported(tmp_path, "--config", str(config), *command)
    assert "watcher.store" in modules or command == ("list",)  # it did read something
    assert loaded(modules, NEVER) == []


def test_the_command_table_names_each_command_where_it_is_defined() -> None:
    """``COMMANDS`` is how a command's module is found without importing every one: a
    command missing from it, or filed under the wrong module, fails here."""
    import watcher.cli  # noqa: PLC0415
    from watcher.cli.main import COMMANDS, main  # noqa: PLC0415

    for module in pkgutil.iter_modules(watcher.cli.__path__):  # every module, listed or not
        importlib.import_module(f"watcher.cli.{module.name}")
    defined = {name: (cmd.callback.__module__ if cmd.callback else "") for name, cmd in
               main.commands.items()}  # fmt: skip
    assert defined == {name: f"watcher.cli.{module}" for name, module in COMMANDS.items()}


def test_a_command_imports_only_its_own_module(tmp_path: Path) -> None:
    modules = imported(tmp_path, "history", "--help")
    assert "watcher.cli.history" in modules
    assert (
        loaded(modules, ("watcher.cli.backfill", "watcher.cli.service", "watcher.cli.demo")) == []
    )
