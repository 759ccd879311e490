"""``ctwatch events``: what the recorded changes meant, filtered, as a table, JSON or CSV."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import click

from watcher.cli.main import (
    EXIT_USAGE,
    Context,
    fail,
    main,
    open_reader,
    require_database,
    require_watch,
    say,
)
from watcher.core.events.model import LEVEL_NAMES
from watcher.core.text import one_line, spreadsheet_safe
from watcher.timeutil import iso

if TYPE_CHECKING:  # read-only: the config and store load when the command runs
    from watcher.store.events import StoredEvent

CSV_COLUMNS = ("nct_id", "type", "level", "summary", "values", "version", "detected_at", "source")


def since_moment(text: str, now: datetime) -> str:
    """``7d`` / ``12h`` (before ``now``) or a date ``2026-01-31`` -> an ISO timestamp."""
    from watcher.config.types import parse_duration

    try:
        return iso(now - timedelta(seconds=parse_duration(text)))
    except ValueError:
        pass
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise ValueError(
            f"--since: {text!r} is neither a duration (7d, 12h) nor a date (2026-01-31)"
        ) from None
    return iso(day)


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="[NCT…]")
@click.option("--since", metavar="WHEN", help="Only events detected since WHEN: 7d, 12h or a "
              "date like 2026-01-31 (default: every event).")  # fmt: skip
@click.option(
    "--level", type=click.Choice(LEVEL_NAMES), default="info", show_default=True,
    help="This level or higher, e.g. --level high.",
)  # fmt: skip
@click.option("--type", "types", metavar="PATTERN", multiple=True,
              help="Only these types (glob; repeatable), e.g. --type 'dates.*'.")  # fmt: skip
@click.option("--watch", "watch_name", metavar="NAME", help="Only this watch's trials.")
@click.option("--json", "fmt", flag_value="json", help="A JSON list (nct_id, type, level, "
              "summary, values, version, detected_at, source).")  # fmt: skip
@click.option("--csv", "fmt", flag_value="csv", help="CSV, one event per row.")
@click.pass_obj
def events(  # noqa: PLR0917 - click passes every option
    obj: Context,
    nct_ids: Sequence[str],
    since: str | None,
    level: str,
    types: Sequence[str],
    watch_name: str | None,
    fmt: str | None,
) -> None:
    """List the events ctwatch recorded: what each change (or the passing of time) meant,
    newest first. Rules of thumb over registry data, not judgments (docs/events.md).

    \b
    Examples:
      ctwatch events --since 7d --level high
      ctwatch events --type 'dates.*' NCT06850103 --json
    """
    from watcher.config import normalise_nct_id
    from watcher.core.events import Level, matches
    from watcher.core.events.model import check_patterns

    config = obj.load(secrets="none")
    require_watch(config, watch_name)
    try:
        wanted = [normalise_nct_id(n) for n in nct_ids]
        moment = since_moment(since, datetime.now(UTC)) if since else None
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    try:
        patterns = check_patterns(types) if types else ()
    except ValueError as exc:
        fail(f"--type: {exc}", EXIT_USAGE)
    if watch_name is not None:
        watch = next(w for w in config.watch if w.name == watch_name)
        wanted = [n for n in watch.trials if not wanted or n in wanted]
    require_database(config)
    with open_reader(config) as app:
        found = app.store.events.recent(
            since=moment, min_level=Level.parse(level),
            nct_ids=wanted if wanted or watch_name is not None else None,
        )  # fmt: skip
    found = [e for e in found if not patterns or matches(e.event.type, patterns)]
    if fmt == "json":
        click.echo(json.dumps([e.as_json() for e in found], indent=2, ensure_ascii=False))
    elif fmt == "csv":
        _csv(found)
    else:
        _table(found)


def _csv(found: Sequence[StoredEvent]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in found:
        row = e.as_json()
        row["values"] = json.dumps(row["values"], ensure_ascii=False)
        writer.writerow([spreadsheet_safe(row[c]) for c in CSV_COLUMNS])


def _table(found: Sequence[StoredEvent]) -> None:
    if not found:
        say("no events match")
        return
    for e in found:
        version = e.version or "—"
        quiet = " (silent)" if e.silent else ""
        say(
            f"{e.detected_at[:10]}  {e.nct_id}  {version:>4}  {e.event.level.value:<6}  "
            f"{e.event.type}{quiet}\n    {one_line(e.event.summary, 200)}"
        )
