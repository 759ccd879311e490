"""ctwatch benchmark: registry cost, time and memory of real cycles.

    python bench/run.py                          # N = 1,000 and 10,000
    python bench/run.py --trials 58000,580000    # the whole registry, on request (not CI)
    python bench/run.py --naive                  # also one request per trial, same code

For each N it serves N synthetic trials (bench/synth.py) from the project's
registry double in a separate process, then runs three cycles, each in a fresh
``ctwatch`` process so the figures are ctwatch's alone:

    (a) baseline   - first sight of every trial
    (b) no change  - the registry's dataTimestamp has not moved
    (c) 1% changed - a registry refresh that edited 1% of the trials

and prints requests, MB received, wall and CPU seconds (the cycle's, and the whole
process's: interpreter start, imports, config, cycle, close, as the kernel counts
them), CPU per 1,000 records fetched, peak RSS, database size and database bytes
per trial for each, with ctwatch's default ``[database]`` settings (typed
``latest`` columns, compressed bodies; ``--readable-records`` picks another); then
the wall time of ``ctwatch status`` (on a pseudo-terminal and to a pipe: the summary
beyond 100,000 trials; ``--all`` to a pipe: every row) and ``status --json``, and when
each printed its first line, against a no-change ``ctwatch check``, each a whole fresh
process. The watch list is a ``trials_file`` (``--trials-in-toml``: a TOML array, as
before). ``--profile FILE`` writes a cProfile
(CPU time) of each baseline and prints its costliest functions.
It also times ``json.loads`` and ``orjson.loads`` on the very JSON the double
serves (in the double's process, in pages of 1,000 studies), so the baseline's
whole-process CPU can be read as a multiple of merely parsing what it received,
and prints the database's size as a multiple of the JSON received. ``--naive``
repeats the cycles with one request per trial and no version probe or
incremental fetch (batch_size = 1, incremental = false). Peak RSS is compared
between N and N/10 when both ran. The 580,000-trial run serves ~6 GB of JSON
from the double's memory (about 7 GB of RAM and 10 minutes to build) and is
never part of CI. Each N runs the three cycles twice, with and without the
event rules (``--skip-event-comparison`` skips the second), and prints the CPU the
rules add (``--meter-events`` also times the event code inside the cycle, at a cost
of its own; bench/events.py has the history and time-event figures).
Every child starts as an installed ctwatch does, from bytecode (bench/installed.py).
This is a benchmark that prints its figures, not a test:
nothing here asserts.
"""

from __future__ import annotations

import argparse
import fcntl
import io
import json
import multiprocessing as mp
import os
import pty
import resource
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from contextlib import nullcontext
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
# The double, the synthetic records and orjson are imported where they are used: the
# child that runs a cycle must load what `ctwatch check` loads and nothing else, so its
# whole-process CPU is ctwatch's.

STARTED = time.perf_counter()
BEFORE = "2025-11-20T09:00:06"
AFTER = "2025-11-21T09:00:06"
CHANGE_DAY = "2025-11-20"


def serve(n: int, conn: Connection) -> None:
    """The registry double's process: build N trials, then obey commands."""
    from synth import edited, study  # noqa: PLC0415

    from watcher.testing.registry_double import RegistryDouble  # noqa: PLC0415

    double = RegistryDouble((study(i) for i in range(n)), data_timestamp=BEFORE).start()
    conn.send(double.url)
    while True:
        command, arg = conn.recv()
        if command == "change":
            step = max(1, int(1 / arg))
            changed = 0
            for i in range(0, n, step):
                double.put(edited(study(i), CHANGE_DAY))
                changed += 1
            double.set_data_timestamp(AFTER)
            conn.send(changed)
        elif command == "parse":
            conn.send(parse_cost(double, n))
        elif command == "stop":
            double.stop()
            conn.send(None)
            return


