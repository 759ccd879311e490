"""The watch list without an editor: ``init``, ``add``, ``remove``, ``list``, ``fields``,
``config check`` (``list`` and ``config check`` show the searches too; ``add --search``
and ``remove --search`` write and delete them).

None of these opens the database or reaches the network: they read (and for
``init``, ``add`` and ``remove``, write) the config file only, so they are safe
next to a running daemon, which picks the edit up at its next cycle.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import click

from watcher.cli.main import EXIT_USAGE, Context, Group, channel_keys, fail, main, say
from watcher.core.fieldnames import search_fields
from watcher.core.text import counted
from watcher.redact import redact
from watcher.timeutil import utc_now

if TYPE_CHECKING:  # pydantic and tomlkit load when a command reads or edits the file
    from watcher.config import Config, SearchConfig
    from watcher.config.edit import ConfigEditor, EditReport


@main.command()
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Replace an existing file.")
@click.pass_obj
def init(obj: Context, path: Path | None, force: bool) -> None:
    """Write a commented starter config to PATH (default: the config path in use).

    \b
    Example:
      ctwatch init && ctwatch add NCT06850103 --watch my-trials
    """
    from watcher.config.edit import starter_text, write_atomically

    target = path or obj.config_path
    if target.exists() and not force:
        fail(f"{target} exists already (ctwatch init --force replaces it)", EXIT_USAGE)
    try:
        write_atomically(target, starter_text(target))
    except OSError as exc:
        fail(f"{target}: cannot write ({exc.strerror or exc})", EXIT_USAGE)
    say(f"wrote {target}: a starter config watching NCT06850103 (an example)")
    hint = "" if path is None else f" --config {target}"
    say(f"next: ctwatch{hint} add NCT… --watch rectal-cancer, then ctwatch{hint} check")


def _ids(values: tuple[str, ...]) -> list[str]:
    """NCT IDs from the arguments (commas allowed, study URLs too), upper-cased; exit 2
    naming bad ones."""
    from watcher.config import normalise_nct_id

    good: dict[str, None] = {}
    bad = []
    for value in values:
        if value.strip().lower().startswith(("http://", "https://")):
            nct = study_url_id(value.strip())
            if nct is None:
                hint = (
                    " (a search URL: ctwatch add --search URL --name NAME)"
                    if "/search" in value or "/api/" in value
                    else ""
                )
                fail(f"not a study URL (…/study/NCT…): {value}{hint}; nothing changed", 2)
            good[nct] = None
            continue
        for token in value.replace(",", " ").split():
            try:
                good[normalise_nct_id(token)] = None
            except ValueError:
                bad.append(token)
    if bad:
        fail(f"not NCT IDs (NCT followed by 8 digits): {', '.join(bad)}; nothing changed", 2)
    if not good:
        fail("which trials? e.g. ctwatch add NCT06850103 --watch my-trials", EXIT_USAGE)
    return list(good)


_STUDY_ID = re.compile(r"^NCT[0-9]{8}$", re.IGNORECASE)


def study_url_id(url: str) -> str | None:
    """The NCT ID of a registry study page URL (``https://clinicaltrials.gov/study/NCT…``,
    query strings and ``#`` allowed; the classic ``/ct2/show/NCT…`` too), else None."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if host != "clinicaltrials.gov" and not host.endswith(".clinicaltrials.gov"):
        return None
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) == 2 and segments[0] == "study" and _STUDY_ID.match(segments[1]):
        return segments[1].upper()
    if segments[:2] == ["ct2", "show"] and len(segments) == 3 and _STUDY_ID.match(segments[2]):
        return segments[2].upper()
    return None


@dataclass(frozen=True)
class Change:
    """One edit of the config file, described for :func:`_edit`."""

    verb: str
    """add, remove, add-search, remove-search, remove-watch"""
    ids: tuple[str, ...] = ()
    name: str | None = None
    url: str = ""
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()


