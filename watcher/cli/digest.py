"""``ctwatch digest``: each destination's schedule, what waits for it, and sending it now.

Why a command of its own: a digest is a promise ("every morning at 08:00"), and
people want to see it kept — when the next one goes, how many changes wait —
and to see or send one before its time (``preview`` writes nothing; ``send``
writes the digest row and sends it like any alert, so it is never sent twice).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.main import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    Group,
    fail,
    open_app,
    open_reader,
    require_database,
    require_watch,
    say,
    wait_option,
)
from watcher.cli.main import main as root
from watcher.core.text import counted
from watcher.timeutil import iso, utc_now

if TYPE_CHECKING:  # the config, store and alerts load when a command runs
    from watcher.config import Config
    from watcher.config.digest_keys import Timing, TimingTable
    from watcher.core.destination import Destination
    from watcher.store import Store


def table_timings(config: Config, store: Store, name: str) -> dict[Destination, Timing]:
    """The destinations of watch or search ``name`` that wait, with their timing (the
    config's, or a Slack channel's own)."""
    from watcher.alerts.digests import all_timings

    tables = [w for w in config.watch if w.name == name] + [
        s for s in config.search if s.name == name
    ]
    mine = {d for table in tables for d in table.destinations}
    return {d: t for d, t in all_timings(config, store).items() if d in mine}


def timing_words(timing: Timing) -> str:
    """``digest daily 08:00 (Europe/Paris), quiet 20:00-08:00 (…), urgent high``."""
    parts = []
    if timing.digest is not None:
        parts.append(f"digest {timing.digest.describe()}")
    if timing.quiet is not None:
        parts.append(f"quiet {timing.quiet.describe()}")
    if timing.urgent is not None:
        parts.append(f"urgent {timing.urgent} and up")
    if timing.send_empty:
        parts.append("sent when empty")
    return ", ".join(parts)


def timing_lines(table: TimingTable, zone: str, now: datetime) -> Iterator[str]:
    """``ctwatch list``: each destination of a table that waits, and its next digest."""
    from watcher.alerts.digests import next_digest

    for destination, timing in table.timings(zone).items():
        if timing.immediate:
            continue
        upcoming = next_digest(timing, now)
        when = f", next {upcoming:%Y-%m-%d %H:%M %Z}" if upcoming is not None else ""
        yield f"{destination.describe()}: {timing_words(timing)}{when}"


def schedule_rows(config: Config, store: Store | None, now: datetime) -> list[dict[str, Any]]:
    """Each destination that waits: its timing, how many alerts wait, the next digest
    (``status --json`` key ``digests``)."""
    from watcher.alerts.digests import all_timings, next_digest
    from watcher.config.timings import destination_timings

    waiting = {(w.destination, w.timing): w.count for w in store.digests.waiting()} if store else {}
    timings = all_timings(config, store) if store is not None else destination_timings(config)
    rows = []
    for destination, timing in timings.items():
        upcoming = next_digest(timing, now)
        rows.append(
            {
                "destination": destination.describe(),
                "digest": timing.digest.describe() if timing.digest else None,
                "quiet_hours": timing.quiet.describe() if timing.quiet else None,
                "urgent": timing.urgent,
                "waiting": waiting.get((destination, timing.key), 0),
                "next_digest": iso(upcoming) if upcoming is not None else None,
                "next_local": f"{upcoming:%Y-%m-%d %H:%M %Z}" if upcoming is not None else None,
                "words": timing_words(timing),
            }
        )
    return rows


def schedule_line(row: dict[str, Any]) -> str:
    """``#alerts: digest daily 08:00 (UTC) (2 alerts waiting; next 2026-12-08 08:00 UTC)``."""
    when = f"; next {row['next_local']}" if row["next_local"] else ""
    waiting = counted(row["waiting"], "alert")
    return f"{row['destination']}: {row['words']} ({waiting} waiting{when})"


def schedule_lines(config: Config, store: Store | None, now: datetime) -> Iterator[str]:
    """One line per destination that waits: its timing, what waits, when it goes next."""
    for row in schedule_rows(config, store, now):
        yield schedule_line(row)


@root.group(cls=Group, invoke_without_command=True)
@click.pass_context
def digest(ctx: click.Context) -> None:
    """Show each destination's digest and quiet hours, what waits, and the next digest.

    \b
    Example:
      ctwatch digest && ctwatch digest preview --watch rectal-cancer
    """
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
    assert obj is not None
    config = obj.load(secrets="none")
    lines = []
    if _has_database(config):
        with open_reader(config) as app:
            lines = list(schedule_lines(config, app.store, utc_now()))
    else:
        lines = list(schedule_lines(config, None, utc_now()))
    if not lines:
        say("no destination has a digest or quiet hours (every alert goes at once)")
    for line in lines:
        say(line)


def _has_database(config: Config) -> bool:
    return Path(config.database.path).exists()


def _chosen(config: Config, store: Store, watch: str) -> dict[Destination, Timing]:
    timings = table_timings(config, store, watch)
    if not timings:
        fail(f"--watch: {watch!r} has no digest or quiet_hours (its alerts go at once)", EXIT_USAGE)
    return timings


@digest.command()
@click.option("--watch", metavar="NAME", required=True, help="The watch or search.")
@click.pass_obj
def preview(obj: Context, watch: str) -> None:
    """Print what the digest of a watch's destinations would say now (sends nothing).

    \b
    Example:
      ctwatch digest preview --watch rectal-cancer
    """
    from watcher.core.digest import digest_text

    config = obj.load(secrets="none")
    require_watch(config, watch, searches=True)
    require_database(config)
    with open_app(config) as app:
        timings = _chosen(config, app.store, watch)
        for destination, timing in timings.items():
            say(f"── {destination.describe()} ({timing_words(timing)})")
            say(digest_text(app.deliverer.preview(destination, timing.key)))


@digest.command()
@click.option("--watch", metavar="NAME", required=True, help="The watch or search.")
@wait_option
@click.pass_obj
def send(obj: Context, watch: str, wait: float) -> None:
    """Send the digest of a watch's destinations now, whatever their schedule.

    What waits goes as one message per destination; the next scheduled digest
    covers what comes after. Exit 1 when a destination did not take it (it is
    retried like any alert).

    \b
    Example:
      ctwatch digest send --watch rectal-cancer
    """
    config = obj.load(secrets="delivery")
    require_watch(config, watch, searches=True)
    require_database(config)
    with open_app(config) as app, app.store.lock.held(wait):
        timings = _chosen(config, app.store, watch)
        assert app.deliverer.digester is not None
        made = app.deliverer.digester.run(only=list(timings), force=True)
        report = app.deliverer.deliver(force=False)
    if not made.digests:
        say("nothing waiting: no digest sent")
        return
    say(f"{counted(len(made.digests), 'digest')} written; {counted(report.sent, 'alert')} sent")
    for error in report.errors:
        say(f"ctwatch: {obj.redactor(error)}", err=True)
    if report.failed or report.retrying:
        raise SystemExit(EXIT_FAILED)
