"""What the web UI costs on a big database: milliseconds per page.

    python bench/ui.py                       # 10,000 trials, 200,000 versions
    python bench/ui.py --trials 2000 --versions 40000
    python bench/ui.py --keep /tmp/ui.db     # keep (and reuse) the database

The database is built once: a trial with 200 versions and 50 trials with 10
versions each are recorded through the store as a cycle records them
(snapshot, field diff, zstd with the dictionary the store trains), then the
other trials' versions are bulk-inserted with bodies taken from those (so rows
have the real size, ~1-2 KB) and two field changes each; 30% of the trials
have their older half imported from the registry's history. The config
watches every trial in 10 watches.

ctwatch's own WebServer then serves it on 127.0.0.1, and each page is asked
``--repeat`` times over one keep-alive connection; the figures are the median,
95th percentile and maximum server-side time, read from each answer's
``Server-Timing`` header (the page handler's own time: queries and rendering,
not the socket), and the median the client saw. Targets (issue 23): trial
page with 200 versions <= 150 ms, ``/changes`` <= 100 ms at any depth,
dashboard <= 200 ms. ``/changes`` is measured at several depths of the keyset
cursor, with and without filters; the trial page once more while another
connection holds a write transaction open (a running cycle).
Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from tests.support.story import record_story, slipping_records  # noqa: E402
from watcher.app import build_services  # noqa: E402
from watcher.config import load_config  # noqa: E402
from watcher.store import Store  # noqa: E402
from watcher.store.log_filters import cursor_of  # noqa: E402

BIG = "NCT09000000"
STATUSES = ("NOT_YET_RECRUITING", "RECRUITING", "ACTIVE_NOT_RECRUITING", "COMPLETED")
WATCHES = 10


def nct(index: int) -> str:
    return f"NCT{10_000_000 + index:08d}"


def build(path: Path, trials: int, versions: int) -> None:
    started = time.perf_counter()
    store = Store.open(path)
    record_story(store, BIG, slipping_records(BIG, 200))
    for index in range(50):
        record_story(store, nct(index), slipping_records(nct(index), 10))
    store.close()
    conn = sqlite3.connect(path, isolation_level=None)
    bodies = [r[0] for r in conn.execute("SELECT body FROM versions ORDER BY id DESC LIMIT 200")]
    have = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
    rest = trials - 51
    each = max(1, (versions - have) // rest)
    rng = random.Random(7)
    conn.execute("BEGIN")
    next_id = conn.execute("SELECT MAX(id) FROM versions").fetchone()[0] + 1
    trial_rows, version_rows, change_rows = [], [], []
    for index in range(50, 50 + rest):
        trial = nct(index)
        imported = rng.random() < 0.3
        day0 = rng.randint(0, 3000)
        status = STATUSES[0]
        for position in range(1, each + 1):
            day = time.strftime("%Y-%m-%d", time.gmtime((16000 + day0 + position * 30) * 86400))
            old, status = status, STATUSES[min(position * 4 // each, 3)]
            source = "registry" if imported and position <= each // 2 else "observed"
            version_rows.append(
                (next_id, trial, f"{rng.getrandbits(64):016x}", f"{day}T09:00:00Z", day, status,
                 0 if position == 1 else 2, bodies[rng.randrange(len(bodies))], day, position,
                 position if source == "registry" else None, source)
            )  # fmt: skip
            if position > 1:
                change_rows += [
                    (next_id, "protocolSection.statusModule.overallStatus", "Overall Status",
                     "changed", f'"{old}"', f'"{status}"'),
                    (next_id, "protocolSection.statusModule.lastUpdatePostDateStruct.date",
                     "Last Update Posted", "changed", '"2020-01-01"', f'"{day}"'),
                ]  # fmt: skip
            next_id += 1
        trial_rows.append(
            (trial, f"Study {index}: a synthetic trial", status, day, "x", day, f"{day}T09:00:00Z")
        )
    conn.executemany(
        """INSERT INTO trials (nct_id, title, overall_status, last_update_posted, latest_hash,
                               added_at, last_checked_at) VALUES (?, ?, ?, ?, ?, ?, ?)""",
        trial_rows,
    )
    conn.executemany(
        """INSERT INTO versions (id, nct_id, content_hash, fetched_at, last_update_posted,
                                 overall_status, change_count, body, submitted, position,
                                 registry_version, source)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
        version_rows,
    )
    conn.executemany(
        "INSERT INTO changes (version_id, path, label, kind, old, new) VALUES (?, ?, ?, ?, ?, ?)",
        change_rows,
    )
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    total = conn.execute("SELECT COUNT(*) FROM versions").fetchone()[0]
    conn.close()
    size = path.stat().st_size / 1e6
    print(
        f"built {trials:,} trials, {total:,} versions, {size:,.0f} MB "
        f"in {time.perf_counter() - started:.0f} s"
    )


