"""The ``ctwatch`` command line (click).

The only module that prints or chooses exit codes. Alerts and summaries go to
standard output; logs and progress to standard error, so ``ctwatch check``
piped into a mailer sends exactly the alerts. Exit codes: 0 the command did its
job, 1 the registry (or a destination) could not be used, 2 bad configuration
or arguments.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.table import Table

from watcher import __version__
from watcher.app import App
from watcher.config import Config, ConfigError, load_config, normalise_nct_id, resolve_config_path
from watcher.describe import display_value
from watcher.logs import FORMATS, LEVELS, setup_logging
from watcher.outbox import DeliveryReport
from watcher.pipeline import CycleReport
from watcher.render import change_lines
from watcher.routing import Destination

STATUS_PATH = "protocolSection.statusModule.overallStatus"


class Context:
    """What the group options leave for the subcommands."""

    def __init__(self, config_option: str | None, log_level: str | None, log_format: str) -> None:
        self.config_path = resolve_config_path(config_option)
        self.log_level = log_level
        self.log_format = log_format

    def load(self, default_level: str = "warning") -> Config:
        """Load the config (exit 2 with one line on error) and set up logging."""
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            fail(str(exc), 2)
        setup_logging(self.log_level or default_level, self.log_format, secrets_of(config))
        return config


def secrets_of(config: Config) -> list[str]:
    """Every secret value in the config, for the log mask."""
    values = []
    if config.slack is not None:
        values.append(config.slack.token.get_secret_value())
        if config.slack.signing_secret is not None:
            values.append(config.slack.signing_secret.get_secret_value())
    if config.email is not None:
        for secret in (config.email.username, config.email.password):
            if secret is not None:
                values.append(secret.get_secret_value())
    return values


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"ctwatch: {message}", err=True)
    sys.exit(code)


@contextmanager
def open_app(config: Config) -> Iterator[App]:
    """Build the app; a database that cannot be opened is a config problem."""
    try:
        app = App.build(config, out=sys.stdout)
    except sqlite3.Error as exc:
        fail(f"database.path: cannot open {config.database.path} ({exc})", 2)
    try:
        yield app
    finally:
        app.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    help="Config file (default: $CTWATCH_CONFIG, else ./config/ctwatch.toml).",
)
@click.option("--log-level", type=click.Choice(LEVELS), default=None, help="Log verbosity.")
@click.option("--log-format", type=click.Choice(FORMATS), default="text", show_default=True)
@click.version_option(__version__, prog_name="ctwatch")
@click.pass_context
def main(
    ctx: click.Context, config_option: str | None, log_level: str | None, log_format: str
) -> None:
    """Watch ClinicalTrials.gov records and report what changed, field by field."""
    ctx.obj = Context(config_option, log_level, log_format)


@main.command()
@click.pass_obj
def check(obj: Context) -> None:
    """Run one cycle: fetch every watched trial, record, diff, alert."""
    config = obj.load()
    with open_app(config) as app:
        report, delivery = app.check()
    click.echo(summary_line(report, delivery))
    if report.registry_down:
        fail(f"the registry could not be read: {report.registry_error}", 1)


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
            click.echo(f"FAILED  {destination.describe()}: {error}")
    if failed:
        fail(f"{failed} of {len(results)} destination(s) failed", 1)


def summary_line(report: CycleReport, delivery: DeliveryReport) -> str:
    """``checked 3 · changed 1 · new 0 · not found 1 (NCT…) · errors 0 · alerts sent 1``."""
    parts = [
        f"checked {report.checked}",
        f"changed {len(report.changed)}",
        f"new {len(report.new)}",
        f"not found {len(report.not_found)}"
        + (f" ({', '.join(report.not_found)})" if report.not_found else ""),
        f"errors {len(report.errors)}"
        + (f" ({', '.join(sorted(report.errors))})" if report.errors else ""),
        f"alerts sent {delivery.sent}",
    ]
    if delivery.retrying:
        parts.append(f"alerts pending {delivery.retrying}")
    if delivery.failed:
        parts.append(f"alerts failed {delivery.failed}")
    return " · ".join(parts)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Show every watched trial: status, last update, last check, last change, errors."""
    config = obj.load()
    with open_app(config) as app:
        rows = {r.nct_id: r for r in app.store.trials()}
        problems = app.store.outbox_problems()
        counts = app.store.outbox_counts()
    watched = list(config.trials)
    data = []
    for nct in watched:
        row = rows.get(nct)
        data.append(
            {
                "nct_id": nct,
                "title": row.title if row else None,
                "overall_status": row.overall_status if row else None,
                "last_update_posted": row.last_update_posted if row else None,
                "last_checked_at": row.last_checked_at if row else None,
                "last_changed_at": row.last_changed_at if row else None,
                "last_error": row.last_error if row else None,
            }
        )
    alerts = [
        {
            "nct_id": p.nct_id,
            "destination": Destination.parse(p.destination).describe(),
            "status": p.status,
            "attempts": p.attempts,
            "error": p.last_error,
            "next_attempt_at": p.next_attempt_at if p.status == "pending" else None,
        }
        for p in problems
    ]
    if as_json:
        click.echo(
            json.dumps({"trials": data, "alerts": counts, "alert_problems": alerts}, indent=2)
        )
        return
    print_status_table(data, counts, alerts)


