"""The watch list without an editor: ``init``, ``add``, ``remove``, ``list``, ``fields``,
``config check`` (``list`` and ``config check`` show the searches too).

None of these opens the database or reaches the network: they read (and for
``init``, ``add`` and ``remove``, write) the config file only, so they are safe
next to a running daemon, which picks the edit up at its next cycle.
"""

from __future__ import annotations

from pathlib import Path

import click

from watcher.channels import CHANNELS
from watcher.cli.main import EXIT_USAGE, Context, Group, fail, main, say
from watcher.config import Config, ConfigError, SearchConfig, normalise_nct_id
from watcher.config.edit import ConfigEditor, EditError, EditReport, starter_text
from watcher.config.edit import write_atomically as write_file
from watcher.core.fieldnames import search_fields
from watcher.core.text import counted
from watcher.redact import redact


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
    target = path or obj.config_path
    if target.exists() and not force:
        fail(f"{target} exists already (ctwatch init --force replaces it)", EXIT_USAGE)
    try:
        write_file(target, starter_text(target))
    except OSError as exc:
        fail(f"{target}: cannot write ({exc.strerror or exc})", EXIT_USAGE)
    say(f"wrote {target}: a starter config watching NCT06850103 (an example)")
    hint = "" if path is None else f" --config {target}"
    say(f"next: ctwatch{hint} add NCT… --watch rectal-cancer, then ctwatch{hint} check")


def _ids(values: tuple[str, ...]) -> list[str]:
    """NCT IDs from the arguments (commas allowed), upper-cased; exit 2 naming bad ones."""
    good: dict[str, None] = {}
    bad = []
    for token in (t for value in values for t in value.replace(",", " ").split()):
        try:
            good[normalise_nct_id(token)] = None
        except ValueError:
            bad.append(token)
    if bad:
        fail(f"not NCT IDs (NCT followed by 8 digits): {', '.join(bad)}; nothing changed", 2)
    if not good:
        fail("which trials? e.g. ctwatch add NCT06850103 --watch my-trials", EXIT_USAGE)
    return list(good)


def _edit(obj: Context, change: str, ids: list[str], watch: str | None) -> None:
    """Open, change, validate with the real loader, save atomically; report."""
    try:
        editor = ConfigEditor.open(obj.config_path)
        report = (
            editor.add(ids, watch or _only_watch(editor))
            if change == "add"
            else editor.remove(ids, watch)
        )
        if report.done:
            editor.validate(channels=CHANNELS.config_keys())
            editor.save()
    except ConfigError as exc:
        fail(f"not saved, the result would be invalid:\n{exc}", EXIT_USAGE)
    except EditError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:
        fail(f"{obj.config_path}: cannot write ({exc.strerror or exc}); nothing changed", 2)
    _report(change, report)
    if not report.done:
        say(f"nothing to {change}: {obj.config_path} is unchanged")


def _only_watch(editor: ConfigEditor) -> str:
    names = [str(table.get("name")) for table in editor.tables()]
    if len(names) != 1:
        fail(f"--watch NAME is needed: the file has {len(names)} watches", EXIT_USAGE)
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


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="NCT…")
@click.option("--watch", metavar="NAME", help="The watch to add to (created if missing).")
@click.pass_obj
def add(obj: Context, nct_ids: tuple[str, ...], watch: str | None) -> None:
    """Add trials to a watch in the config file, keeping its comments and layout.

    The edit is checked with the same rules as every load before it is saved,
    and replaces the file atomically. --watch may be left out when the file has
    one watch; a watch that does not exist is created.

    \b
    Example:
      ctwatch add NCT06850103 nct05180006 --watch rectal-cancer
    """
    _edit(obj, "add", _ids(nct_ids), watch)


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="NCT…")
@click.option("--watch", metavar="NAME", help="Only from this watch (default: every watch).")
@click.pass_obj
def remove(obj: Context, nct_ids: tuple[str, ...], watch: str | None) -> None:
    """Remove trials from the config file's watches, keeping its comments and layout.

    Their recorded versions stay in the database. A watch cannot be left
    without trials (delete the [[watch]] table by hand for that).

    \b
    Example:
      ctwatch remove NCT05180006 --watch rectal-cancer
    """
    _edit(obj, "remove", _ids(nct_ids), watch)


@main.command("list")
@click.pass_obj
def list_watches(obj: Context) -> None:
    """List the config file's watches and searches, where their alerts go, and their trials.

    \b
    Example:
      ctwatch list
    """
    config = obj.load()
    for watch in config.watch:
        where = ", ".join(d.describe() for d in watch.destinations)
        count = counted(len(watch.trials), "trial")
        source = f" from {watch.trials_file}" if watch.trials_file else ""
        say(f"watch “{watch.name}” → {where} ({count}{source})")
        if watch.fields is not None:
            say(f"  only fields: {', '.join(watch.fields)}")
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
    """Inspect the config file."""


@config_group.command("check")
@click.pass_obj
def config_check(obj: Context) -> None:
    """Validate the config file and say what it means (no database, no network).

    \b
    Example:
      ctwatch --config /etc/ctwatch/ctwatch.toml config check
    """
    config = obj.load()
    for line in describe_config(obj.config_path, config):
        say(line)


def describe_config(path: Path, config: Config) -> list[str]:
    """What a valid config means, in a few lines."""
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
    lines.append(f"{len(config.watch)} watch(es), {len(config.trials)} trial(s) in all:")
    for watch in config.watch:
        where = ", ".join(d.describe() for d in watch.destinations)
        only = f"; only {', '.join(watch.fields)}" if watch.fields is not None else ""
        source = f" from {watch.trials_file}" if watch.trials_file else ""
        lines.append(f"  “{watch.name}”: {len(watch.trials)} trial(s){source} → {where}{only}")
    if config.search:
        lines.append(f"{len(config.search)} search(es):")
        for search in config.search:
            lines.append("  " + _search_line(search).removeprefix("search "))
            lines.append(f"    {search.query.describe(1000)}")
    return lines


def _search_line(search: SearchConfig) -> str:
    """``search “rectal-io” → #ci (follow; only OverallStatus; max 5,000 trials)``."""
    where = ", ".join(d.describe() for d in search.destinations)
    notes = ["follow" if search.follow else "new and leaving trials only"]
    if search.fields is not None:
        notes.append(f"only {', '.join(search.fields)}")
    notes.append(f"max {search.max_trials:,} trials")
    return f"search “{search.name}” → {where} ({'; '.join(notes)})"