def write_config(folder: Path, database: Path, trials: int) -> Path:
    ids = [BIG] + [nct(i) for i in range(trials - 1)]
    per = -(-len(ids) // WATCHES)
    watches = "".join(
        f'\n[[watch]]\nname = "watch-{w}"\ntrials = [{", ".join(repr(t) for t in chunk)}]\n'
        for w in range(WATCHES)
        if (chunk := ids[w * per : (w + 1) * per])
    )
    path = folder / "ctwatch.toml"
    path.write_text(
        f'[database]\npath = "{database}"\n\n[server]\nlisten = "127.0.0.1:0"\n{watches}',
        encoding="utf-8",
    )
    return path


def timed(fetch: Callable[[], httpx.Response], repeat: int) -> tuple[float, float, float, float]:
    """(median, p95, max) of the server-side time (``Server-Timing``), and the median of
    the whole request as the client saw it."""
    times, walls = [], []
    for _ in range(repeat):
        started = time.perf_counter()
        answer = fetch()
        walls.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text[:200]
        times.append(float(answer.headers["server-timing"].split("dur=")[1]))
    times.sort()
    p95 = times[max(0, int(len(times) * 0.95) - 1)]
    return statistics.median(times), p95, times[-1], statistics.median(walls)


def cursor_at(database: Path, offset: int) -> str:
    """The keyset cursor of the row at ``offset`` of the whole log (newest first)."""
    conn = sqlite3.connect(database)
    row = conn.execute(
        """SELECT COALESCE(submitted, last_update_posted, substr(fetched_at, 1, 10)) AS d, id
           FROM versions WHERE change_count > 0 ORDER BY d DESC, id DESC LIMIT 1 OFFSET ?""",
        [offset],
    ).fetchone()
    conn.close()
    return cursor_of(row[0], row[1])


def measure(origin: str, database: Path, repeat: int, label: str) -> None:
    changed = (
        sqlite3.connect(database)
        .execute("SELECT COUNT(*) FROM versions WHERE change_count > 0")
        .fetchone()[0]
    )
    with httpx.Client(base_url=origin, timeout=60) as client:
        client.get("/")  # templates compiled, connections open

        def page(name: str, url: str, target: float) -> None:
            median, p95, worst, wall = timed(lambda: client.get(url), repeat)
            ok = "ok" if p95 <= target else "OVER"
            print(
                f"  {name:<44} median {median:6.1f} ms  p95 {p95:6.1f}  max {worst:6.1f}"
                f"  (target {target:.0f}: {ok}; client saw {wall:.1f})"
            )

        print(f"-- {label}")
        page("dashboard (10 watches, 10k trials)", "/", 200)
        page("trial page, 200 versions", f"/trials/{BIG}", 150)
        page("trial page, 20 versions", f"/trials/{nct(100)}", 150)
        page("compare #1 -> #200", f"/trials/{BIG}/compare?a=1&b=200", 150)
        for offset in (0, 1_000, 10_000, 100_000, changed - 60):
            if 0 <= offset < changed:
                url = "/changes" if offset == 0 else f"/changes?after={cursor_at(database, offset)}"
                page(f"/changes at offset {offset:,}", url, 100)
        page("/changes?trial=…", f"/changes?trial={nct(100)}", 100)
        page("/changes?watch=watch-3 (1k trials)", "/changes?watch=watch-3", 100)
        deep = cursor_at(database, changed // 2)
        page("/changes?watch=watch-3 deep", f"/changes?watch=watch-3&after={deep}", 100)
        period = "/changes?since=2021-01-01&until=2021-12-31"
        page(period.removeprefix("/"), period, 100)
        page("/changes?type=field.changed", "/changes?type=field.changed", 100)
        page("/changes?type=dates.* (a rare event)", "/changes?type=dates.*", 100)
        page("/changes?type=field.removed (none)", "/changes?type=field.removed", 100)
        page("/changes?format=csv (200 rows)", "/changes?format=csv", 100)
        page("/changes?format=json (200 rows)", "/changes?format=json", 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--versions", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="database file to keep and reuse")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ctwatch-ui-bench-"))
    database = args.keep or folder / "ctwatch.db"
    if not database.exists():
        build(database, args.trials, args.versions)
    config = load_config(write_config(folder, database, args.trials), {})
    services = build_services(lambda: config).start()
    try:
        assert services.web is not None
        origin = services.web.origin
        measure(origin, database, args.repeat, "current schema")
        writer = sqlite3.connect(database, isolation_level=None, timeout=30)
        writer.execute("BEGIN IMMEDIATE")  # a cycle's write transaction, held open
        writer.execute("UPDATE trials SET last_checked_at = last_checked_at")
        started = time.perf_counter()
        answer = httpx.get(f"{origin}/trials/{BIG}", timeout=30)
        held = (time.perf_counter() - started) * 1000
        print(f"-- trial page while another connection holds a write transaction: "
              f"{answer.status_code} in {held:.1f} ms")  # fmt: skip
        writer.execute("ROLLBACK")
        writer.close()
    finally:
        services.stop()


if __name__ == "__main__":
    main()
