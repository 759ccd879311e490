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

import gc
import re
import sqlite3
import weakref
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
    """Everything a cycle writes that the two ways of recording must agree on, in order
    (all but the clock's times)."""
    with sqlite3.connect(db_path) as db:
        return {
            "versions": db.execute(
                """SELECT nct_id, number, change_count, content_hash, overall_status,
                          last_update_posted FROM versions ORDER BY id""").fetchall(),
            "changes": db.execute(
                """SELECT v.nct_id, c.path, c.label, c.kind, c.old, c.new, c.old_text,
                          c.new_text FROM changes c JOIN versions v ON v.id = c.version_id
                   ORDER BY c.id""").fetchall(),
            "events": db.execute(
                """SELECT e.nct_id, v.number, e.type, e.level, e.summary, e.value_json,
                          e.source, e.silent FROM events e
                   LEFT JOIN versions v ON v.id = e.version_id ORDER BY e.id""").fetchall(),
            "outbox": db.execute(
                """SELECT nct_id, version_id, kind, payload, destination, paths, urgent, status
                   FROM outbox ORDER BY id""").fetchall(),
            "event_clock": db.execute(
                "SELECT nct_id, facts, relevant, state FROM event_clock ORDER BY nct_id"
            ).fetchall(),
            "trials": db.execute(
                """SELECT nct_id, title, overall_status, last_update_posted, latest_hash,
                          not_found, consecutive_errors, last_error FROM trials
                   ORDER BY nct_id""").fetchall(),
            "errors": db.execute(
                "SELECT nct_id FROM trials WHERE last_error IS NOT NULL").fetchall(),
        }  # fmt: skip


MIXED = [f"NCT0000001{i}" for i in range(8)]


def _mixed_cycles(tmp_path: Path) -> tuple[dict[str, list[Any]], str]:
    """A baseline, then a cycle in which the trials of one batch do everything a known
    trial can: change in one field or several (a slip reads the trial's history), stay
    as they are, come back as a stale copy, vanish, or be seen for the first time."""
    tmp_path.mkdir(exist_ok=True)
    first = [make_study(n, f"Trial {n}") for n in MIXED[:7]]
    _pcd(first[1], "2027-06")
    with RegistryDouble(first) as registry:
        config = write_config(tmp_path, registry.url, MIXED)
        assert run_cli(config, "check").exit_code == 0
        registry.put(_changed(MIXED[0]))  # status: one event
        slipped = make_study(MIXED[1], "Trial 1 renamed", last_update="2025-11-01", sites=5)
        registry.put(_pcd(slipped, "2031-06"))  # title, sites, a slip: several events
        # MIXED[2] stays as it is
        registry.put(make_study(MIXED[3], "Trial 3", last_update="2025-01-01"))  # stale copy
        registry.remove(MIXED[4])  # gone
        registry.put(_changed(MIXED[5]))
        registry.put(make_study(MIXED[6], "Trial 6", status="COMPLETED", last_update="2025-11-01"))
        registry.put(make_study(MIXED[7], "Trial 7"))  # first seen
        result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    told = re.sub(r"\d{4}-\d{2}-\d{2}", "DAY", result.stdout)  # a notice names today
    return _recorded(tmp_path / "ctwatch.db"), told


def _pcd(study: dict[str, Any], day: str) -> dict[str, Any]:
    study["protocolSection"]["statusModule"]["primaryCompletionDateStruct"] = {
        "date": day, "type": "ESTIMATED"}  # fmt: skip
    return study


def _two_cycles(tmp_path: Path, log: list[str] | None = None) -> dict[str, list[Any]]:
    """A baseline of TRIALS, then every one of them changed; ``log``: gets the second
    check's debug log."""
    tmp_path.mkdir(exist_ok=True)
    with RegistryDouble([make_study(n, f"Trial {n}") for n in TRIALS]) as registry:
        config = write_config(tmp_path, registry.url, TRIALS)
        assert run_cli(config, "check").exit_code == 0
        for n in TRIALS:
            registry.put(_changed(n))
        result = run_cli(config, "--log-level", "debug", "check")
    assert result.exit_code == 0, result.stderr
    if log is not None:
        log.append(result.stderr)
    return _recorded(tmp_path / "ctwatch.db")


