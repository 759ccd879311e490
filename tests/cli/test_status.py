"""`ctwatch status`: tables that fit, machine formats, filters, and what matters first."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from tests.support.paths import GOLDEN
from watcher.app import App
from watcher.cli.status import StatusOptions, StatusWriter
from watcher.config import load_config
from watcher.store import Store
from watcher.store.overview import StatusFilter
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

LONG = "NCT01234567"
UNKNOWN = "NCT99999999"
LONG_TITLE = (
    "Dose Escalation of Drug X [and/or Y] in Adults With Advanced Solid Tumours: "
    "a Phase 1b Study of Safety, Tolerability and Pharmacokinetics"
)
START = datetime(2026, 1, 15, 9, 0, tzinfo=UTC)


@pytest.fixture
def checked(tmp_path: Path) -> Iterator[Path]:
    """Three trials after two checks a day apart: one changed, one unchanged, one unknown."""
    now = [START]
    with RegistryDouble() as reg:
        reg.put(seed_study())
        reg.put(make_study(LONG, LONG_TITLE))
        path = write_config(tmp_path, reg.url, [SEED_NCT, LONG, UNKNOWN])
        app = App.build(load_config(path, {}), out=io.StringIO(), clock=lambda: now[0])
        app.check()
        reg.put(changed(seed_study(), status="ACTIVE_NOT_RECRUITING", last_update="2026-01-15"))
        now[0] += timedelta(days=1)
        app.check()
        app.close()
        yield path


def status(path: Path, *args: str, columns: int | None = 80) -> str:
    env = {"COLUMNS": str(columns)} if columns else {}
    result = run_cli(path, "status", *args, env=env)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def test_the_80_column_table(checked: Path) -> None:
    out = status(checked)
    assert out == (GOLDEN / "status_80.txt").read_text(encoding="utf-8")
    assert all(len(line) <= 80 for line in out.splitlines())
    assert "─" not in out and "│" not in out and "┃" not in out  # no box drawing in a file


def test_a_wide_terminal_shows_whole_titles_and_times(checked: Path) -> None:
    out = status(checked, columns=200)
    assert LONG_TITLE[:100] in out and LONG_TITLE not in out  # cut to fit, with "…"
    assert "2026-01-16 09:00" in out and "Checked" in out
    assert all(len(line) <= 200 for line in out.splitlines())
    assert LONG_TITLE in status(checked, columns=240)  # record text as it is, never markup


def test_a_narrow_table_never_breaks_ids_or_dates(checked: Path) -> None:
    out = status(checked, columns=50)
    rows = [line for line in out.splitlines() if line.startswith("NCT") and "NCT ID" not in line]
    assert [row.split()[0] for row in rows] == [SEED_NCT, LONG, UNKNOWN]
    assert "2026-01-15" in out and "2026-01-16" in out and "…" in out


def test_empty_columns_are_hidden(tmp_path: Path, registry: RegistryDouble) -> None:
    registry.put(seed_study())
    path = write_config(tmp_path, registry.url, [SEED_NCT])
    run_cli(path, "check")
    header = status(path).splitlines()[0]
    assert header.split() == ["NCT", "ID", "Title", "Status", "Last", "update", "Checked"]


def test_csv_tsv_and_json_agree(checked: Path) -> None:
    as_json = json.loads(status(checked, "--json"))
    rows = list(csv.DictReader(io.StringIO(status(checked, "--csv"))))
    tsv = [line.split("\t") for line in status(checked, "--tsv").splitlines()]
    assert [r["nct_id"] for r in rows] == [t["nct_id"] for t in as_json["trials"]]
    assert [r[0] for r in tsv[1:]] == [SEED_NCT, LONG, UNKNOWN]
    assert tsv[0] == list(rows[0].keys())
    first = as_json["trials"][0]
    assert rows[0]["overall_status"] == first["overall_status"] == "ACTIVE_NOT_RECRUITING"
    assert rows[1]["title"] == LONG_TITLE
    assert rows[2]["last_error"] == "not found in the registry"
    assert as_json["last_cycle"]["finished_at"] == "2026-01-16T09:00:00Z"
    assert as_json["alerts"] == {"pending": 0, "sent": 1, "failed": 0}


def test_a_title_like_a_formula_stays_text_in_a_spreadsheet(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(make_study(LONG, '=HYPERLINK("https://evil.example","click")'))
    path = write_config(tmp_path, registry.url, [LONG])
    run_cli(path, "check")
    (row,) = csv.DictReader(io.StringIO(status(path, "--csv")))
    assert row["title"] == '\'=HYPERLINK("https://evil.example","click")'
    assert status(path, "--tsv").splitlines()[1].split("\t")[1].startswith("'=")


def test_filters(checked: Path) -> None:
    changed_since = json.loads(status(checked, "--json", "--changed-since", "2026-01-16"))
    assert [t["nct_id"] for t in changed_since["trials"]] == [SEED_NCT]
    later = json.loads(status(checked, "--json", "--changed-since", "2026-01-17"))
    assert later["trials"] == []
    problems = json.loads(status(checked, "--json", "--problems"))
    assert [t["nct_id"] for t in problems["trials"]] == [UNKNOWN]
    text = checked.read_text() + '\n[[watch]]\nname = "other"\ntrials = ["NCT01234567"]\n'
    checked.write_text(text)
    one = status(checked, "--csv", "--watch", "other")
    assert [r["nct_id"] for r in csv.DictReader(io.StringIO(one))] == [LONG]
    unknown = run_cli(checked, "status", "--watch", "nope")
    assert unknown.exit_code == 2 and "no watch named 'nope'" in unknown.stderr
    assert "No trial matches." in status(checked, "--changed-since", "2030-01-01")


def test_status_never_creates_a_database(tmp_path: Path, registry: RegistryDouble) -> None:
    path = write_config(tmp_path, registry.url, [SEED_NCT])
    for command in (["status"], ["history", SEED_NCT], ["outbox"]):
        result = run_cli(path, *command)
        assert result.exit_code == 1, command
        assert f"no database yet at {tmp_path / 'ctwatch.db'}" in result.stderr
    assert not (tmp_path / "ctwatch.db").exists()


def many(tmp_path: Path, count: int) -> tuple[Store, list[str]]:
    """A store with ``count`` checked trials, one failing and one changed recently."""
    ids = [f"NCT{i:08d}" for i in range(1, count + 1)]
    with RegistryDouble([make_study(n, f"Trial {n}") for n in ids]) as reg:
        path = write_config(tmp_path, reg.url, ids)
        app = App.build(load_config(path, {}), out=io.StringIO())
        app.check()
        reg.put(changed(make_study(ids[20], f"Trial {ids[20]}"), status="SUSPENDED"))
        app.check()
        app.close()
    store = Store.open(tmp_path / "ctwatch.db")
    with store.versions.batch() as batch:
        batch.record_error(ids[10], "could not record: a test fault", "2026-01-16T09:00:00Z")
    return store, ids


def test_a_terminal_shows_what_matters_first_and_counts_the_rest(tmp_path: Path) -> None:
    store, ids = many(tmp_path, 60)
    out = io.StringIO()
    options = StatusOptions(show_all=False, width=100, height=24)  # room for 12 rows
    StatusWriter(store, ids, out).write(options)
    lines = out.getvalue().splitlines()
    assert lines[:6] == [
        "60 trials watched",  # before any query
        "1 with problems (listed first below)",
        "1 changed in the last 7 days",
        "By status:",
        "         59  Recruiting (1 with problems)",
        "          1  Suspended",
    ]
    rows = [line.split()[0] for line in lines if line.startswith("NCT0")]
    assert rows[:2] == [ids[10], ids[20]]  # the problem, then the recent change
    assert len(rows) == 12 - 6  # the counts take six of the twelve lines
    assert (
        "… 54 more trials (no problems, no recent changes): ctwatch status --all" in out.getvalue()
    )
    everything = io.StringIO()
    StatusWriter(store, ids, everything).write(StatusOptions(show_all=True, width=100))
    listed = [line.split()[0] for line in everything.getvalue().splitlines() if line[:4] == "NCT0"]
    assert listed == ids  # config order
    store.close()


def test_a_file_gets_a_list_that_fits_whole_and_a_longer_one_summarised(tmp_path: Path) -> None:
    store, ids = many(tmp_path, 60)
    whole = io.StringIO()  # off a terminal (24 rows): up to 60 trials are written whole
    StatusWriter(store, ids, whole).write(StatusOptions(show_all=False, height=24, listed_up_to=60))
    assert "By status:" not in whole.getvalue()
    assert [ln.split()[0] for ln in whole.getvalue().splitlines() if ln[:4] == "NCT0"] == ids

    summed = io.StringIO()
    StatusWriter(store, ids, summed).write(
        StatusOptions(show_all=False, height=24, listed_up_to=59)
    )
    lines = summed.getvalue().splitlines()
    assert lines[0] == "60 trials watched" and "By status:" in lines
    assert [ln.split()[0] for ln in lines if ln[:4] == "NCT0"][:2] == [ids[10], ids[20]]
    assert "… 54 more trials" in summed.getvalue()

    # matches that fit are all written after the counts (more than a screenful's share),
    # in the summary's order: the failed trial that also changed comes before the others
    failed = [ids[20], *ids[40:50]]
    with store.versions.batch() as batch:
        for nct_id in failed:
            batch.record_error(nct_id, "registry said 500", "2026-01-16T10:00:00Z")
    problems = StatusFilter(problems_only=True)
    for up_to, all_of_them in ((12, True), (11, False)):  # 12 matches; to 11: a screenful
        matched = io.StringIO()
        options = StatusOptions(where=problems, show_all=False, height=24, listed_up_to=up_to)
        StatusWriter(store, ids, matched).write(options)
        lines = matched.getvalue().splitlines()
        assert lines[:3] == [
            "60 trials watched",
            "12 match",
            "12 with problems (listed first below)",
        ]
        listed = [ln.split()[0] for ln in lines if ln[:4] == "NCT0"]
        assert listed == [ids[20], ids[10], *ids[40:50]][: 12 if all_of_them else len(listed)]
        assert (len(listed) < 12) == (not all_of_them) == ("more trial" in matched.getvalue())
    store.close()


def test_json_streams_every_trial_in_order(tmp_path: Path) -> None:
    store, ids = many(tmp_path, 30)
    out = io.StringIO()
    StatusWriter(store, ids, out, mask=str.upper).write(StatusOptions(fmt="json"))
    data = json.loads(out.getvalue())
    assert [t["nct_id"] for t in data["trials"]] == ids
    assert data["trials"][10]["last_error"] == "COULD NOT RECORD: A TEST FAULT"  # masked
    only = io.StringIO()
    where = StatusFilter(problems_only=True)
    StatusWriter(store, ids, only).write(StatusOptions(fmt="json", where=where))
    assert [t["nct_id"] for t in json.loads(only.getvalue())["trials"]] == [ids[10]]
    store.close()


def test_an_alert_failing_or_waiting_for_a_retry_makes_its_trial_a_problem(
    tmp_path: Path,
) -> None:
    """In every view: rows, JSON and the summary's counts; a pending alert not yet tried
    is no problem. (The question is left out of the SQL when no alert fails, so each
    state is asked with and without such an alert.)"""
    store, ids = many(tmp_path, 24)  # ids[10] failed its last check
    summary_of = store.overview.summary
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        version = conn.execute("SELECT MAX(id) FROM versions WHERE nct_id = ?", [ids[3]])
        (version_id,) = version.fetchone()
        conn.execute(
            "INSERT INTO outbox (version_id, nct_id, destination, status, attempts, created_at,"
            " next_attempt_at) VALUES (?, ?, 'slack:#x', 'pending', 0, 'now', 'now')",
            [version_id, ids[3]],
        )
    for status, attempts, problems in (
        ("pending", 0, [ids[10]]), ("pending", 1, [ids[3], ids[10]]),
        ("failed", 1, [ids[3], ids[10]]), ("sent", 1, [ids[10]]),
    ):  # fmt: skip
        with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
            conn.execute(
                "UPDATE outbox SET status = ?, attempts = ? WHERE nct_id = ?",
                [status, attempts, ids[3]],
            )
        rows = [r.nct_id for r in store.overview.rows(ids) if r.problem]
        assert rows == problems, status
        only = StatusFilter(problems_only=True)
        assert [r.nct_id for r in store.overview.rows(ids, only)] == problems
        made = [json.loads(text) for batch in store.overview.json_rows(ids, swept=None)
                for text, _ in batch]  # fmt: skip
        assert [t["nct_id"] for t in made if t["problem"]] == problems
        assert summary_of(ids).problems == len(problems) == summary_of(ids, only).total
    store.close()


@pytest.mark.parametrize(
    ("own", "swept", "shown"),
    [
        (None, None, None),  # never checked, no complete sweep yet
        (None, "2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z"),  # only the sweep checked it
        ("2026-01-09T00:00:00Z", "2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z"),
        ("2026-01-11T00:00:00Z", "2026-01-10T00:00:00Z", "2026-01-11T00:00:00Z"),
        ("2026-01-11T00:00:00Z", None, "2026-01-11T00:00:00Z"),
        ("", None, None),  # a damaged value reads as never
        ("", "2026-01-10T00:00:00Z", "2026-01-10T00:00:00Z"),
    ],
)
def test_last_checked_is_the_later_of_the_trials_own_check_and_the_last_sweep(
    tmp_path: Path, own: str | None, swept: str | None, shown: str | None
) -> None:
    store = Store.open(tmp_path / "ctwatch.db")
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.execute(
            "INSERT INTO trials (nct_id, added_at, last_checked_at) VALUES (?, ?, ?)",
            ["NCT00000001", "2026-01-01T00:00:00Z", own],
        )
    watched = ["NCT00000001", "NCT09999999"]  # the second has no row at all
    rows = list(store.overview.rows(watched, swept=swept))
    assert [r.last_checked_at for r in rows] == [shown, None]
    made = [json.loads(text) for batch in store.overview.json_rows(watched, swept=swept)
            for text, _ in batch]  # fmt: skip
    assert [t["last_checked_at"] for t in made] == [shown, None]
    store.close()
