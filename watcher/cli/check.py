"""``ctwatch check`` (one cycle) and ``ctwatch test-alert`` (is delivery set up?)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import Progress

from watcher.app import settle_memory
from watcher.cli.main import EXIT_FAILED, Context, fail, main, open_app
from watcher.cli.output import summary_line
from watcher.cycle.pipeline import ProgressFactory

PROGRESS_OVER = 300


@main.command()
@click.option("--full", is_flag=True, help="Fetch every record, whatever the version probe says.")
@click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another ctwatch using the same database (then exit 3).",
)
@click.pass_obj
def check(obj: Context, full: bool, wait: float) -> None:
    """Run one cycle: fetch what changed, record, diff, alert."""
    config = obj.load()
    with open_app(config, progress_bar(), lock_wait=wait) as app:
        settle_memory(config)
        report, delivery = app.check(full=full)
    click.echo(summary_line(report, delivery))
    if report.registry_down:
        fail(f"the registry could not be read: {report.registry_error}", EXIT_FAILED)
    if report.failure is not None:
        fail(f"the cycle failed: {report.failure}", EXIT_FAILED)


def progress_bar() -> ProgressFactory | None:
    """A rich progress bar on stderr for big fetches, only on a terminal."""
    if not sys.stderr.isatty():
        return None

    @contextmanager
    def factory(total: int) -> Iterator[Callable[[int], None] | None]:
        if total <= PROGRESS_OVER:
            yield None
            return
        console = Console(file=sys.stderr)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("fetching records", total=total)
            yield lambda n: progress.advance(task, n)

    return factory


@main.command("test-alert")
@click.option("--watch", "watch_name", metavar="NAME", help="Only this watch's destinations.")
@click.pass_obj
def test_alert(obj: Context, watch_name: str | None) -> None:
    """Send a clearly marked test message to every configured destination."""
    config = obj.load()
    names = [w.name for w in config.watch]
    if watch_name is not None and watch_name not in names:
        fail(f"--watch: no watch named {watch_name!r} (watches: {', '.join(names)})", 2)
    with open_app(config) as app:
        results = app.test_alert(watch_name)
    failed = 0
    for destination, error in results:
        if error is None:
            click.echo(f"ok      {destination.describe()}")
        else:
            failed += 1
            click.echo(f"FAILED  {destination.describe()}: {obj.redactor(error)}")
    if failed:
        fail(f"{failed} of {len(results)} destination(s) failed", EXIT_FAILED)
