"""Trouble is told once: failing checks after ``trouble_after`` cycles, a trial gone, and the end."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, make_study, seed_study

OTHER = "NCT01234567"


def check(config: Path) -> str:
    result = run_cli(config, "check")
    assert "Traceback" not in result.stderr
    return result.stdout


def test_failing_checks_are_told_once_after_three_cycles_and_their_end_once(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    good = write_config(tmp_path, registry.url, [SEED_NCT])
    with RegistryDouble() as gone:
        dead_url = gone.url
    bad = write_config(tmp_path, dead_url, [SEED_NCT], name="down.toml")
    assert "checks are failing" not in check(good)
    outputs = [check(bad) for _ in range(5)]
    told = [i for i, out in enumerate(outputs) if "ctwatch: checks are failing" in out]
    assert told == [2]  # the third failed cycle in a row, and only that one
    assert "The last 3 checks could not be completed" in outputs[2]
    assert "cannot reach the registry at http://127.0.0.1:" in outputs[2]
    recovered = check(good)
    assert "ctwatch: checks work again" in recovered
    assert "checks work again" not in check(good)


def test_two_failures_then_success_tell_nobody(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    good = write_config(tmp_path, registry.url, [SEED_NCT])
    registry.fail_next(503, "down", times=6, path_prefix="/api/v2")
    outs = [check(good), check(good), check(good)]
    assert not any("ctwatch: checks" in out for out in outs)


def test_a_trial_gone_from_the_registry_is_told_once_and_its_return_too(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = write_config(tmp_path, registry.url, [SEED_NCT, OTHER])
    check(config)
    registry.remove(OTHER)
    first = check(config)
    assert f"ctwatch: {OTHER} is no longer in the registry" in first
    assert f"https://clinicaltrials.gov/study/{OTHER}?tab=history" in first
    assert "is no longer in the registry" not in check(config)
    registry.put(make_study(OTHER, "Another trial"))
    back = check(config)
    assert f"ctwatch: {OTHER} is back in the registry" in back
    assert "back in the registry" not in check(config)


def test_a_never_seen_unknown_trial_is_not_a_disappearance(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    config = write_config(tmp_path, registry.url, [SEED_NCT, "NCT09999999"])
    out = check(config) + check(config)
    assert "no longer in the registry" not in out
