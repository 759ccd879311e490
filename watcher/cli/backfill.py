"""``ctwatch backfill``: import the registry's version history of trials."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from watcher.cli.main import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    fail,
    main,
    open_app,
    say,
    wait_option,
)

if TYPE_CHECKING:
    from rich.progress import Progress

    from watcher.config import Config
    from watcher.cycle.backfill import TrialBackfill


@main.command()
@click.argument("nct_ids", nargs=-1, metavar="[NCT…]")
@click.option("--watch", "watch_names", multiple=True, metavar="NAME", help="A watch's trials.")
@click.option("--all", "every", is_flag=True, help="Every watched trial (config and Slack).")
@wait_option
@click.pass_obj
def backfill(
    obj: Context, nct_ids: tuple[str, ...], watch_names: tuple[str, ...], every: bool, wait: float
) -> None:
    """Import the registry's earlier versions of trials, oldest first.

    One request for each trial's version list, then one per version the
    database does not hold; each trial is one transaction. Imported versions
    never alert. Run again, it imports nothing new (one request per trial).
    Exit 0 when every trial was imported or already complete, 1 when any
    trial's history could not be read, 2 for bad arguments.

    \b
    Example:
      ctwatch backfill --watch rectal-cancer
    """
    from watcher.alerts.routing import watched_trials

    config = obj.load(secrets="none")
    named = _named_trials(config, nct_ids, watch_names)
    if not named and not every:
        fail("backfill: name trials (NCT…), --watch NAME or --all", EXIT_USAGE)
    results: list[TrialBackfill] = []
    with open_app(config, lock_wait=wait) as app:
        trials = named
        if every:
            trials = list(dict.fromkeys([*named, *watched_trials(config, app.subscriptions())]))
        with _progress(trials) as bar:

            def done(result: TrialBackfill) -> None:
                results.append(result)
                say(obj.redactor(result.summary))
                if bar is not None:
                    bar.trial_done()

            app.backfill(trials, done, progress=bar.version_read if bar is not None else None)
    failed = [r for r in results if r.error is not None]
    if failed:
        fail(f"{len(failed)} of {len(results)} trial histories could not be read", EXIT_FAILED)


def _named_trials(config: Config, nct_ids: Sequence[str], watch_names: Sequence[str]) -> list[str]:
    """The trials named by ID and by watch, each once; exit 2 naming a bad one."""
    from watcher.config import normalise_nct_id

    trials: list[str] = []
    for raw in nct_ids:
        try:
            trials.append(normalise_nct_id(raw))
        except ValueError as exc:
            fail(f"backfill: {exc}", EXIT_USAGE)
    watches = {w.name: w for w in config.watch}
    for name in watch_names:
        if name not in watches:
            known = ", ".join(watches)
            fail(f"--watch: no watch named {name!r} (watches: {known})", EXIT_USAGE)
        trials.extend(watches[name].trials)
    return list(dict.fromkeys(trials))


class _Bar:
    """Trials done, and which version of which trial is being read."""

    def __init__(self, progress: Progress, total: int) -> None:
        self._progress = progress
        self._task = progress.add_task("reading version lists", total=total)

    def trial_done(self) -> None:
        self._progress.advance(self._task, 1)

    def version_read(self, nct: str, count: int, total: int) -> None:
        self._progress.update(self._task, description=f"{nct}: version {count} of {total}")


@contextmanager
def _progress(trials: Sequence[str]) -> Iterator[_Bar | None]:
    """A progress bar on standard error, only on a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import Progress

    with Progress(console=Console(file=sys.stderr), transient=True) as progress:
        yield _Bar(progress, len(trials))
