"""``ctwatch changes``: every recorded field change across trials, as a log.

Why streamed: on a large database the log is long. Rows come from the store
a page at a time in the order they were recorded (keyset paging, see
:mod:`watcher.store.changelog`) and are written as they come, so memory stays
flat and the first line appears at once, in every format (``--json`` writes
one JSON array, item by item).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.main import EXIT_USAGE, Context, fail, main, open_reader, require_database, say
from watcher.core.text import one_line, spreadsheet_safe
from watcher.timeutil import iso, utc_now

if TYPE_CHECKING:  # read-only: the config and store load when the command runs
    from watcher.config import Config
    from watcher.store.changelog import LoggedChange

FIELDS = (
    "nct_id", "title", "version", "number", "registry_version", "seen_at", "date", "source",
    "field", "label", "kind", "old", "new",
)  # fmt: skip
VALUE_LIMIT = 200
_AGO = re.compile(r"(\d{1,6})\s*([smhdw])")
_UNITS = {
    "s": timedelta(seconds=1), "m": timedelta(minutes=1), "h": timedelta(hours=1),
    "d": timedelta(days=1), "w": timedelta(weeks=1),
}  # fmt: skip
WIDTH = 80  # of a version's heading line (its title is shortened to fit)


def _since(text: str | None, now: datetime) -> str | None:
    """``7d``/``12h`` before ``now``, or a date / UTC time, as stored timestamps compare."""
    if text is None:
        return None
    raw = text.strip()
    ago = _AGO.fullmatch(raw)
    if ago is not None:
        try:
            return iso(now - int(ago.group(1)) * _UNITS[ago.group(2)])
        except OverflowError:  # before the year 1: everything
            return None
    for form in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            moment = datetime.strptime(raw, form).replace(tzinfo=UTC)
        except ValueError:
            continue
        return moment.date().isoformat() if form == "%Y-%m-%d" else iso(moment)
    fail(f"--since: {text!r} is not a duration (7d, 12h, 2w) or a date (2026-12-01)", EXIT_USAGE)


def _trials(config: Config, app_members: dict[str, dict[str, str]], names: Sequence[str],
            nct_ids: Sequence[str]) -> list[str] | None:  # fmt: skip
    """The trials asked for (None: every trial); exit 2 naming an unknown watch."""
    if not names and not nct_ids:
        return None
    watches = {w.name: w.trials for w in config.watch}
    chosen: list[str] = list(nct_ids)
    for name in names:
        if name in watches:
            chosen += watches[name]
        elif name in app_members:
            chosen += sorted(app_members[name])
        else:
            known = ", ".join([*watches, *app_members]) or "none"
            fail(f"--watch: no watch or search named {name!r} (known: {known})", EXIT_USAGE)
    return list(dict.fromkeys(chosen))


def _record(change: LoggedChange) -> dict[str, Any]:
    return {
        "nct_id": change.nct_id,
        "title": change.title,
        "version": change.ref,
        "number": change.number,
        "registry_version": change.registry_version,
        "seen_at": change.seen_at,
        "date": change.date,
        "source": change.source,
        "field": change.path,
        "label": change.label,
        "kind": change.kind,
        "old": change.old,
        "new": change.new,
    }


def _words(value: object) -> str:
    if value is None:
        return "(none)"
    return one_line(value if isinstance(value, str) else json.dumps(value), VALUE_LIMIT)


def _text(changes: Iterable[LoggedChange]) -> int:
    """One heading per version, one line per change under it; the number of changes."""
    count, current = 0, None
    for change in changes:
        if change.version_id != current:
            current = change.version_id
            registry = (
                f" · registry {change.registry_version}"
                if change.registry_version and change.number is not None
                else ""
            )
            head = (
                f"{change.nct_id} {change.ref}{registry} · {change.source}"
                f" {change.seen_at[:16].replace('T', ' ')} — "
            )
            title = one_line(change.title or "(untitled)", max(WIDTH - len(head), 20))
            say(f"{'' if count == 0 else chr(10)}{head}{title}")
        say(f"  {change.label}: {_words(change.old)} → {_words(change.new)}")
        count += 1
    return count


def _json(changes: Iterable[LoggedChange]) -> None:
    click.echo("[", nl=False)
    first = True
    for change in changes:
        item = json.dumps(_record(change), ensure_ascii=False)
        click.echo(("\n" if first else ",\n") + item, nl=False)
        first = False
    click.echo("]" if first else "\n]")


def _csv(changes: Iterable[LoggedChange]) -> None:
    writer = csv.DictWriter(sys.stdout, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    for change in changes:  # record text never runs as a formula in a spreadsheet
        writer.writerow({k: spreadsheet_safe(v) for k, v in _record(change).items()})


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="[NCT_ID]...")
@click.option(
    "--since",
    metavar="WHEN",
    help="Only changes seen in the last 30m / 12h / 7d / 2w, or since a date (e.g. "
    "--since 7d, --since 2026-12-01, UTC).",
)
@click.option(
    "--watch",
    "watch_names",
    multiple=True,
    metavar="NAME",
    help="Only this watch's (or search's) trials; repeatable. Example: --watch rectal-cancer",
)
@click.option("--json", "fmt", flag_value="json", help="One JSON array, streamed.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@click.pass_obj
def changes(
    obj: Context,
    nct_ids: tuple[str, ...],
    since: str | None,
    watch_names: tuple[str, ...],
    fmt: str | None,
) -> None:
    """Every recorded field change across trials, oldest first: trial, title, version
    (as `history` names it, with the registry's number), when ctwatch saw it, source
    (observed or imported), the field's label, old and new.

    Versions imported from the registry's history count as seen when they were
    imported; their registry date is in the JSON and CSV `date` column.

    \b
    Examples:
      ctwatch changes --since 7d
      ctwatch changes --watch rectal-cancer --csv > changes.csv
      ctwatch changes NCT04280705 --json
    """
    from watcher.config import normalise_nct_id

    wanted = []
    for raw in nct_ids:
        try:
            wanted.append(normalise_nct_id(raw))
        except ValueError as exc:
            fail(str(exc), EXIT_USAGE)
    _since(since, datetime.now(UTC))  # bad input is refused before anything is opened
    config = obj.load(secrets="none")
    require_database(config)
    with open_reader(config) as app:
        floor = _since(since, utc_now())
        members = app.store.searches.members(app.store.searches.names()) if watch_names else {}
        trials = _trials(config, members, watch_names, wanted)
        stream = app.store.changelog.stream(since=floor, nct_ids=trials)
        if fmt == "json":
            _json(stream)
        elif fmt == "csv":
            _csv(stream)
        elif _text(stream) == 0:
            say("no changes recorded" + (f" since {floor}" if floor else ""))
