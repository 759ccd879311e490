"""A batch is recorded without a savepoint per trial, and again with them after a fault.

``Pipeline._record`` first records a batch in one plain transaction (a savepoint per
trial costs a tenth of a baseline). A trial that fails there, even after some of its
writes, undoes the whole transaction, and the batch is recorded again trial by trial:
the failing trial keeps its error and nothing else of it, every other trial is recorded
exactly once, and the cycle's counts count each trial once.

The fault is injected into the typed-facts step, which runs after a trial's row and its
version were written: the point where a missing savepoint would leave half a trial.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from watcher.core.events.classify import classify as real_classify
from watcher.core.facts import facts as real_facts
from watcher.cycle import pipeline, versioning
from watcher.cycle.versioning import Versioning
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study

TRIALS = [f"NCT0000000{i}" for i in range(1, 6)]
BAD = "NCT00000003"


@pytest.fixture
def faulty_facts(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``facts`` raises for BAD's record, every time (the redo meets it again)."""
    seen: list[str] = []

    def facts(record: Any) -> tuple[Any, ...]:
        nct = record["protocolSection"]["identificationModule"]["nctId"]
        seen.append(nct)
        if nct == BAD:
            raise ValueError("a record the facts cannot read")
        return real_facts(record)

    monkeypatch.setattr("watcher.store.versions.facts", facts)
    return seen


def test_a_fault_after_a_trials_first_writes_leaves_nothing_of_it(
    tmp_path: Path, faulty_facts: list[str]
) -> None:
    with RegistryDouble([make_study(n, f"Trial {n}") for n in TRIALS]) as registry:
        config = write_config(tmp_path, registry.url, TRIALS)
        result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    assert "checked 4 · changed 0 · new 4 · not found 0 · errors 1" in result.stdout
    assert f"{BAD}: could not record: unexpected ValueError" in result.stderr
    with sqlite3.connect(tmp_path / "ctwatch.db") as db:
        versions = db.execute(
            "SELECT nct_id, COUNT(*) FROM versions GROUP BY nct_id ORDER BY nct_id"
        ).fetchall()
        bad = db.execute(
            "SELECT latest_hash, title, consecutive_errors FROM trials WHERE nct_id = ?", [BAD]
        ).fetchone()
        facts = db.execute("SELECT COUNT(*) FROM trial_facts").fetchone()[0]
        clocks = db.execute("SELECT nct_id FROM event_clock ORDER BY nct_id").fetchall()
    good = [n for n in TRIALS if n != BAD]
    assert versions == [(n, 1) for n in good]  # once each, none of BAD
    assert bad == (None, None, 1)  # its error only: no hash, no title from the undone write
    assert facts == 4 and [c[0] for c in clocks] == good
    assert faulty_facts.count(BAD) == 2  # the plain pass met it, then the trial-by-trial one


def test_a_batch_without_a_fault_is_recorded_once(tmp_path: Path, faulty_facts: list[str]) -> None:
    with RegistryDouble([make_study(n, f"Trial {n}") for n in TRIALS if n != BAD]) as registry:
        config = write_config(tmp_path, registry.url, [n for n in TRIALS if n != BAD])
        result = run_cli(config, "check")
    assert "checked 4 · changed 0 · new 4 · not found 0 · errors 0" in result.stdout
    assert sorted(faulty_facts) == sorted(n for n in TRIALS if n != BAD)  # one pass only


def _changed(n: str) -> dict[str, Any]:
    """``n`` terminated a month later: a status event and a field diff to record."""
    return make_study(n, f"Trial {n}", status="TERMINATED", last_update="2025-11-01")


def _recorded(db_path: Path) -> dict[str, list[Any]]:
    """What a cycle left that the two ways of recording must agree on, in order."""
    with sqlite3.connect(db_path) as db:
        return {
            "versions": db.execute(
                "SELECT nct_id, number, change_count FROM versions ORDER BY id").fetchall(),
            "events": db.execute(
                "SELECT nct_id, type, level, summary FROM events ORDER BY id").fetchall(),
            "outbox": db.execute(
                "SELECT nct_id, kind FROM outbox ORDER BY id").fetchall(),
            "errors": db.execute(
                "SELECT nct_id FROM trials WHERE last_error IS NOT NULL").fetchall(),
        }  # fmt: skip


def _two_cycles(tmp_path: Path) -> dict[str, list[Any]]:
    tmp_path.mkdir(exist_ok=True)
    with RegistryDouble([make_study(n, f"Trial {n}") for n in TRIALS]) as registry:
        config = write_config(tmp_path, registry.url, TRIALS)
        assert run_cli(config, "check").exit_code == 0
        for n in TRIALS:
            registry.put(_changed(n))
        result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    return _recorded(tmp_path / "ctwatch.db")


def test_runs_compared_ahead_record_what_one_at_a_time_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known trials are compared (and their changes classified) a run at a time before
    they are written: the versions, events and alerts, and their order, are those of a
    trial-by-trial recording; each run is at most ``COMPARED_TOGETHER`` trials, so the
    old records held while comparing stay few."""
    runs: list[int] = []
    compare = Versioning.compare

    def counted(self: Versioning, batch: Any, known: Any) -> Any:
        known = list(known)
        runs.append(len(known))
        return compare(self, batch, known)

    monkeypatch.setattr(Versioning, "compare", counted)
    monkeypatch.setattr(pipeline, "COMPARED_TOGETHER", 2)
    ahead = _two_cycles(tmp_path / "ahead")
    assert runs == [0, 0, 0, 2, 2, 1]  # the baseline knows no trial; then runs of 2, 2, 1
    monkeypatch.setattr(pipeline, "COMPARED_TOGETHER", 10**9)  # never: one at a time
    monkeypatch.setattr(Versioning, "compare", lambda self, batch, known: {})
    alone = _two_cycles(tmp_path / "alone")
    assert ahead == alone
    assert len(ahead["versions"]) == 10 and len(ahead["events"]) == 5 and not ahead["errors"]


def test_a_fault_while_comparing_a_run_costs_only_its_trial(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The event rules fail on one changed trial while its run is compared: the batch is
    recorded again trial by trial, where that trial keeps its error and the others are
    recorded with their events, once."""
    seen: list[str] = []

    def faulty(old: Any, new: Any, *rest: Any) -> Any:
        nct = new["protocolSection"]["identificationModule"]["nctId"]
        seen.append(nct)
        if nct == BAD:
            raise ValueError("a change the rules cannot read")
        return real_classify(old, new, *rest)

    monkeypatch.setattr(versioning, "classify", faulty)
    recorded = _two_cycles(tmp_path)
    good = [n for n in TRIALS if n != BAD]
    assert recorded["errors"] == [(BAD,)]
    assert [v[0] for v in recorded["versions"] if v[1] == 2] == good  # once each
    assert [e[0] for e in recorded["events"]] == good
    assert seen.count(BAD) == 2  # the run met it, then the trial-by-trial pass