def _edit(obj: Context, change: Change) -> None:
    """Open, change, validate with the real loader, save atomically; report.

    Nothing is written when the edit fails or the result would not load."""
    from watcher.config import ConfigError
    from watcher.config.edit import ConfigEditor, EditError, EditReport

    report = EditReport()
    try:
        editor = ConfigEditor.open(obj.config_path)
        if change.verb == "add":
            report = editor.add(change.ids, change.name or _only_watch(editor))
        elif change.verb == "remove":
            report = editor.remove(change.ids, change.name)
        elif change.verb == "add-search":
            editor.add_search(change.name or "", change.url, change.slack, change.email)
        else:
            editor.remove_table(change.verb.removeprefix("remove-"), change.name or "")
        changed = bool(report.done) or change.verb not in ("add", "remove")
        if changed:
            editor.validate(channels=channel_keys())
            editor.save()
    except ConfigError as exc:
        fail(f"not saved, the result would be invalid:\n{exc}", EXIT_USAGE)
    except EditError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"{obj.config_path}: cannot write ({exc.strerror or exc}); nothing changed", 2)
    if change.verb == "add-search":
        where = ", ".join([*change.slack, *change.email]) or "the console"
        say(f"added search “{change.name}” → {where} to {obj.config_path}")
        say("its first check records the matching trials silently (a baseline)")
        return
    if change.verb.startswith("remove-"):
        kind = change.verb.removeprefix("remove-")
        say(f"removed {kind} “{change.name}” from {obj.config_path}")
        say("its recorded versions stay in the database")
        return
    _report(change.verb, report)
    if not report.done:
        say(f"nothing to {change.verb}: {obj.config_path} is unchanged")


def _only_watch(editor: ConfigEditor) -> str:
    names = [str(table.get("name")) for table in editor.tables()]
    if len(names) != 1:
        fail(f"--watch NAME is needed: the file has {counted(len(names), 'watch')}", EXIT_USAGE)
    return names[0]


def _report(change: str, report: EditReport) -> None:
    if report.created:
        say(f"created watch “{report.created}” (alerts print on the console until it "
                   "gets slack or email destinations)")  # fmt: skip
    verb = "added to" if change == "add" else "removed from"
    for nct, watch in report.done:
        say(f"{nct} {verb} watch “{watch}”")
    for line in report.skipped:
        say(f"skipped: {line}", err=True)