def print_status_table(
    data: list[dict[str, Any]], counts: dict[str, int], alerts: list[dict[str, Any]]
) -> None:
    console = Console(file=sys.stdout, width=None if sys.stdout.isatty() else 160)
    table = Table(title="ctwatch status", title_justify="left")
    for name in (
        "NCT ID",
        "Title",
        "Overall Status",
        "Last Update Posted",
        "Last Checked",
        "Last Change",
        "Last Error",
    ):
        table.add_column(name, overflow="fold")
    for row in data:
        status_text = row["overall_status"] and display_value(STATUS_PATH, row["overall_status"])
        table.add_row(
            row["nct_id"],
            (row["title"] or "")[:60],
            status_text or "—",
            row["last_update_posted"] or "—",
            row["last_checked_at"] or "never",
            row["last_changed_at"] or "—",
            row["last_error"] or "",
        )
    console.print(table)
    console.print(
        f"Alerts: {counts['sent']} sent, {counts['pending']} pending, {counts['failed']} failed"
    )
    for alert in alerts:
        state = "FAILED" if alert["status"] == "failed" else f"retry at {alert['next_attempt_at']}"
        console.print(f"  {alert['nct_id']} → {alert['destination']}: {state}: {alert['error']}")


@main.command()
@click.argument("nct_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(obj: Context, nct_id: str, as_json: bool) -> None:
    """Show each recorded version of NCT_ID and what changed in it, newest first."""
    try:
        nct = normalise_nct_id(nct_id)
    except ValueError as exc:
        fail(str(exc), 2)
    config = obj.load()
    with open_app(config) as app:
        versions = app.store.versions(nct)
    if not versions:
        fail(f"no versions of {nct} recorded yet (is it watched, and has a check run?)", 1)
    if as_json:
        out = [
            {
                "version": v.id,
                "fetched_at": v.fetched_at,
                "last_update_posted": v.last_update_posted,
                "overall_status": v.overall_status,
                "baseline": i == len(versions) - 1,
                "changes": [
                    {"path": c.path, "label": c.label, "kind": c.kind, "old": c.old, "new": c.new}
                    for c in v.changes
                ],
            }
            for i, v in enumerate(versions)
        ]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for i, v in enumerate(versions):
        status_text = display_value(STATUS_PATH, v.overall_status) if v.overall_status else "—"
        click.echo(
            f"version {v.id} · seen {v.fetched_at} · last update posted "
            f"{v.last_update_posted or '—'} · {status_text}"
        )
        if i == len(versions) - 1:
            click.echo("  baseline (first sight of this trial)")
        for line in change_lines(v.changes):
            click.echo(f"  {line.text()}")
        click.echo("")
