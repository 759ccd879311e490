"""ctwatch benchmark: registry cost, time and memory of real cycles.

    python bench/run.py                    # N = 1,000 and 10,000
    python bench/run.py --trials 100000    # on request
    python bench/run.py --naive            # also one request per trial, same code

For each N it serves N synthetic trials (bench/synth.py) from the project's
registry double in a separate process, then runs three cycles, each in a fresh
``ctwatch`` process so the figures are ctwatch's alone:

    (a) baseline   - first sight of every trial
    (b) no change  - the registry's dataTimestamp has not moved
    (c) 1% changed - a registry refresh that edited 1% of the trials

and prints requests, MB received, wall and CPU seconds, peak RSS and database
size for each; then the wall time of ``ctwatch status`` and ``status --json``
(output to /dev/null) against a no-change ``ctwatch check``, each a whole
fresh process. ``--naive`` repeats them with one request per trial and no
version probe or incremental fetch (batch_size = 1, incremental = false).
This is a benchmark that prints its figures, not a test: nothing here asserts.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synth import edited, nct, study  # noqa: E402

from watcher.testing.registry_double import RegistryDouble  # noqa: E402

BEFORE = "2025-11-20T09:00:06"
AFTER = "2025-11-21T09:00:06"
CHANGE_DAY = "2025-11-20"


def serve(n: int, conn: Connection) -> None:
    """The registry double's process: build N trials, then obey commands."""
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
        elif command == "stop":
            double.stop()
            conn.send(None)
            return


def one_cycle(config: str) -> None:
    """Child mode: run one `ctwatch check` cycle in-process and print its figures."""
    import io  # noqa: PLC0415 - child mode only

    from watcher.app import App  # noqa: PLC0415
    from watcher.config import load_config  # noqa: PLC0415

    app = App.build(load_config(Path(config)), out=io.StringIO())
    wall0, cpu0 = time.perf_counter(), time.process_time()
    report, delivery = app.check()
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
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "checked": report.checked,
                "changed": len(report.changed),
                "new": len(report.new),
                "alerts": delivery.sent,
            }
        )
    )


def write_config(folder: Path, url: str, n: int, naive: bool, wide_over: int) -> Path:
    path = folder / "ctwatch.toml"
    trials = ",\n".join(f'  "{nct(i)}"' for i in range(n))
    mode = "incremental = false\nbatch_size = 1\n" if naive else ""
    mode += f"registry_wide_over = {wide_over}\n"
    path.write_text(
        f'[registry]\nurl = "{url}"\npace = 0\nretries = 2\nbackoff = 0.1\n{mode}\n'
        f'[database]\npath = "ctwatch.db"\n\n[[watch]]\nname = "bench"\ntrials = [\n{trials}\n]\n',
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


def run_cycle(config: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--cycle", str(config)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def timed(config: Path, *args: str) -> float:
    """Wall seconds of one whole ``ctwatch`` process (start-up included), output discarded."""
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        stdout=subprocess.DEVNULL, check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def status_times(n: int, config: Path) -> None:
    """``status`` and ``status --json`` against a no-change ``check``, each a fresh process."""
    check = timed(config, "check")
    for args in (["status"], ["status", "--json"]):
        took = timed(config, *args)
        print(
            f"| {n:,} | `ctwatch {' '.join(args)}` | {took:.2f} s | no-change `ctwatch check` "
            f"{check:.2f} s | {took / check:.1f}x |",
            flush=True,
        )


def bench(n: int, naive: bool, wide_over: int) -> list[dict[str, Any]]:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(n, child), daemon=True)
    server.start()
    url = parent.recv()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="ctwatch-bench-") as tmp:
            config = write_config(Path(tmp), url, n, naive, wide_over)
            db = Path(tmp) / "ctwatch.db"
            received = 0.0
            for name in ("baseline", "no change", "1% changed"):
                if name == "1% changed":
                    parent.send(("change", 0.01))
                    parent.recv()
                before = db_figures(db)[0] if db.exists() else 0
                row = run_cycle(config)
                size, stored = db_figures(db)
                received += row["mb"]
                row.update(
                    n=n, cycle=name, naive=naive, db_mb=size / 1e6,
                    db_growth_kb=(size - before) / 1024, stored_mb=stored / 1e6,
                    received_mb=received,
                )  # fmt: skip
                rows.append(row)
                print(_line(row), flush=True)
            if not naive:
                status_times(n, config)
    finally:
        parent.send(("stop", None))
        parent.recv()
        server.join(timeout=10)
    return rows


HEADER = (
    "| N | mode | cycle | requests | MB received | wall s | CPU s | peak RSS MB | DB MB "
    "| DB growth KB |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
)


def _line(row: dict[str, Any]) -> str:
    return (
        f"| {row['n']:,} | {'naive' if row['naive'] else 'ctwatch'} | {row['cycle']} "
        f"| {row['requests']:,} | {row['mb']:.2f} | {row['wall']:.2f} | {row['cpu']:.2f} "
        f"| {row['rss_mb']:.0f} | {row['db_mb']:.2f} | {row['db_growth_kb']:.1f} |"
    )


def targets(rows: list[dict[str, Any]]) -> list[str]:
    """The issue's targets at N = 10,000, each with the measured value."""
    by = {r["cycle"]: r for r in rows if r["n"] == 10_000 and not r["naive"]}
    if len(by) < 3:
        return []
    a, b, c = by["baseline"], by["no change"], by["1% changed"]
    checks = [
        ("no-change cycle: 1 request", b["requests"] == 1, f"{b['requests']}"),
        ("no-change cycle: under 1 s", b["wall"] < 1, f"{b['wall']:.2f} s"),
        ("1% cycle: at most 15 requests", c["requests"] <= 15, f"{c['requests']}"),
        ("1% cycle: under 5 s wall", c["wall"] < 5, f"{c['wall']:.2f} s"),
        ("1% cycle: under 3 s CPU", c["cpu"] < 3, f"{c['cpu']:.2f} s"),
        ("1% cycle: under 250 MB peak RSS", c["rss_mb"] < 250, f"{c['rss_mb']:.0f} MB"),
        ("baseline: at most 12 requests", a["requests"] <= 12, f"{a['requests']}"),
        (
            "no-change cycle grows the DB < 4 KB",
            b["db_growth_kb"] < 4,
            f"{b['db_growth_kb']:.1f} KB",
        ),
        (
            "stored versions smaller than JSON received",
            c["stored_mb"] < c["received_mb"],
            f"{c['stored_mb']:.1f} MB stored vs {c['received_mb']:.1f} MB received",
        ),
    ]
    return [f"- [{'x' if ok else ' '}] {what}: {value}" for what, ok, value in checks]


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
    parser.add_argument("--cycle", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cycle:
        one_cycle(args.cycle)
        return
    sizes = [int(x.replace("_", "").replace(",", "")) for x in args.trials.split(",") if x]
    print(f"ctwatch benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print(HEADER)
    rows = []
    for n in sizes:
        rows += bench(n, naive=False, wide_over=args.registry_wide_over)
        if args.naive:
            rows += bench(n, naive=True, wide_over=args.registry_wide_over)
    lines = targets(rows)
    if lines:
        print("\nTargets at N = 10,000:")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