def parse_cost(double: Any, n: int) -> dict[str, float]:
    """CPU seconds to parse every study the double serves, in pages of 1,000, two ways."""
    import orjson  # noqa: PLC0415
    from synth import nct  # noqa: PLC0415

    cost = {"bytes": 0.0, "json": 0.0, "orjson": 0.0}
    for start in range(0, n, 1000):
        texts = (double.served_json(nct(i)) or "" for i in range(start, min(n, start + 1000)))
        page = ('{"studies":[' + ",".join(texts) + "]}").encode("utf-8")
        cost["bytes"] += len(page)
        for name, parse in (("json", json.loads), ("orjson", orjson.loads)):
            cpu0 = time.process_time()
            parse(page)
            cost[name] += time.process_time() - cpu0
    return cost


def one_cycle(
    config: str,
    full: bool = False,
    events: bool = True,
    profile: str | None = None,
    meter: bool = False,
) -> None:
    """Child mode: run one `ctwatch check` cycle (``--full``: the sweep) in-process and
    print its figures; ``events=False`` skips the event rules (for the comparison);
    ``profile``: also write a cProfile of the cycle there."""

    from watcher.app import App  # noqa: PLC0415
    from watcher.config import load_config  # noqa: PLC0415
    from watcher.memory import settle_memory  # noqa: PLC0415

    fetched = [0]

    def count(total: int) -> Any:  # the pipeline announces how many records it fetches
        fetched[0] = total
        return nullcontext(None)

    loaded = load_config(Path(config))
    app = App.build(loaded, out=io.StringIO(), progress=count)
    app.pipeline.classify_events = events
    spent = _meter_events() if events and meter else [0.0, 0.0]
    settle_memory(loaded)  # as `ctwatch check` does
    wall0, cpu0 = time.perf_counter(), time.process_time()
    if profile:
        import cProfile  # noqa: PLC0415 - on request only

        with cProfile.Profile(time.process_time) as prof:  # CPU, not a busy machine's wall
            report, delivery = app.check(full=full)
        prof.dump_stats(profile)
    else:
        report, delivery = app.check(full=full)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    stats = app.registry.stats
    app.close()
    print(
        json.dumps(
            {
                "requests": stats.requests,
                "mb": stats.bytes_received / 1e6,
                "wall": wall,
                "cpu": cpu,
                "process_cpu": time.process_time(),
                "process_wall": time.perf_counter() - STARTED,
                "fetched": fetched[0],
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "checked": report.checked,
                "changed": len(report.changed),
                "new": len(report.new),
                "alerts": delivery.sent,
                "search_events": len(report.search_events),
                "classify_cpu": spent[0],
                "clock_cpu": spent[1],
                "events_cpu": spent[0] + spent[1],
                "metered": events and meter,
            }
        )
    )


def _meter_events() -> list[float]:
    """CPU seconds spent in the event code of this process, measured around those functions
    alone: ``[classification and its writes, time-event facts + their writes + the pass]``."""
    import watcher.cycle.pipeline as pipeline  # noqa: PLC0415 - child mode only
    import watcher.cycle.versioning as versioning  # noqa: PLC0415
    import watcher.store.versions as versions  # noqa: PLC0415

    spent = [0.0, 0.0]

    def metered(fn: Any, slot: int) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[slot] += time.process_time() - start

        return wrapper

    for name, slot in (("_events", 0), ("_clock", 1)):
        setattr(versioning.Versioning, name, metered(getattr(versioning.Versioning, name), slot))
    setattr(pipeline.Pipeline, "_time_events", metered(pipeline.Pipeline._time_events, 1))  # noqa: B010
    # a batch writes its versions' event rows and its clock rows at its end (finish): each
    # is metered under its own heading, as watcher.store.versions calls it
    for name, slot in (("event_rows", 0), ("write_event_rows", 0), ("write_clocks", 1)):
        setattr(versions, name, metered(getattr(versions, name), slot))
    return spent