def save_search(
    obj: Context, name: str, url: str, slack: tuple[str, ...], email: tuple[str, ...]
) -> None:
    """Write a ``[[search]]`` for ``url`` (``add --search``, ``search --save``)."""
    from watcher.core.search_url import SearchQueryError, from_url, looks_like_url

    if not name.strip():
        fail("--name: a search needs a name, e.g. --name rectal-io", EXIT_USAGE)
    if not looks_like_url(url):
        fail(f"--search: {url!r} is not a registry search URL", EXIT_USAGE)
    try:
        from_url(url)
    except SearchQueryError as exc:
        fail("\n".join(f"URL: {problem}" for problem in exc.problems) + "\nnothing changed", 2)
    _edit(obj, Change("add-search", name=name, url=url, slack=slack, email=email))


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="NCT…|URL…")
@click.option("--watch", metavar="NAME", help="The watch to add to (created if missing).")
@click.option(
    "--search",
    "search_url",
    metavar="URL",
    help="Add a [[search]] for this registry search URL instead (needs --name).",
)
@click.option("--name", metavar="NAME", help="The new search's name, e.g. --name rectal-io.")
@click.option(
    "--slack",
    "slack",
    multiple=True,
    metavar="#CHANNEL",
    help="Where the new search alerts, e.g. --slack '#trial-alerts' (repeatable).",
)
@click.option(
    "--email",
    "email",
    multiple=True,
    metavar="ADDRESS",
    help="Email the new search's alerts, e.g. --email team@example.org (repeatable).",
)
@click.pass_obj
def add(
    obj: Context,
    *,
    nct_ids: tuple[str, ...],
    watch: str | None,
    search_url: str | None,
    name: str | None,
    slack: tuple[str, ...],
    email: tuple[str, ...],
) -> None:
    """Add trials to a watch (or a search) in the config file, keeping its comments and layout.

    Trials are NCT IDs or study URLs copied from the registry. The edit is
    checked with the same rules as every load before it is saved, and
    replaces the file atomically. --watch may be left out when the file has
    one watch; a watch that does not exist is created. Long trial lists are
    written one ID per line.

    \b
    Examples:
      ctwatch add NCT06850103 nct05180006 --watch rectal-cancer
      ctwatch add 'https://clinicaltrials.gov/study/NCT06850103?tab=history'
      ctwatch add --search 'https://clinicaltrials.gov/search?cond=Rectal%20Cancer&intr=PD-1' \\
        --name rectal-io --slack '#trial-alerts'
    """
    if search_url is not None:
        if nct_ids or watch:
            fail("--search adds a search: give no NCT IDs or --watch with it", EXIT_USAGE)
        if name is None:
            fail("--search needs --name NAME, e.g. --name rectal-io", EXIT_USAGE)
        save_search(obj, name, search_url, slack, email)
        return
    if name is not None or slack or email:
        fail("--name, --slack and --email go with --search URL", EXIT_USAGE)
    _edit(obj, Change("add", tuple(_ids(nct_ids)), watch))


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="NCT…")
@click.option("--watch", metavar="NAME", help="Only from this watch (default: every watch).")
@click.option(
    "--all", "whole", is_flag=True, help="With --watch NAME: delete the whole [[watch]] table."
)
@click.option("--search", "search_name", metavar="NAME", help="Delete the [[search]] NAME.")
@click.pass_obj
def remove(
    obj: Context, nct_ids: tuple[str, ...], watch: str | None, whole: bool, search_name: str | None
) -> None:
    """Remove trials, a watch or a search from the config file, keeping its comments and layout.

    Their recorded versions stay in the database. A watch cannot be left
    without trials: delete it with --watch NAME --all.

    \b
    Examples:
      ctwatch remove NCT05180006 --watch rectal-cancer
      ctwatch remove --watch old-trials --all
      ctwatch remove --search rectal-io
    """
    if search_name is not None:
        if nct_ids or watch or whole:
            fail("--search NAME deletes a search: give no NCT IDs, --watch or --all", 2)
        _edit(obj, Change("remove-search", name=search_name))
        return
    if whole:
        if watch is None or nct_ids:
            fail("--all deletes a whole watch: give --watch NAME and no NCT IDs", EXIT_USAGE)
        _edit(obj, Change("remove-watch", name=watch))
        return
    _edit(obj, Change("remove", tuple(_ids(nct_ids)), watch))


@main.command("list")
@click.pass_obj
def list_watches(obj: Context) -> None:
    """List the config file's watches and searches, where their alerts go, and their trials.

    \b
    Example:
      ctwatch list
    """
    from watcher.cli.digest import timing_lines

    config = obj.load(secrets="none")
    now = utc_now()
    for watch in config.watch:
        where = ", ".join(d.describe() for d in watch.destinations)
        count = counted(len(watch.trials), "trial")
        source = f" from {watch.trials_file}" if watch.trials_file else ""
        say(f"watch “{watch.name}” → {where} ({count}{source})")
        if watch.fields is not None:
            say(f"  only fields: {', '.join(watch.fields)}")
        for line in timing_lines(watch, config.schedule.timezone, now):
            say(f"  {line}")
        for nct in watch.trials:
            say(f"  {nct}")
    for search in config.search:
        say(_search_line(search))
        say(f"  {search.url or search.query.describe(1000)}")


@main.command()
@click.argument("word", required=False)
def fields(word: str | None) -> None:
    """List registry fields: the piece name a `fields` filter takes, and the label alerts print.

    WORD narrows the list to fields whose name, label or path contains it.

    \b
    Example:
      ctwatch fields status
    """
    found = search_fields(word)
    if not found:
        fail(f"no field name, label or path contains {word!r}", EXIT_USAGE)
    width = max(len(f.info.piece) for f in found)
    for named in found:
        say(f"{named.info.piece.ljust(width)}  {named.label}")


