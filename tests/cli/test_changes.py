"""`ctwatch changes`: the cross-trial change log, in text, JSON and CSV, streamed."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.histories import next_version, publish, seed_history
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

NCT = "NCT06850103"
OTHER = "NCT01234567"


@pytest.fixture
def logged(tmp_path: Path, registry: RegistryDouble) -> Path:
    """Two trials: a status change of OTHER, then a change of NCT; NCT's history imported."""
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(NCT, sample.versions)
    other = make_study(OTHER, "Another trial", status="RECRUITING")
    registry.put(other)
    config = write_config(
        tmp_path, registry.url, [NCT],
        watch_extra=f'\n[[watch]]\nname = "second"\ntrials = ["{OTHER}"]\n',
    )  # fmt: skip
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(other, status="COMPLETED"))
    assert run_cli(config, "check").exit_code == 0
    publish(registry, next_version(sample.current, "2026-02-02", why_stopped="Funding"))
    assert run_cli(config, "check").exit_code == 0
    assert run_cli(config, "backfill", NCT).exit_code == 0
    return config


def test_text_groups_changes_under_their_version(logged: Path) -> None:
    result = run_cli(logged, "changes", "--watch", "second")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{OTHER} #2 · observed 20") and lines[0].endswith(
        " — Another trial"
    )
    everything = run_cli(logged, "changes").stdout.splitlines()
    headings = [line for line in everything if line.startswith("NCT")]
    assert all(len(line) <= 80 for line in headings)
    assert any(line.startswith(f"{NCT} #2 · registry 5 · observed 20") for line in headings)
    assert "  Overall Status: Recruiting → Completed" in lines
    assert NCT not in result.stdout


def test_json_and_csv_carry_every_column(logged: Path) -> None:
    data = json.loads(run_cli(logged, "changes", "--json").stdout)
    sources = {(d["nct_id"], d["version"], d["source"]) for d in data}
    assert (OTHER, "#2", "observed") in sources
    assert (NCT, "#2", "observed") in sources
    assert any(nct == NCT and ref.startswith("r") and src == "imported"
               for nct, ref, src in sources)  # fmt: skip
    funding = next(d for d in data if d["label"] == "Why Stopped")
    assert {k: funding[k] for k in ("number", "registry_version", "old", "new")} == {
        "number": 2, "registry_version": 5, "old": None, "new": "Funding"
    }  # fmt: skip
    assert funding["title"].startswith("SCRT-CAPEOX") and funding["seen_at"].endswith("Z")
    table = list(csv.DictReader(io.StringIO(run_cli(logged, "changes", "--csv").stdout)))
    assert len(table) == len(data)
    assert table[0].keys() == data[0].keys()
    assert [r["version"] for r in table] == [d["version"] for d in data]


def test_filters_by_trial_and_time(logged: Path) -> None:
    only = json.loads(run_cli(logged, "changes", "--json", OTHER.lower()).stdout)
    assert {d["nct_id"] for d in only} == {OTHER}
    for recent in ("7d", "2w", "400d", "90 m", "999999w"):
        assert json.loads(run_cli(logged, "changes", "--json", "--since", recent).stdout) != []
    later = run_cli(logged, "changes", "--since", "2999-01-01")
    assert later.exit_code == 0 and later.stdout == "no changes recorded since 2999-01-01\n"
    assert json.loads(run_cli(logged, "changes", "--json", "--since", "2999-01-01").stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--since", "soon"), "--since: 'soon' is not a duration (7d, 12h, 2w) or a date"),
        (("--since", "2026-13-45"), "--since: '2026-13-45' is not a duration"),
        (("--watch", "nope"), "--watch: no watch or search named 'nope' (known: test, second)"),
        (("NCT123",), "NCT123"),
    ],
)
def test_bad_input_is_one_line_exit_2(logged: Path, args: tuple[str, ...], message: str) -> None:
    result = run_cli(logged, "changes", *args)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert result.stdout == ""


def test_without_a_database_it_creates_nothing(tmp_path: Path, registry: RegistryDouble) -> None:
    config = write_config(tmp_path, registry.url, [NCT])
    result = run_cli(config, "changes")
    assert result.exit_code == 1 and "no database yet" in result.stderr
    assert not (tmp_path / "ctwatch.db").exists()
