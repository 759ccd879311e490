"""One numbering (issue 21.3): what `history` prints is what `diff` and `show` take, and a
backfill renumbers nothing anyone has seen."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.histories import next_version, publish, seed_history
from watcher.testing.registry_double import RegistryDouble

NCT = "NCT06850103"


@pytest.fixture
def seen_twice(tmp_path: Path, registry: RegistryDouble) -> Path:
    """A baseline (registry version 4) and one observed change (registry version 5)."""
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(NCT, sample.versions)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    publish(registry, next_version(sample.current, "2026-02-02", why_stopped="Funding"))
    assert run_cli(config, "check").exit_code == 0
    return config


def names(history_text: str) -> list[str]:
    """The version names `history` printed, in its order."""
    return re.findall(r"^(#\d+|r\d+) · ", history_text, re.M)


def test_the_numbers_history_prints_are_the_ones_diff_and_show_take(seen_twice: Path) -> None:
    text = run_cli(seen_twice, "history", NCT).stdout
    assert names(text) == ["#2", "#1"]
    diff = run_cli(seen_twice, "diff", NCT, "1", "2")
    assert diff.exit_code == 0, diff.stderr
    assert "  Why Stopped: (none) → Funding" in diff.stdout
    assert run_cli(seen_twice, "diff", NCT, "#1", "#2").stdout == diff.stdout
    shown = json.loads(run_cli(seen_twice, "show", NCT, "--version", "1").stdout)
    assert "whyStopped" not in shown["protocolSection"]["statusModule"]
    assert json.loads(run_cli(seen_twice, "show", NCT, "--version", "2").stdout) == json.loads(
        run_cli(seen_twice, "show", NCT).stdout
    )


def test_a_backfill_renumbers_nothing_and_names_imports_by_registry_number(
    seen_twice: Path,
) -> None:
    before = run_cli(seen_twice, "history", NCT).stdout
    diff_before = run_cli(seen_twice, "diff", NCT, "1", "2").stdout
    assert run_cli(seen_twice, "backfill", NCT).exit_code == 0
    after = run_cli(seen_twice, "history", NCT).stdout
    assert names(after) == ["#2", "#1", "r3", "r2", "r1"]
    # what was printed before is printed again, now with the registry's numbers beside it
    assert "#2 · registry version 5 · 2026-02-02 · Recruiting · observed" in after
    assert "#1 · registry version 4 · 2025-11-30 · Recruiting · observed" in after
    assert names(before) == ["#2", "#1"]
    diff_after = run_cli(seen_twice, "diff", NCT, "1", "2").stdout
    assert (
        diff_after.splitlines()[2:] != []
        and diff_after.splitlines()[2:-1] == (diff_before.splitlines()[2:-1])
    )  # the same changes; the link is now the registry's exact comparison
    assert diff_after.splitlines()[-1].endswith("&a=4&b=5#version-content-panel")
    # registry numbers: shown beside, taken with --registry, the same versions
    by_registry = run_cli(seen_twice, "diff", NCT, "--registry", "4", "5").stdout
    assert by_registry == diff_after
    assert run_cli(seen_twice, "show", NCT, "--registry", "3").stdout == (
        run_cli(seen_twice, "show", NCT, "--version", "r3").stdout
    )


def test_bad_version_names_are_one_line_and_exit_2(seen_twice: Path) -> None:
    for args, message in (
        (("diff", NCT, "1", "x2"), "'x2' is not a version (3, #3, r7) or 'latest'"),
        (("diff", NCT, "--registry", "#1", "2"), "'#1' is not a registry version number"),
        (("show", NCT, "--version", "1", "--registry", "4"), "give --version or --registry"),
        (("diff", NCT, "1", "7"), f"{NCT}: no version #7 (versions: #1, #2)"),
    ):
        result = run_cli(seen_twice, *args)
        assert result.exit_code == 2, args
        assert message in result.stderr and len(result.stderr.splitlines()) == 1
        assert result.stdout == ""