@main.group("config", cls=Group)
def config_group() -> None:
    """Inspect the config file.

    \b
    Example:
      ctwatch config check
    """


@config_group.command("check")
@click.pass_obj
def config_check(obj: Context) -> None:
    """Validate the config file and say what it means (no database, no network).

    \b
    Example:
      ctwatch --config /etc/ctwatch/ctwatch.toml config check
    """
    config = obj.load(secrets="none")
    for line in describe_config(obj.config_path, config):
        say(line)
    for problem in obj.unset:  # usable for reading; check, run and serve would refuse it
        say(f"warning: {problem.line(str(obj.config_path))}", err=True)


def describe_config(path: Path, config: Config) -> list[str]:
    """What a valid config means, in a few lines."""
    from watcher.cli.digest import timing_lines
    from watcher.config.timings import timing_conflicts

    reg = config.registry
    mode = "incremental" if reg.incremental else "every record every cycle"
    lines = [
        f"{path}: valid",
        f"registry: {redact(reg.url)} ({mode}, at most one request per {reg.pace:g} s)",
        f"database: {config.database.path}",
        f"schedule: {config.schedule.describe()} (for ctwatch run)",
    ]
    if config.slack is not None:
        commands = " and the /ctwatch endpoint" if config.slack.commands else ""
        lines.append(f"slack: {config.slack.api_url} with a bot token{commands}")
    if config.email is not None:
        email = config.email
        lines.append(f"email: {email.host}:{email.port} ({email.security}) from {email.sender}")
    watches, trials = counted(len(config.watch), "watch"), counted(len(config.trials), "trial")
    lines.append(f"{watches}, {trials} in all:")
    for watch in config.watch:
        where = ", ".join(d.describe() for d in watch.destinations)
        only = f"; only {', '.join(watch.fields)}" if watch.fields is not None else ""
        source = f" from {watch.trials_file}" if watch.trials_file else ""
        trials = counted(len(watch.trials), "trial")
        lines.append(f"  “{watch.name}”: {trials}{source} → {where}{only}")
        lines += [f"    {t}" for t in timing_lines(watch, config.schedule.timezone, utc_now())]
    if config.search:
        lines.append(f"{counted(len(config.search), 'search')}:")
        for search in config.search:
            lines.append("  " + _search_line(search).removeprefix("search "))
            lines.append(f"    {search.query.describe(1000)}")
    lines += [f"warning: {conflict}" for conflict in timing_conflicts(config)]
    return lines + _server_lines(config)


def _server_lines(config: Config) -> list[str]:
    """The web UI's address and guard; a warning when it cannot be opened (no secret shown)."""
    from watcher.config import serving
    from watcher.config.server import ui_token_missing

    listen, server = serving(config).listen, config.server
    if listen is None:
        return []
    token = server is not None and server.ui_token is not None
    lines = [f"web UI: http://{listen}/ ({'token required' if token else 'no token'})"]
    if server is not None and server.public_url is not None:
        lines.append(f"  alerts link to {server.public_url}/trials/NCT…")
    missing = ui_token_missing(config)
    if missing is not None:
        lines.append(
            f"warning: {missing}; set server.ui_token (Slack, feeds, /metrics, "
            "/healthz are still served)"
        )
    return lines


def _search_line(search: SearchConfig) -> str:
    """``search “rectal-io” → #ci (follow; only OverallStatus; max 5,000 trials)``."""
    where = ", ".join(d.describe() for d in search.destinations)
    notes = ["follow" if search.follow else "new and leaving trials only"]
    if search.fields is not None:
        notes.append(f"only {', '.join(search.fields)}")
    notes.append(f"max {search.max_trials:,} trials")
    return f"search “{search.name}” → {where} ({'; '.join(notes)})"