def write_config(
    folder: Path,
    url: str,
    n: int,
    naive: bool,
    wide_over: int,
    readable: str | None = None,
    in_toml: bool = False,
) -> Path:
    """The benchmark's config: no pacing, ``database.readable_records`` as ctwatch's default
    unless ``readable`` names a value (``true``, ``false``, ``"json"``), the IDs in a
    ``trials_file`` (``in_toml``: a ``trials`` array, as before it existed)."""
    from synth import nct  # noqa: PLC0415

    path = folder / "ctwatch.toml"
    records = "" if readable is None else f"readable_records = {readable}\n"
    if in_toml:
        trials = "trials = [\n" + ",\n".join(f'  "{nct(i)}"' for i in range(n)) + "\n]"
    else:
        (folder / "ids.txt").write_text("".join(f"{nct(i)}\n" for i in range(n)), "utf-8")
        trials = 'trials_file = "ids.txt"'
    mode = "incremental = false\nbatch_size = 1\n" if naive else ""
    mode += f"registry_wide_over = {wide_over}\n"
    path.write_text(
        f'[registry]\nurl = "{url}"\npace = 0\nretries = 2\nbackoff = 0.1\n{mode}\n'
        f'[database]\npath = "ctwatch.db"\n{records}\n'
        f'[[watch]]\nname = "bench"\n{trials}\n',
        encoding="utf-8",
    )
    return path


def db_figures(db: Path) -> tuple[int, int]:
    """(database bytes after a WAL checkpoint, bytes of stored version bodies)."""
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        stored = conn.execute("SELECT COALESCE(SUM(LENGTH(body)), 0) FROM versions").fetchone()[0]
    size = db.stat().st_size + (db.with_name(db.name + "-wal").stat().st_size
                                if db.with_name(db.name + "-wal").exists() else 0)  # fmt: skip
    return size, int(stored)


def run_cycle(config: Path, *extra: str) -> dict[str, Any]:
    """One cycle in a fresh process (``--profile FILE`` among ``extra`` profiles it);
    ``process_cpu`` is that whole process's CPU seconds (interpreter start, imports, config,
    the cycle, closing), from the kernel's count."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        [sys.executable, __file__, "--cycle", str(config), *extra],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    result["process_cpu"] = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def top_functions(stats: str, count: int = 25) -> None:
    """The profiled cycle's costliest functions by their own time, then by cumulative time."""
    import pstats  # noqa: PLC0415 - on request only

    for key in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(stats, stream=out).sort_stats(key).print_stats(count)
        print(f"\n<!-- profile {stats} by {key}\n{out.getvalue()}\n-->", flush=True)


def timed(config: Path, *args: str, terminal: bool = False) -> tuple[float, float]:
    """Wall seconds of one whole ``ctwatch`` process (start-up included) and until its
    first line of output, the output read and discarded; ``terminal``: on a pseudo-terminal
    (80x24), as a person at a terminal sees it."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "watcher", "--config", str(config), *args]
    if terminal:
        primary, secondary = pty.openpty()
        fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
        proc = subprocess.Popen(command, stdout=secondary, stderr=subprocess.DEVNULL)
        os.close(secondary)
        reader: IO[bytes] = os.fdopen(primary, "rb", buffering=0)
    else:
        # unbuffered: each read returns what has arrived (a buffered read of 64 KiB would
        # wait for that much, and a short output's first line would seem to come at the end)
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0
        )
        assert proc.stdout is not None
        reader = proc.stdout
    first = 0.0
    with reader:
        buffered = b""
        while True:
            try:
                chunk = reader.read(65536)
            except OSError:  # the pseudo-terminal closed
                break
            if not chunk:
                break
            if not first and b"\n" in buffered + chunk:
                first = time.perf_counter() - start
            buffered = b"" if first else buffered + chunk
    proc.wait()
    return time.perf_counter() - start, first


STATUS_HEADER = (
    "\n| N | command | wall | first line | against | ratio |\n|---:|---|---:|---:|---|---:|"
)


def status_times(n: int, config: Path) -> list[dict[str, Any]]:
    """``status`` (on a terminal, to a pipe, and every row to a pipe with ``--all``) and
    ``status --json`` against a no-change ``check``, each a fresh process."""
    check, first = timed(config, "check")
    print(f"| {n:,} | `ctwatch check`, no change | {check:.2f} s | – | – | – |", flush=True)
    out = [{"n": n, "command": "check", "where": "", "wall": check}]
    runs = (
        (["status"], True),
        (["status"], False),
        (["status", "--all"], False),
        (["status", "--json"], False),
    )
    for args, terminal in runs:
        took, first = timed(config, *args, terminal=terminal)
        where = "on a terminal" if terminal else "to a pipe"
        out.append(
            {"n": n, "command": " ".join(args), "where": where, "wall": took, "first": first}
        )
        print(
            f"| {n:,} | `ctwatch {' '.join(args)}` {where} | {took:.2f} s | {first:.2f} s "
            f"| no-change `ctwatch check` | {took / check:.1f}× |",
            flush=True,
        )
    return out


def _folder(keep: str | None, n: int) -> Any:
    """Where a run's config and database live: a temporary folder, or ``KEEP/N`` (kept)."""
    if keep is None:
        return tempfile.TemporaryDirectory(prefix="ctwatch-bench-")
    folder = Path(keep) / str(n)
    folder.mkdir(parents=True, exist_ok=False)
    return nullcontext(str(folder))


