"""``ctwatch status``: what the database knows about every watched trial.

(``history``, ``diff`` and ``show`` live in :mod:`watcher.cli.history`.)"""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime, time
from typing import TYPE_CHECKING

import click

from watcher.cli.main import Context, main, open_reader, require_database, require_watch
from watcher.timeutil import iso, utc_now

if TYPE_CHECKING:
    from watcher.cli.status import Format


@main.command()
@click.option("--json", "fmt", flag_value="json", help="JSON (streamed): trials, alerts, cycle.")
@click.option("--csv", "fmt", flag_value="csv", help="The trials as CSV, one row each.")
@click.option("--tsv", "fmt", flag_value="tsv", help="The trials as tab-separated values.")
@click.option(
    "--watch",
    "watch_name",
    metavar="NAME",
    help="Only this watch's trials, in every section (e.g. --watch rectal-cancer).",
)
@click.option(
    "--changed-since",
    metavar="DATE",
    type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"]),
    help="Only trials with a change seen on or after DATE (YYYY-MM-DD, UTC).",
)
@click.option(
    "--problems",
    is_flag=True,
    help="Only what failed, in every section: trials, searches, undelivered alerts.",
)
@click.option(
    "--all", "show_all", is_flag=True, help="Every trial, in config order: never a summary."
)
@click.pass_obj
def status(
    obj: Context,
    *,
    fmt: Format | None,
    watch_name: str | None,
    changed_since: datetime | None,
    problems: bool,
    show_all: bool,
) -> None:
    """Show the watched trials (status, last update, last change, last check, errors) and
    the searches (members, last check, last event).

    On a terminal, a long watch list is summarised: counts by status (problems
    first), then the trials that matter first (problems, then recent changes)
    and a count of the rest; --all lists every trial in config order. A file
    or pipe gets the whole table up to 100,000 trials, the summary beyond.
    --json, --csv and --tsv write every trial. Output streams at any size.
    The table follows the terminal's width (or COLUMNS).

    \b
    Example:
      ctwatch status --changed-since 2026-01-01 --csv > changes.csv
    """
    from watcher.alerts.routing import channel_follows, watched_trials
    from watcher.alerts.search_routes import current_searches, followed_now
    from watcher.cli.digest import schedule_rows
    from watcher.cli.status import PIPE_LISTS_UP_TO, StatusOptions, StatusWriter
    from watcher.cli.table import DEFAULT_WIDTH
    from watcher.store.overview import StatusFilter

    config = obj.load(secrets="none")
    require_watch(config, watch_name)
    require_database(config)
    since = None
    if changed_since is not None:  # a date alone compares as the start of that day
        moment = changed_since.replace(tzinfo=UTC)
        since = moment.date().isoformat() if moment.time() == time() else iso(moment)
    terminal = sys.stdout.isatty()
    size = shutil.get_terminal_size()
    options = StatusOptions(
        where=StatusFilter(since, problems),
        fmt=fmt or "table",
        show_all=show_all,
        width=size.columns if terminal or "COLUMNS" in os.environ else DEFAULT_WIDTH,
        height=size.lines,
        listed_up_to=0 if terminal else PIPE_LISTS_UP_TO,
    )
    with open_reader(config) as app:
        subscriptions = app.subscriptions()
        searches = current_searches(config, app.store)
        watched = watched_trials(config, subscriptions, followed_now(app.store, searches))
        only = None
        if watch_name is not None:
            watched = next(w.trials for w in config.watch if w.name == watch_name)
            only = frozenset(watched)
        follows = channel_follows(config, subscriptions)
        digests = schedule_rows(config, app.store, utc_now())
        StatusWriter(
            app.store, watched, sys.stdout, follows, obj.redactor, searches, digests, only=only
        ).write(options)
