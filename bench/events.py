"""What the event rules cost: a 100-version imported history, and the time-event pass.

    python bench/events.py                 # 100 versions; 10,000 trials
    python bench/events.py --trials 2000   # a smaller time-event pass

(1) *History*: 100 versions of one synthetic real-shaped trial (bench/synth.py) whose
status, dates, enrollment, sites and outcomes move from version to version, diffed and
classified in order, each with the facts of every version before it, as
``ctwatch backfill`` does. Prints the diff and the classification separately (the
diff existed before events).

(2) *Time events*: N trials recorded in a fresh store (one version each), then three
passes of :class:`watcher.cycle.time_events.TimeEvents`: the first evaluation (every
trial's current state recorded silently), a pass with nothing to tell, and a pass a
year later (many transitions, alerts queued to a console destination). The pass has
no registry client at all: it makes no request by construction; the figures are
wall and CPU seconds. The CPU cost of classification inside a real cycle is printed
by ``bench/run.py`` (with and without events). Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import copy
import functools
import itertools
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from synth import study  # noqa: E402

from watcher.alerts.routing import Route, Routes  # noqa: E402
from watcher.core.destination import Destination  # noqa: E402
from watcher.core.diff import diff_records  # noqa: E402
from watcher.core.events import clock_facts  # noqa: E402
from watcher.core.events.classify import classify  # noqa: E402
from watcher.core.events.facts import Facts, facts_of  # noqa: E402
from watcher.core.snapshot import take_snapshot  # noqa: E402
from watcher.cycle.time_events import TimeEvents  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.store.events import ClockWrite  # noqa: E402

STATUSES = ("NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED")


def _at(moment: datetime) -> datetime:
    return moment


def history(versions: int) -> list[dict[str, Any]]:
    """``versions`` normalised records of one trial, each a plausible registry update."""
    record = take_snapshot("NCT00000001", study(1)).record
    out = [record]
    for v in range(1, versions):
        nxt = copy.deepcopy(out[-1])
        p = nxt["protocolSection"]
        s = p["statusModule"]
        s["statusVerifiedDate"] = f"{2020 + v // 12}-{v % 12 + 1:02d}"
        s["overallStatus"] = STATUSES[v % len(STATUSES)]
        if v % 3 == 0:
            year = 2026 + v // 6
            s["primaryCompletionDateStruct"] = {"date": f"{year}-{v % 12 + 1:02d}",
                                                "type": "ESTIMATED"}  # fmt: skip
        if v % 5 == 0:
            p["designModule"]["enrollmentInfo"]["count"] += 10 if v % 10 else -30
        if v % 4 == 0:
            p["contactsLocationsModule"]["locations"][0]["status"] = STATUSES[v % 4]
        if v % 7 == 0:
            p["outcomesModule"]["secondaryOutcomes"].append({"measure": f"Outcome {v}"})
        out.append(nxt)
    return out


def bench_history(versions: int) -> None:
    records = history(versions)
    t0 = time.perf_counter()
    diffs = [diff_records(a, b) for a, b in itertools.pairwise(records)]
    t_diff = time.perf_counter() - t0
    best = float("inf")
    count = 0
    for _ in range(5):  # best of five: the machine is shared
        t0 = time.perf_counter()
        facts: list[Facts] = []
        count = 0
        for index, changes in enumerate(diffs):
            count += len(classify(records[index], records[index + 1], changes, facts))
            facts.append(facts_of(records[index]))
        best = min(best, time.perf_counter() - t0)
    print(
        f"- history of {versions} versions: diff {t_diff * 1000:.1f} ms; classification "
        f"{best * 1000:.1f} ms (best of 5; {count} events; target ≤ 50 ms)"
    )


def bench_clock(trials: int) -> None:
    with tempfile.TemporaryDirectory(prefix="ctwatch-events-") as tmp:
        store = Store.open(Path(tmp) / "ctwatch.db", readable_records=False)
        t0 = time.perf_counter()
        with store.versions.batch() as batch:
            for i in range(trials):
                record = study(i)
                p = record["protocolSection"]
                p["oversightModule"]["isFdaRegulatedDrug"] = i % 2 == 0
                snap = take_snapshot(p["identificationModule"]["nctId"], record)
                facts = clock_facts(snap.record)  # kept for every trial: the worst case
                batch.record_version(snap, [], [], "2025-01-01T00:00:00Z",
                                     clock=ClockWrite(facts.to_json(), True))  # fmt: skip
        print(f"- {trials:,} trials recorded in {time.perf_counter() - t0:.1f} s (setup)")
        console = (Route("bench", Destination.console(), None),)
        routes = Routes([console], dict.fromkeys(_ids(store), (0,)), {})
        for label, moment in (
            ("first evaluation (silent)", datetime(2026, 1, 20, tzinfo=UTC)),
            ("nothing moved", datetime(2026, 1, 21, tzinfo=UTC)),
            ("a year later", datetime(2027, 1, 21, tzinfo=UTC)),
        ):
            pass_ = TimeEvents(store, functools.partial(_at, moment))
            w0, c0 = time.perf_counter(), time.process_time()
            report = pass_.run(routes)
            wall, cpu = time.perf_counter() - w0, time.process_time() - c0
            print(
                f"- time-event pass over {report.evaluated:,} trials, {label}: {wall:.3f} s wall, "
                f"{cpu:.3f} s CPU, {report.events:,} events, {report.alerts:,} alerts queued, "
                "0 requests (target ≤ 0.5 s)"
            )
        store.close()


def _ids(store: Store) -> list[str]:
    return [r.nct_id for r in store.versions.trials()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--trials", type=int, default=10_000)
    args = parser.parse_args()
    print("Events benchmark\n")
    bench_history(args.versions)
    bench_clock(args.trials)


if __name__ == "__main__":
    main()