def bench(
    n: int,
    naive: bool,
    wide_over: int,
    readable: str | None = None,
    *,
    events: bool = True,
    profile: str | None = None,
    in_toml: bool = False,
    statuses: list[dict[str, Any]] | None = None,
    meter: bool = False,
    keep: str | None = None,
) -> list[dict[str, Any]]:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(n, child), daemon=True)
    server.start()
    url = parent.recv()
    rows = []
    try:
        parent.send(("parse", None))
        parse = parent.recv()
        with _folder(keep, n) as tmp:
            config = write_config(Path(tmp), url, n, naive, wide_over, readable, in_toml)
            db = Path(tmp) / "ctwatch.db"
            received = 0.0
            for name in ("baseline", "no change", "1% changed"):
                if name == "1% changed":
                    parent.send(("change", 0.01))
                    parent.recv()
                before = db_figures(db)[0] if db.exists() else 0
                stats = f"{profile}.{n}" if profile and name == "baseline" else None
                extra = [
                    *(() if events else ("--no-events",)),
                    *(("--meter-events",) if meter else ()),
                    *(("--profile", stats) if stats else ()),
                ]
                row = run_cycle(config, *extra)
                if stats:
                    top_functions(stats)
                size, stored = db_figures(db)
                received += row["mb"]
                row.update(
                    n=n, cycle=name, naive=naive, db_mb=size / 1e6,
                    db_growth_kb=(size - before) / 1024, stored_mb=stored / 1e6,
                    received_mb=received, parse=parse, events=events,
                )  # fmt: skip
                rows.append(row)
                print(_line(row), flush=True)
            if not naive and events:
                print(STATUS_HEADER, flush=True)
                timings = status_times(n, config)
                if statuses is not None:
                    statuses += timings
    finally:
        parent.send(("stop", None))
        parent.recv()
        server.join(timeout=10)
    return rows


