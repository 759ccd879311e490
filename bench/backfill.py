"""What importing registry history costs: requests and seconds per 100 versions.

    python bench/backfill.py                       # 10 trials x 10 versions, pace 0
    python bench/backfill.py --pace 1              # the same at the real pace (1 request/s)
    python bench/backfill.py --trials 20 --versions 5

The project's registry double serves, from a separate process, T synthetic
real-shaped trials (bench/synth.py) each with V registry versions in the history
endpoints' HTML form. ``ctwatch backfill --all`` then runs in a fresh process on
an empty database, and the double counts what it was asked. A second run shows
the cost of a re-run (one request per trial). Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from multiprocessing.connection import Connection
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synth import nct, study  # noqa: E402

from tests.support.histories import Step, build_versions, historic  # noqa: E402
from watcher.testing.registry_double import RegistryDouble  # noqa: E402
from watcher.testing.registry_history import HistoricVersion  # noqa: E402

STATUSES = ("NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED")


def history_of(index: int, versions: int) -> list[HistoricVersion]:
    """V versions of one synthetic trial: status moves, the completion date slips."""
    start = date(2019, 1, 7)
    pcd = "/protocolSection/statusModule/primaryCompletionDateStruct"
    steps = [
        Step(
            (start + timedelta(days=45 * v)).isoformat(),
            STATUSES[min(v * len(STATUSES) // versions, len(STATUSES) - 1)],
            ("Study Status",),
            (
                {
                    "op": "add",
                    "path": pcd,
                    "value": {"date": f"{2024 + v // 3}-06", "type": "ESTIMATED"},
                },
            ),
        )
        for v in range(versions)
    ]
    records = build_versions(study(index), steps)
    return [
        HistoricVersion(s.date, historic(r), s.status, s.module_labels)
        for s, r in zip(steps, records, strict=True)
    ]


def serve(trials: int, versions: int, conn: Connection) -> None:
    """The double's process: build the histories, then report traffic on request."""
    double = RegistryDouble().start()
    for i in range(trials):
        double.history.set(nct(i), history_of(i, versions))
    conn.send(double.url)
    while True:
        command = conn.recv()
        if command == "count":
            requests = double.requests
            conn.send((len(requests), double.bytes_sent))
            double.reset_requests()
        else:
            double.stop()
            conn.send(None)
            return


def run(config: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), "backfill", "--all"],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--pace", type=float, default=0.0)
    args = parser.parse_args()
    here, there = mp.Pipe()
    server = mp.get_context("spawn").Process(target=serve, args=(args.trials, args.versions, there))
    server.start()
    url = here.recv()
    total = args.trials * args.versions
    with tempfile.TemporaryDirectory(prefix="ctwatch-backfill-") as tmp:
        config = Path(tmp) / "ctwatch.toml"
        trials = ", ".join(f'"{nct(i)}"' for i in range(args.trials))
        config.write_text(
            f'[registry]\nurl = "{url}"\npace = {args.pace}\n\n[database]\npath = "ctwatch.db"\n'
            f'\n[[watch]]\nname = "bench"\ntrials = [{trials}]\n',
            encoding="utf-8",
        )
        print(f"{args.trials} trials x {args.versions} versions = {total}, pace {args.pace:g} s")
        for label in ("first run", "re-run"):
            seconds = run(config)
            here.send("count")
            requests, sent = here.recv()
            per_100 = 100 / total
            print(
                f"{label:9}: {requests} requests ({requests * per_100:.0f} per 100 versions), "
                f"{sent / 1e6:.2f} MB, {seconds:.2f} s wall ({seconds * per_100:.2f} s per 100 "
                f"versions, process start included)"
            )
    here.send("stop")
    here.recv()
    server.join()


if __name__ == "__main__":
    main()
