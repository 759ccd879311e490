"""``ctwatch check`` (one cycle) and ``ctwatch test-alert`` (is delivery set up?)."""

from __future__ import annotations

import io
import json
import shutil
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click

from watcher.cli.main import (
    EXIT_FAILED,
    Context,
    fail,
    main,
    open_app,
    require_watch,
    say,
    wait_option,
)
from watcher.core.text import counted

if TYPE_CHECKING:
    from watcher.alerts.delivery import DeliveryReport
    from watcher.cycle.pipeline import ProgressFactory
    from watcher.cycle.report import CycleReport

PROGRESS_OVER = 300
MAX_ERRORS_SHOWN = 5
"""Delivery errors printed when alerts failed for good (``ctwatch outbox`` lists all)."""


@main.command()
@click.option("--full", is_flag=True, help="Fetch every record, whatever the version probe says.")
@wait_option
@click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing unless an alert was produced or it failed."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object: counts, alerts, errors.")
@click.pass_obj
def check(obj: Context, *, full: bool, wait: float, quiet: bool, as_json: bool) -> None:
    """Run one cycle: fetch what changed, record, diff, send alerts, print a summary.

    Console alerts and the summary line go to standard output, logs to standard
    error. From cron, -q keeps a quiet day silent (cron mails only news); --json
    prints one object instead (console alerts are in it, not printed).

    \b
    Example:
      30 14 * * 1-5  ctwatch --config /etc/ctwatch/ctwatch.toml check -q
    """
    from watcher.cli.output import check_json, summary_line
    from watcher.memory import settle_memory

    config = obj.load(default_level="error" if quiet or as_json else "warning", secrets="delivery")
    console = io.StringIO() if as_json else sys.stdout
    # the lock is re-entrant: held around the cycle, no other ctwatch adds alerts in between
    with (
        open_app(config, progress_bar(), lock_wait=wait, out=console, one_shot=True) as app,
        app.store.lock.held(wait),
    ):
        settle_memory(config)
        before = app.store.outbox.last_id()
        report, delivery = app.check(full=full)
        queued = app.store.outbox.queued_after(before)
        alerts = app.deliverer.alerts_for([claim for claim, _ in queued])
    produced = [(a, c.destination, s) for a, (c, s) in zip(alerts, queued, strict=True)]
    failed_cycle = report.registry_down or report.failure is not None
    if as_json:
        data = check_json(report, delivery, produced, obj.redactor)
        click.echo(json.dumps(data, indent=2, ensure_ascii=False))
    elif not (failed_cycle and _nothing_done(report, delivery)) and (
        not quiet
        or produced
        or report.errors
        or report.error
        or delivery.errors
        or (report.search_errors or report.searches_over)
    ):
        width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None
        say(summary_line(report, delivery, width))
    if report.registry_down:
        error = report.registry_error or "no answer"
        fail(f"the registry could not be read: {error}{registry_hint(error)}", EXIT_FAILED)
    if report.registry_error is not None:  # some requests failed; the cycle completed
        message = f"{report.registry_error}; those trials are fetched again next cycle"
        say(f"ctwatch: {obj.redactor(message)}", err=True)
    if report.failure is not None:
        fail(f"the cycle failed: {report.failure}", EXIT_FAILED)
    if delivery.failed:  # given up for good in this run (documented: exit 1)
        for error in delivery.errors[:MAX_ERRORS_SHOWN]:
            say(f"ctwatch: {obj.redactor(error)}", err=True)
        fail(
            f"{counted(delivery.failed, 'alert')} could not be delivered and will not be "
            "retried: `ctwatch outbox` shows why, `ctwatch outbox retry --failed` resends",
            EXIT_FAILED,
        )


def _nothing_done(report: CycleReport, delivery: DeliveryReport) -> bool:
    """Nothing checked, failed or delivered: a summary would only say zero (the error
    line says what happened)."""
    return (
        report.checked == 0
        and not report.errors
        and not (delivery.sent or delivery.retrying or delivery.failed)
    )


def registry_hint(error: str) -> str:
    """What to try when the registry could not be reached at all."""
    if "host name not resolved" in error:
        return "; offline? check the network (or [registry] url), then run ctwatch check again"
    if "connection refused" in error:
        return "; nothing answers there: check [registry] url, then run ctwatch check again"
    if "timed out" in error or "did not answer" in error:
        return "; the registry is slow or unreachable: try again later"
    return ""


def progress_bar() -> ProgressFactory | None:
    """A rich progress bar on stderr for big fetches, only on a terminal."""
    if not sys.stderr.isatty():
        return None

    @contextmanager
    def factory(total: int) -> Iterator[Callable[[int], None] | None]:
        if total <= PROGRESS_OVER:
            yield None
            return
        from rich.console import Console
        from rich.progress import Progress

        console = Console(file=sys.stderr)
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("fetching records", total=total)
            yield lambda n: progress.advance(task, n)

    return factory


@main.command("test-alert")
@click.option(
    "--watch", "watch_name", metavar="NAME", help="Only this watch's (or search's) destinations."
)
@click.pass_obj
def test_alert(obj: Context, watch_name: str | None) -> None:
    """Send a clearly marked test message to every configured destination.

    Exit 1 when any destination failed.

    \b
    Example:
      ctwatch test-alert --watch rectal-cancer
    """
    config = obj.load(secrets="delivery")
    require_watch(config, watch_name, searches=True)
    with open_app(config) as app:
        results = app.test_alert(watch_name)
    failed = 0
    for destination, error in results:
        if error is None:
            say(f"ok      {destination.describe()}")
        else:
            failed += 1
            say(f"FAILED  {destination.describe()}: {obj.redactor(error)}")
    if failed:
        fail(f"{failed} of {counted(len(results), 'destination')} failed", EXIT_FAILED)