HEADER = (
    "| N | mode | cycle | requests | MB received | wall s | CPU s | process CPU s "
    "| process CPU / json.loads | CPU ms / 1k records | peak RSS MB | DB MB | DB bytes / trial "
    "| DB growth KB |\n"
    "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def _line(row: dict[str, Any]) -> str:
    per_k = f"{row['cpu'] * 1e6 / row['fetched']:.0f}" if row["fetched"] else "–"
    baseline = row["cycle"] == "baseline"
    ratio = f"{row['process_cpu'] / row['parse']['json']:.2f}×" if baseline else "–"
    return (
        f"| {row['n']:,} | {_mode(row)} | {row['cycle']} "
        f"| {row['requests']:,} | {row['mb']:.2f} | {row['wall']:.2f} | {row['cpu']:.2f} "
        f"| {row['process_cpu']:.2f} | {ratio} "
        f"| {per_k} | {row['rss_mb']:.0f} | {row['db_mb']:.2f} "
        f"| {row['db_mb'] * 1e6 / row['n']:,.0f} | {row['db_growth_kb']:.1f} |"
    )


def _mode(row: dict[str, Any]) -> str:
    if row["naive"]:
        return "naive"
    return "ctwatch" if row.get("events", True) else "no events"


def event_cost(rows: list[dict[str, Any]]) -> list[str]:
    """CPU of each cycle with the event rules against the same cycle without them."""
    out = []
    plain = {(r["n"], r["cycle"]): r for r in rows if not r["naive"] and not r["events"]}
    for row in rows:
        other = plain.get((row["n"], row["cycle"]))
        if row["naive"] or not row["events"] or other is None or row["cycle"] == "no change":
            continue
        extra = (row["cpu"] - other["cpu"]) / other["cpu"] * 100 if other["cpu"] else 0.0
        rest = row["cpu"] - row["events_cpu"]
        inside = (
            f"; measured inside (metering adds CPU of its own): classification "
            f"{row['classify_cpu']:.3f} s ({row['classify_cpu'] / rest * 100:+.1f} %), "
            f"time-event facts and pass {row['clock_cpu']:.3f} s "
            f"({row['clock_cpu'] / rest * 100:+.1f} %)"
            if row.get("metered")
            else ""
        )
        out.append(
            f"- N = {row['n']:,}, {row['cycle']}: {row['cpu']:.2f} s CPU with events, "
            f"{other['cpu']:.2f} s without: {extra:+.1f} % (target ≤ +10 %){inside}"
        )
    return out


def medians(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per N, mode and cycle: each figure the median of its runs (``--repeat``)."""
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["n"], row["naive"], row["events"], row["cycle"]), []).append(row)
    out = []
    for runs in groups.values():
        merged = dict(runs[0])
        for key, value in runs[0].items():
            if isinstance(value, float):
                merged[key] = statistics.median(r[key] for r in runs)
        merged["parse"] = {k: statistics.median(r["parse"][k] for r in runs)
                           for k in runs[0]["parse"]}  # fmt: skip
        out.append(merged)
    return out


def parsing(rows: list[dict[str, Any]]) -> list[str]:
    """The baseline's CPU as a multiple of parsing the same JSON, for each N."""
    out = []
    for row in rows:
        if row["cycle"] != "baseline" or row["naive"]:
            continue
        parse = row["parse"]
        out.append(
            f"- N = {row['n']:,}: baseline {row['process_cpu']:.2f} s CPU for the whole "
            f"process ({row['cpu']:.2f} s in the cycle); parsing the same "
            f"{parse['bytes'] / 1e6:.0f} MB takes {parse['json']:.2f} s with json.loads "
            f"({row['process_cpu'] / parse['json']:.2f}×) and {parse['orjson']:.2f} s with "
            f"orjson.loads ({row['process_cpu'] / parse['orjson']:.2f}×)"
        )
        out.append(
            f"- N = {row['n']:,}: database {row['db_mb']:.2f} MB for {row['received_mb']:.2f} MB "
            f"of JSON received ({row['db_mb'] / row['received_mb']:.3f}×)"
        )
    return out


def memory(rows: list[dict[str, Any]]) -> list[str]:
    """Peak RSS at N against N/10, wherever both ran."""
    peak: dict[int, float] = {}
    for row in rows:
        if not row["naive"]:
            peak[row["n"]] = max(peak.get(row["n"], 0.0), row["rss_mb"])
    return [
        f"- peak RSS at N = {n:,}: {mb:.0f} MB, {mb / peak[n // 10]:.2f}× the "
        f"{peak[n // 10]:.0f} MB at N = {n // 10:,}"
        for n, mb in sorted(peak.items())
        if n // 10 in peak and n % 10 == 0
    ]


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The targets at N = 10,000 (and at 580,000 when it ran), each with the measured value,
    for ctwatch as configured by default (the event rules on)."""
    by = {r["cycle"]: r for r in rows if r["n"] == 10_000 and not r["naive"] and r["events"]}
    checks = []
    if len(by) == 3:
        a, b, c = by["baseline"], by["no change"], by["1% changed"]
        small = max((r["rss_mb"] for r in rows if r["n"] == 1_000 and not r["naive"]), default=0)
        peak = max(r["rss_mb"] for r in by.values())
        checks += [
            ("no-change cycle: 1 request", b["requests"] == 1, f"{b['requests']}"),
            ("no-change cycle: under 1 s", b["wall"] < 1, f"{b['wall']:.2f} s"),
            ("1% cycle: at most 15 requests", c["requests"] <= 15, f"{c['requests']}"),
            ("1% cycle: fetches 1% of the records", c["fetched"] <= 100, f"{c['fetched']}"),
            ("1% cycle: under 5 s wall", c["wall"] < 5, f"{c['wall']:.2f} s"),
            ("1% cycle: under 3 s CPU", c["cpu"] < 3, f"{c['cpu']:.2f} s"),
            ("1% cycle: under 250 MB peak RSS", c["rss_mb"] < 250, f"{c['rss_mb']:.0f} MB"),
            ("baseline: at most 12 requests", a["requests"] <= 12, f"{a['requests']}"),
            (
                "baseline CPU (whole process) ≤ 3× json.loads of the same bytes",
                a["process_cpu"] <= 3 * a["parse"]["json"],
                f"{a['process_cpu'] / a['parse']['json']:.2f}× "
                f"({a['process_cpu']:.2f} s / {a['parse']['json']:.2f} s)",
            ),
            (
                "peak RSS ≤ 1.3× peak RSS at N = 1,000",
                bool(small) and peak <= 1.3 * small,
                f"{peak:.0f} MB vs {small:.0f} MB" if small else "N = 1,000 not run",
            ),
            (
                "database ≤ 0.25× the JSON received",
                c["db_mb"] <= 0.25 * c["received_mb"],
                f"{c['db_mb'] / c['received_mb']:.3f}×",
            ),
            (
                "no-change cycle grows the DB < 4 KB",
                b["db_growth_kb"] < 4,
                f"{b['db_growth_kb']:.1f} KB",
            ),
        ]
    whole = [r for r in rows if r["n"] == 580_000 and r["cycle"] == "baseline" and not r["naive"]
             and r["events"]]  # fmt: skip
    for a in whole:
        checks += [
            ("580,000 baseline: under 120 s CPU", a["cpu"] < 120, f"{a['cpu']:.1f} s"),
            ("580,000 baseline: under 300 MB peak RSS", a["rss_mb"] < 300, f"{a['rss_mb']:.0f} MB"),
        ]
    return [f"- [{'x' if ok else ' '}] {what}: {value}" for what, ok, value in checks]


def whole_registry(rows: list[dict[str, Any]], statuses: list[dict[str, Any]]) -> list[str]:
    """Issue 25's targets at each N that ran, with the measured ratio."""
    out = []
    peaks: dict[int, float] = {}
    for row in rows:
        if not row["naive"]:
            peaks[row["n"]] = max(peaks.get(row["n"], 0.0), row["rss_mb"])
    for n in sorted(peaks):
        base = next(r for r in rows if r["n"] == n and r["cycle"] == "baseline" and not r["naive"])
        floor = base["parse"]["json"]
        ratio = base["process_cpu"] / floor
        out.append(
            f"- [{'x' if ratio <= 3 else ' '}] N = {n:,}: baseline {base['process_cpu']:.1f} s "
            f"CPU (whole process) = {ratio:.2f}× json.loads of the "
            f"{base['parse']['bytes'] / 1e6:,.0f} MB it received ({floor:.1f} s; target ≤ 3×)"
        )
        small = peaks.get(n // 10)
        if small:
            grow = peaks[n] / small
            ok = grow <= 1.3 and peaks[n] <= 300
            out.append(
                f"- [{'x' if ok else ' '}] N = {n:,}: peak RSS {peaks[n]:.0f} MB = {grow:.2f}× "
                f"the {small:.0f} MB at N = {n // 10:,} (target ≤ 1.3× and ≤ 300 MB)"
            )
        timing = {(s["command"], s["where"]): s for s in statuses if s["n"] == n}
        check = timing.get(("check", ""))
        if check is None:
            continue
        out.append(
            f"- [{'x' if check['wall'] <= 1 else ' '}] N = {n:,}: no-change `ctwatch check` "
            f"{check['wall']:.2f} s wall (target ≤ 1 s)"
        )
        for (command, where), s in timing.items():
            if command == "check":
                continue
            ratio = s["wall"] / check["wall"]
            figures = (
                f"N = {n:,}: `ctwatch {command}` {where} {s['wall']:.2f} s = {ratio:.1f}× the "
                f"no-change check, first line after {s['first']:.2f} s"
            )
            if command.endswith("--all"):  # every row asked for: a figure, not a target
                out.append(f"- {figures} (every row asked for; no target)")
                continue
            ok = ratio <= 3 and s["first"] <= 1
            out.append(f"- [{'x' if ok else ' '}] {figures} (target ≤ 3×, first line ≤ 1 s)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", default="1000,10000", help="comma-separated N values")
    parser.add_argument("--naive", action="store_true", help="also run one request per trial")
    parser.add_argument(
        "--registry-wide-over",
        type=int,
        default=5000,
        help="ctwatch's threshold for the registry-wide listing (default 5000; a huge value "
        "forces ID batches)",
    )
    parser.add_argument(
        "--readable-records",
        choices=["true", "false", '"json"'],
        help="database.readable_records for the run (default: ctwatch's default, typed "
        "columns; '\"json\"' also keeps each record as JSON text)",
    )
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="profile each baseline cycle with cProfile, write the stats to FILE.N and print "
        "the functions that cost the most",
    )
    parser.add_argument(
        "--trials-in-toml",
        action="store_true",
        help="list the IDs as a TOML `trials` array instead of a trials_file (the old way)",
    )
    parser.add_argument("--cycle", help=argparse.SUPPRESS)
    parser.add_argument("--full", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-events", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep",
        metavar="DIR",
        help="keep the config and database of each N (the first run with events) in DIR/N, "
        "for measuring `ctwatch status` or an idle check again without a new baseline",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="R",
        help="run each N R times (with and without events, alternating) and report the "
        "median of each figure: a shared machine's noise is larger than the effects measured",
    )
    parser.add_argument(
        "--meter-events",
        action="store_true",
        help="also time the event code inside the cycles (a breakdown; the timing itself "
        "costs CPU, so the with/without comparison is then pessimistic)",
    )
    parser.add_argument(
        "--skip-event-comparison",
        action="store_true",
        help="do not repeat the cycles without the event rules",
    )
    args = parser.parse_args()
    if args.cycle:
        one_cycle(
            args.cycle, args.full, events=not args.no_events, profile=args.profile,
            meter=args.meter_events,
        )  # fmt: skip
        return
    sizes = [int(x.replace("_", "").replace(",", "")) for x in args.trials.split(",") if x]
    from installed import installed_env  # noqa: PLC0415 - the parent's only

    os.environ.clear()
    os.environ.update(installed_env())  # the children start as an installed ctwatch does
    print(f"ctwatch benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print(HEADER)
    rows: list[dict[str, Any]] = []
    statuses: list[dict[str, Any]] = []
    for n in sizes:
        for run in range(args.repeat):
            # with and without events alternating, and which goes first too (on-off,
            # off-on, ...): a busy spell or a warmer cache then favours neither
            with_events = partial(
                bench,
                n,
                False,
                args.registry_wide_over,
                args.readable_records,
                profile=args.profile,
                in_toml=args.trials_in_toml,
                statuses=statuses if run == 0 else None,
                meter=args.meter_events,
                keep=args.keep if run == 0 else None,
            )
            without = partial(
                bench,
                n,
                False,
                args.registry_wide_over,
                args.readable_records,
                events=False,
                in_toml=args.trials_in_toml,
            )
            order = [with_events] if args.skip_event_comparison else [with_events, without]
            for one in order if run % 2 == 0 else reversed(order):
                rows += one()
        if args.naive:
            rows += bench(n, True, args.registry_wide_over, args.readable_records)
    if args.repeat > 1:
        rows = medians(rows)
        print(f"\nFigures below: the median of {args.repeat} runs of each cycle.")
    if lines := event_cost(rows):
        print("\nEvents (classification inside the cycle):")
        print("\n".join(lines))
    print("\nParsing the same JSON:")
    print("\n".join(parsing(rows)))
    if lines := memory(rows):
        print("\nMemory:")
        print("\n".join(lines))
    if lines := whole_registry(rows, statuses):
        print("\nThe whole registry (issue 25), every figure as a ratio:")
        print("\n".join(lines))
    if lines := targets(rows):
        print("\nTargets:")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
