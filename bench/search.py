"""What a search costs: requests, wall and CPU of search cycles.

    python bench/search.py                    # N = 10,000 trials at the registry, one search
    python bench/search.py --trials 50000     # a bigger registry, the same search
    python bench/search.py --follow           # the search follows its members too

The project's registry double serves N synthetic trials (bench/synth.py) from
a separate process; the search is ``cond=tumor`` with ``aggFilters=status:rec``
(recruiting trials whose conditions name a tumor: about 7% of N). Each cycle
runs in a fresh ``ctwatch`` process (bench/run.py's child mode):

    (a) baseline    - the whole search, IDs only (and, with --follow, every
                      member's record)
    (b) no change   - the registry's dataTimestamp has not moved
    (c) refresh     - 1% of the trials edited (recruiting -> active, not
                      recruiting: members leave) and 20 new matching trials
    (d) sweep       - the weekly full re-run, reconciled (``check --full``)

and prints requests, MB received, wall and CPU seconds, the members after the
cycle, the events it recorded and the database size. The double builds its
search index before the first cycle, so the figures are ctwatch's and the
wire's. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import sys
import tempfile
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from run import AFTER, BEFORE, CHANGE_DAY, db_figures, run_cycle  # noqa: E402
from synth import edited, study  # noqa: E402

from watcher.testing.registry_double import RegistryDouble  # noqa: E402

URL = "https://clinicaltrials.gov/search?cond=tumor&aggFilters=status:rec"
NEW_TRIALS = 20


def newcomer(index: int) -> dict[str, Any]:
    """A trial first posted on the change day, recruiting, on a tumor."""
    record = study(index)
    module = record["protocolSection"]["statusModule"]
    module["overallStatus"] = "RECRUITING"
    module["studyFirstPostDateStruct"] = {"date": CHANGE_DAY, "type": "ACTUAL"}
    module["lastUpdatePostDateStruct"] = {"date": CHANGE_DAY, "type": "ACTUAL"}
    record["protocolSection"]["conditionsModule"] = {"conditions": ["Solid Tumor"]}
    return record


def serve(n: int, conn: Connection) -> None:
    """The registry double's process: build N trials, then obey commands."""
    double = RegistryDouble((study(i) for i in range(n)), data_timestamp=BEFORE).start()
    warm = {"query.cond": "tumor", "aggFilters": "status:rec", "fields": "NCTId"}
    httpx.get(double.url + "/studies", params=warm, timeout=600)  # the double's index, built
    double.reset_requests()
    conn.send(double.url)
    while True:
        command, _ = conn.recv()
        if command == "refresh":
            for i in range(0, n, 100):
                double.put(edited(study(i), CHANGE_DAY))
            for i in range(n, n + NEW_TRIALS):
                double.put(newcomer(i))
            double.set_data_timestamp(AFTER)
            conn.send(None)
        elif command == "stop":
            double.stop()
            conn.send(None)
            return


def write_config(folder: Path, url: str, follow: bool) -> Path:
    path = folder / "ctwatch.toml"
    path.write_text(
        f'[registry]\nurl = "{url}"\npace = 0\nretries = 2\nbackoff = 0.1\n\n'
        f'[database]\npath = "ctwatch.db"\n\n'
        f'[[search]]\nname = "tumor"\nurl = "{URL}"\nfollow = {str(follow).lower()}\n',
        encoding="utf-8",
    )
    return path


def bench(n: int, follow: bool) -> None:
    parent, child = mp.Pipe()
    server = mp.Process(target=serve, args=(n, child), daemon=True)
    server.start()
    url = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="ctwatch-bench-search-") as tmp:
            config = write_config(Path(tmp), url, follow)
            db = Path(tmp) / "ctwatch.db"
            for name, extra in (("baseline", ()), ("no change", ()), ("refresh", ()),
                                ("sweep", ("--full",))):  # fmt: skip
                if name == "refresh":
                    parent.send(("refresh", None))
                    parent.recv()
                row = run_cycle(config, *extra)
                size = db_figures(db)[0]
                with sqlite3.connect(db) as conn:
                    members = conn.execute("SELECT COUNT(*) FROM search_members").fetchone()[0]
                mode = "follow" if follow else "search"
                print(
                    f"| {n:,} | {mode} | {name} | {row['requests']} | {row['mb']:.2f} "
                    f"| {row['wall']:.2f} | {row['cpu']:.2f} | {members:,} "
                    f"| {row['search_events']} | {size / 1e6:.2f} |",
                    flush=True,
                )
    finally:
        parent.send(("stop", None))
        parent.recv()
        server.join(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000, help="trials at the registry")
    parser.add_argument("--follow", action="store_true", help="the search follows its members")
    args = parser.parse_args()
    print(f"ctwatch search benchmark on {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print(
        "| N at the registry | mode | cycle | requests | MB received | wall s | CPU s "
        "| members | events | DB MB |\n|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
    )
    bench(args.trials, args.follow)


if __name__ == "__main__":
    main()
