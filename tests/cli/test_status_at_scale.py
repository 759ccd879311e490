"""``ctwatch status`` at whole-registry size: a summary on a terminal (and to a pipe
beyond 100,000 trials), every row on ``--all``, and output that streams (its first line comes before the rest exists).

The database is synthetic (the ``trials`` rows a cycle would leave, written directly), so
a 100,000-trial status needs no 100,000-record baseline; the commands run as real
processes, on a real pseudo-terminal where a terminal matters.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import pty
import sqlite3
import struct
import subprocess
import sys
import termios
from pathlib import Path

from watcher.cli.pipe import PIPE_BYTES, widen_pipe
from watcher.cli.status import PIPE_LISTS_UP_TO, StatusOptions, StatusWriter
from watcher.store import Store

STATUSES = ("RECRUITING", "COMPLETED", "ACTIVE_NOT_RECRUITING")


def nct(i: int) -> str:
    return f"NCT{10_000_000 + i:08d}"


def synthetic(folder: Path, count: int) -> Path:
    """A config watching ``count`` trials from a trials_file, and a database in which a
    complete cycle checked them all: every 50th changed, and the first few failed (ten
    recruiting trials and two completed ones)."""
    (folder / "ids.txt").write_text("".join(f"{nct(i)}\n" for i in range(count)), "utf-8")
    config = folder / "ctwatch.toml"
    config.write_text(
        '[registry]\nurl = "http://127.0.0.1:9"\n[database]\npath = "ctwatch.db"\n'
        '[[watch]]\nname = "all"\ntrials_file = "ids.txt"\n',
        encoding="utf-8",
    )
    Store.open(folder / "ctwatch.db").close()  # the real schema, through the migrations
    rows = (
        (
            nct(i), f"Study {i}", STATUSES[i % 3], "2025-10-01", "hash",
            "2025-11-20T09:00:00Z", "2025-11-21T09:00:00Z",
            "2025-11-20T10:00:00Z" if i % 50 == 0 else None,
            "registry said 500" if failing(i) else None,
        )
        for i in range(count)
    )  # fmt: skip
    with sqlite3.connect(folder / "ctwatch.db") as conn:
        conn.executemany(
            "INSERT INTO trials (nct_id, title, overall_status, last_update_posted, latest_hash,"
            " added_at, last_checked_at, last_changed_at, last_error)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    return config


def failing(i: int) -> bool:
    return (i % 3 == 0 and i < 30) or (i % 3 == 1 and i < 6)


def command(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "watcher", "--config", str(config), *args]


def on_a_terminal(config: Path, *args: str, rows: int = 24, columns: int = 120) -> str:
    """The output of ``ctwatch ARGS`` run on a pseudo-terminal of that size."""
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        command(config, *args), stdout=secondary, stderr=subprocess.PIPE, env=env
    )
    os.close(secondary)
    chunks = []
    with os.fdopen(primary, "rb", buffering=0) as reader:
        while True:
            try:
                chunk = reader.read(65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    _, stderr = proc.communicate()
    assert proc.returncode == 0, stderr
    return b"".join(chunks).decode("utf-8").replace("\r\n", "\n")


def test_a_terminal_gets_counts_by_status_problems_first(tmp_path: Path) -> None:
    config = synthetic(tmp_path, 3000)
    text = on_a_terminal(config, "status")
    lines = text.splitlines()
    assert lines[0] == "3,000 trials watched"
    assert "12 with problems (listed first below)" in lines
    assert "changed in the last 7 days" not in text  # 2025 changes are not recent
    by_status = lines[lines.index("By status:") + 1 : lines.index("By status:") + 4]
    assert [line.split(maxsplit=1) for line in by_status] == [  # problems first
        ["1,000", "Recruiting (10 with problems)"],
        ["1,000", "Completed (2 with problems)"],
        ["1,000", "Active, not recruiting"],
    ]
    listed = [line.split()[0] for line in lines if line.startswith("NCT1")]
    assert len(listed) == 6  # a screen of 24 rows: 12 for trials, 6 of them taken by counts
    assert set(listed) < {nct(i) for i in range(30) if failing(i)}  # the problems first
    assert "… 2,994 more trials (6 with problems): ctwatch status --all" in text
    assert "ctwatch status --all lists every trial" in text


def test_all_on_a_terminal_lists_every_trial_in_config_order(tmp_path: Path) -> None:
    config = synthetic(tmp_path, 3000)
    text = on_a_terminal(config, "status", "--all")
    assert "By status:" not in text
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("NCT1")]
    assert listed == [nct(i) for i in range(3000)]


def test_a_short_list_on_a_terminal_is_the_plain_table(tmp_path: Path) -> None:
    config = synthetic(tmp_path, 5)
    text = on_a_terminal(config, "status")
    assert "trials watched" not in text and "By status:" not in text
    assert [ln.split()[0] for ln in text.splitlines() if ln.startswith("NCT1")] == [
        nct(i) for i in range(5)
    ]


def read_first_line_then_rest(config: Path, *args: str) -> tuple[bytes, bool, bytes]:
    """(first line, whether the process was still running once it arrived, the rest)."""
    proc = subprocess.Popen(command(config, *args), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    running = proc.poll() is None
    rest = proc.stdout.read()
    assert proc.wait() == 0
    return first, running, rest


def test_status_streams_its_rows(tmp_path: Path) -> None:
    """100,000 rows are megabytes, far beyond a pipe's buffer: the first line is read
    while the process still has most of its output to write. A pipe gets a list this
    long whole, without --all."""
    config = synthetic(tmp_path, PIPE_LISTS_UP_TO)
    first, running, rest = read_first_line_then_rest(config, "status")
    assert first.startswith(b"NCT ID")
    assert running
    assert len(rest) > 10 * 65536
    assert (b"\n" + rest).count(b"\nNCT1") == PIPE_LISTS_UP_TO


def test_a_pipe_gets_a_whole_registry_list_summarised_unless_all(tmp_path: Path) -> None:
    count = PIPE_LISTS_UP_TO + 1
    config = synthetic(tmp_path, count)
    first, running, rest = read_first_line_then_rest(config, "status")
    assert first == b"100,001 trials watched\n"  # before any query
    text = rest.decode("utf-8")
    assert "12 with problems (listed first below)" in text and "By status:" in text
    listed = [line.split()[0] for line in text.splitlines() if line.startswith("NCT1")]
    assert listed and set(listed) <= {nct(i) for i in range(30) if failing(i)}
    assert f"… {count - len(listed):,} more trials" in text
    assert "ctwatch status --all lists every trial" in text

    first, running, rest = read_first_line_then_rest(config, "status", "--all")
    assert first.startswith(b"NCT ID")
    assert running
    listed = [line.split()[0] for line in rest.decode("utf-8").splitlines()[:20]]
    assert [n for n in listed if n != "!"][:3] == [nct(0), nct(1), nct(2)]  # config order
    assert (b"\n" + rest).count(b"\nNCT1") == count


def test_status_json_streams_its_rows(tmp_path: Path) -> None:
    config = synthetic(tmp_path, 100_000)
    first, running, rest = read_first_line_then_rest(config, "status", "--json")
    assert first == b"{\n"
    assert running
    data = json.loads(first + rest)
    assert [t["nct_id"] for t in data["trials"][:3]] == [nct(0), nct(1), nct(2)]
    assert len(data["trials"]) == 100_000
    assert data["trials"][3]["last_error"] == "registry said 500"
    assert data["trials"][3]["problem"] is True and data["trials"][2]["problem"] is False


def test_json_masks_errors_on_both_sides_of_a_thousand_row_batch(tmp_path: Path) -> None:
    """Rows are read and written a thousand at a time: the errors of rows 999-1001 (three
    batches' edges) pass the mask all the same, and the array stays valid and in order."""
    synthetic(tmp_path, 2500)
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.executemany(
            "UPDATE trials SET last_error = ? WHERE nct_id = ?",
            [(f"token s3cret at row {i}", nct(i)) for i in (999, 1000, 1001, 2499)],
        )
    store = Store.open(tmp_path / "ctwatch.db")
    out = io.StringIO()
    watched = [nct(i) for i in range(2500)]
    StatusWriter(store, watched, out, mask=lambda text: text.replace("s3cret", "***")).write(
        StatusOptions(fmt="json")
    )
    store.close()
    trials = json.loads(out.getvalue())["trials"]
    assert [t["nct_id"] for t in trials] == watched
    for i in (999, 1000, 1001, 2499):
        assert trials[i]["last_error"] == f"token *** at row {i}"
        assert trials[i]["problem"] is True
    assert "s3cret" not in out.getvalue()


def test_status_asks_for_a_roomier_pipe(tmp_path: Path) -> None:
    """Linux lets any user raise a pipe to 1 MiB (F_SETPIPE_SZ): the reader of a whole
    registry's rows then sees the pipe 1 MiB deep, not 64 KiB."""
    config = synthetic(tmp_path, 10)
    reader, writer = os.pipe()  # what this host grants such a request, whatever its limits
    default = fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)
    with contextlib.suppress(OSError):
        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    granted = fcntl.fcntl(reader, fcntl.F_GETPIPE_SZ)
    os.close(reader)
    os.close(writer)
    proc = subprocess.Popen(command(config, "status", "--json"), stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.read()
    widened = fcntl.fcntl(proc.stdout.fileno(), fcntl.F_GETPIPE_SZ)
    assert proc.wait() == 0
    assert default < PIPE_BYTES  # Linux's 64 KiB: there is something to widen
    assert widened == granted
    assert not widen_pipe(io.StringIO())  # no descriptor: nothing to do, no error
