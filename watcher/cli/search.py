"""``ctwatch search URL``: what a registry search becomes and matches, recording nothing.

Why: a translation is only trustworthy once seen. Before pasting a search
URL into ``[[search]]``, a user checks the API parameters it becomes, the
registry's own count, and a few matches - one request, no database.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING

import click

from watcher.cli.main import EXIT_FAILED, EXIT_USAGE, Context, fail, main, say
from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.search_url import SearchQuery, SearchQueryError, from_url, looks_like_url
from watcher.core.text import one_line

if TYPE_CHECKING:
    from watcher.config import Config


@main.command()
@click.argument("target", metavar="URL|NAME")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of text.")
@click.option(
    "--save",
    metavar="NAME",
    help="Also write the URL to the config as [[search]] NAME, e.g. --save rectal-io.",
)
@click.option(
    "--slack",
    multiple=True,
    metavar="#CHANNEL",
    help="With --save: where the search alerts, e.g. --slack '#trial-alerts' (repeatable).",
)
@click.pass_obj
def search(
    obj: Context, target: str, as_json: bool, save: str | None, slack: tuple[str, ...]
) -> None:
    """Preview a registry search: its API parameters, the registry's count, the first 10
    matches (records nothing, unless --save).

    URL is a search URL copied from clinicaltrials.gov (quote it: it contains &);
    NAME a [[search]] of the config. Without a config file the registry's
    default address is used. The API parameters are printed before the
    registry is asked. --save NAME writes the URL into the config as a
    [[search]] (the checks of `ctwatch add --search`). Exit 2 for a URL
    ctwatch cannot translate (each mistake named), 1 when the registry cannot
    be read.

    \b
    Examples:
      ctwatch search 'https://clinicaltrials.gov/search?cond=Rectal%20Cancer&intr=PD-1'
      ctwatch search 'https://clinicaltrials.gov/search?cond=Rectal%20Cancer' --save rectal
    """
    from watcher.app import registry_preview
    from watcher.config import Config
    from watcher.registry.errors import RegistryError

    if save is None and slack:
        fail("--slack goes with --save NAME", EXIT_USAGE)
    if save is not None and not looks_like_url(target):
        fail("--save needs a search URL, not a [[search]] name", EXIT_USAGE)
    config = obj.load(secrets="none") if obj.config_path.exists() else Config()
    query, limit = _query(config, target)
    if not as_json:  # before the network: a translation is checked by reading it
        say("API parameters:")
        for key, value in query.params:
            say(f"  {key} = {value}")
    if save is not None:
        from watcher.cli.edit import save_search

        save_search(obj, save, target, slack, ())
    try:
        preview = registry_preview(config)(query)
    except RegistryError as exc:
        fail(f"the registry could not be read: {exc}", EXIT_FAILED)
    rows = [{"nct_id": r.nct_id, "status": r.status, "title": r.title} for r in preview.rows]
    if as_json:
        data = {"params": query.mapping, "count": preview.total, "max_trials": limit,
                "matches": rows}  # fmt: skip
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    say(_count_line(preview.total, limit))
    width = shutil.get_terminal_size().columns
    for row in rows:
        status = display_value(STATUS_PATH, row["status"]) if row["status"] else "—"
        head = f"  {row['nct_id']}  {status:<24} "
        say(head + one_line(row["title"] or "(untitled)", max(width - len(head), 20)))


def _query(config: Config, target: str) -> tuple[SearchQuery, int]:
    """The query a URL or a config search's name stands for, and its ``max_trials``."""
    from watcher.config import DEFAULT_MAX_TRIALS

    if looks_like_url(target):
        try:
            return from_url(target), DEFAULT_MAX_TRIALS
        except SearchQueryError as exc:
            fail("\n".join(f"URL: {problem}" for problem in exc.problems), EXIT_USAGE)
    for table in config.search:
        if table.name == target:
            return table.query, table.max_trials
    names = ", ".join(s.name for s in config.search) or "none in the config"
    fail(f"{target!r} is neither a registry search URL nor a [[search]] ({names})", EXIT_USAGE)


def _count_line(total: int | None, limit: int) -> str:
    if total is None:
        return "The registry did not say how many trials match."
    line = f"The registry counts {total:,} matching trial{'s' if total != 1 else ''}"
    if total > limit:
        return f"{line}: over max_trials ({limit:,}), a [[search]] would be refused."
    return f"{line} (max_trials {limit:,}); the first {min(total, 10)}:" if total else f"{line}."