def _tapped(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The trials each compared run takes, as it takes them (a run may stop early)."""
    runs: list[list[str]] = []
    compare = Versioning.compare

    def tapped(self: Versioning, batch: Any, known: Any) -> Any:
        taken: list[str] = []
        runs.append(taken)

        def tap() -> Any:
            for item in known:
                taken.append(item[0])
                yield item

        return compare(self, batch, tap())

    monkeypatch.setattr(Versioning, "compare", tapped)
    return runs


def test_runs_compared_ahead_record_what_one_at_a_time_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known trials are compared (and their changes classified) a run at a time before
    they are written: every row written, and its order, is that of a trial-by-trial
    recording, and so is what is told; each run looks at ``COMPARED_TOGETHER`` requested
    trials and takes only those that will be recorded against a stored version; a run
    that reaches ``RUN_BYTES`` stops, and the next one starts where it stopped."""
    runs = _tapped(monkeypatch)
    monkeypatch.setattr(pipeline, "COMPARED_TOGETHER", 3)
    ahead, told_ahead = _mixed_cycles(tmp_path / "ahead")
    # eight requested IDs a cycle, so three runs each; the baseline knows no trial, and the
    # stale copy (MIXED[3]), the vanished trial and the new one are never compared ahead
    assert len(runs) == 6 and not any(runs[:3]) and all(len(run) <= 3 for run in runs)
    assert [n for run in runs for n in run] == [MIXED[i] for i in (0, 1, 2, 5, 6)]
    runs.clear()
    monkeypatch.setattr(versioning, "RUN_BYTES", 1)  # every run stops after one trial
    small, told_small = _mixed_cycles(tmp_path / "small")
    assert [run for run in runs if run] == [[MIXED[i]] for i in (0, 1, 2, 5, 6)]
    monkeypatch.setattr(Versioning, "compare", lambda self, batch, known: {})
    alone, told_alone = _mixed_cycles(tmp_path / "alone")
    assert ahead == alone == small
    assert told_ahead == told_alone == told_small
    assert [v[0] for v in ahead["versions"] if v[1] == 2] == [MIXED[0], MIXED[1], MIXED[5],
                                                              MIXED[6]]  # fmt: skip
    assert {e[2] for e in ahead["events"] if e[0] == MIXED[1]} == {
        "dates.primary_completion_slipped", "sites.changed"}  # fmt: skip
    assert ahead["errors"] == [(MIXED[3],), (MIXED[4],)]  # the stale copy; the vanished trial


def test_a_run_of_big_changed_records_lets_old_records_go_as_it_goes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run whose old bodies pass ``OLD_BYTES_TOGETHER`` classifies what it holds before
    parsing more: the old records a run holds at once stay few (here one at a time), and
    what is recorded is the same."""
    classified: list[int] = []
    classify = Versioning._classify

    def counted(self: Versioning, batch: Any, changed: Any, into: Any) -> None:
        classified.append(len(changed))
        classify(self, batch, changed, into)

    monkeypatch.setattr(Versioning, "_classify", counted)
    monkeypatch.setattr(versioning, "OLD_BYTES_TOGETHER", 1)
    recorded = _two_cycles(tmp_path)
    assert classified == [0, 1, 1, 1, 1, 1, 0]  # the baseline's empty run; then one each
    assert len(recorded["events"]) == len(TRIALS) and not recorded["errors"]


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
    log: list[str] = []
    recorded = _two_cycles(tmp_path, log)
    good = [n for n in TRIALS if n != BAD]
    assert recorded["errors"] == [(BAD,)]
    assert [v[0] for v in recorded["versions"] if v[1] == 2] == good  # once each
    assert [e[0] for e in recorded["events"]] == good
    assert seen.count(BAD) == 2  # the run met it, then the trial-by-trial pass
    assert (
        f"recorded again trial by trial: unexpected ValueError: a change the rules cannot \
read (classifying {BAD})"
        in log[0]
    )


class _Old(dict[str, Any]):
    """A parsed old record that can be watched (a plain dict cannot be weakly referenced)."""


def test_the_failed_pass_lets_its_run_go_before_the_batch_is_recorded_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fault's traceback holds the frames of the pass that failed (a compared run's
    old records, up to a hundred of them): the batch is recorded again after it is let
    go, so those records are gone when the trial-by-trial pass runs."""
    parsed = versioning._parsed
    first_pass: list[weakref.ref[_Old]] = []
    alive: list[int] = []

    def watched(body: bytes | None) -> dict[str, Any]:
        old = _Old(parsed(body))
        if not alive:  # still the first pass
            first_pass.append(weakref.ref(old))
        return old

    def faulty(old: Any, new: Any, *rest: Any) -> Any:
        if new["protocolSection"]["identificationModule"]["nctId"] == BAD:
            if first_pass and not alive:
                alive.append(-1)  # the first pass ends here
            elif alive == [-1]:  # the trial-by-trial pass has reached BAD
                gc.collect()
                alive[0] = sum(ref() is not None for ref in first_pass)
            raise ValueError("a change the rules cannot read")
        return real_classify(old, new, *rest)

    monkeypatch.setattr(versioning, "_parsed", watched)
    monkeypatch.setattr(versioning, "classify", faulty)
    _two_cycles(tmp_path)
    assert len(first_pass) == len(TRIALS)  # the whole run was parsed ahead
    assert alive == [0]
