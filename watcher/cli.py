"""The ``ctwatch`` command line (click).

The only module that prints or chooses exit codes. Alerts and summaries go to
standard output; logs and progress to standard error, so ``ctwatch check``
piped into a mailer sends exactly the alerts. Exit codes: 0 the command did its
job, 1 the registry (or a destination) could not be used, 2 bad configuration
or arguments.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import click
from rich.console import Console
from rich.progress import Progress

from watcher import __version__
from watcher.app import App
from watcher.config import Config, ConfigError, load_config, normalise_nct_id, resolve_config_path
from watcher.demo import run_demo
from watcher.describe import display_value
from watcher.logs import FORMATS, LEVELS, refresh_secrets, setup_logging
from watcher.pipeline import ProgressFactory
from watcher.render import change_lines
from watcher.routing import channel_follows, watched_trials
from watcher.scheduler import ConfigSource, Daemon, health_problem
from watcher.slash import SlashServer, commands_problem
from watcher.store import StoreError
from watcher.views import STATUS_PATH, print_status, status_view, summary_line

log = logging.getLogger(__name__)


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
def open_app(config: Config, progress: ProgressFactory | None = None) -> Iterator[App]:
    """Build the app; a database that cannot be opened is a config problem."""
    try:
        app = App.build(config, out=sys.stdout, progress=progress)
    except StoreError as exc:
        fail(f"database.path: {exc}", 2)
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
@click.option("--full", is_flag=True, help="Fetch every record, whatever the version probe says.")
@click.pass_obj
def check(obj: Context, full: bool) -> None:
    """Run one cycle: fetch what changed, record, diff, alert."""
    config = obj.load()
    with open_app(config, progress_bar()) as app:
        report, delivery = app.check(full=full)
    click.echo(summary_line(report, delivery))
    if report.registry_down:
        fail(f"the registry could not be read: {report.registry_error}", 1)


PROGRESS_OVER = 300


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
            click.echo(f"FAILED  {destination.describe()}: {error}")
    if failed:
        fail(f"{failed} of {len(results)} destination(s) failed", 1)


@main.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run as a daemon: check on [schedule], retry alerts, reload the config when it changes."""
    config = obj.load(default_level="info")
    source = ConfigSource(obj.config_path)
    source.read_if_changed()  # remember what was loaded

    def build(new_config: Config, sleep: Callable[[float], None]) -> App:
        return App.build(new_config, out=sys.stdout, sleep=sleep)

    try:
        daemon = Daemon(source, config, build, lambda new: refresh_secrets(secrets_of(new)))
    except StoreError as exc:
        fail(f"database.path: {exc}", 2)
    server = None
    if commands_problem(config) is None:
        # the endpoint follows reloads: it reads the daemon's current config per request
        try:
            server = start_slash_server(lambda: daemon.config, config)
        finally:
            if server is None:
                daemon.app.close()
    try:
        daemon.run()
    finally:
        if server is not None:
            server.stop()


def start_slash_server(current: Callable[[], Config], config: Config) -> SlashServer:
    """Start the slash-command endpoint; exit 2 naming the address when it cannot bind."""
    assert config.slack is not None and config.slack.commands is not None
    listen = config.slack.commands.listen
    try:
        return SlashServer(current).start()
    except OSError as exc:
        fail(f"slack.commands.listen: cannot listen on {listen} ({exc.strerror or exc})", 2)


@main.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Answer /ctwatch slash commands from Slack (without checking on a schedule)."""
    config = obj.load(default_level="info")
    problem = commands_problem(config)
    if problem is not None:
        fail(problem, 2)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    server = start_slash_server(lambda: config, config)
    try:
        stop.wait()
    finally:
        server.stop()
    log.info("ctwatch serve stopped")


@main.command()
@click.pass_obj
def health(obj: Context) -> None:
    """Exit 0 if the last cycle succeeded within twice the schedule interval, else 1."""
    config = obj.load()
    if not Path(config.database.path).exists():
        fail(f"unhealthy: no database yet at {config.database.path} (no cycle has run)", 1)
    with open_app(config) as app:
        last = app.store.last_run()
    problem = health_problem(config.schedule, last, datetime.now(UTC))
    if problem is not None or last is None:
        fail(f"unhealthy: {problem}", 1)
    click.echo(f"healthy: last cycle finished at {last['finished_at']}")


@main.command()
@click.option("--no-pause", is_flag=True, help="Skip the pauses between steps.")
def demo(no_pause: bool) -> None:
    """An offline tour: a local registry double, a baseline, changes, alerts, status."""
    setup_logging("warning")
    run_demo(sys.stdout, pause=0.0 if no_pause else 1.5)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Show every watched trial: status, last update, last check, last change, errors."""
    config = obj.load()
    with open_app(config) as app:
        subscriptions = app.subscriptions()
        view = status_view(
            watched_trials(config, subscriptions),
            app.store,
            channel_follows(config, subscriptions),
        )
    if as_json:
        click.echo(json.dumps(view.as_json(), indent=2, ensure_ascii=False))
        return
    print_status(view, sys.stdout)


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
