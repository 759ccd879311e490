"""Running as a service: ``ctwatch run`` (the daemon), ``serve`` and ``health``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import click

from watcher.app import App, registry_lookup
from watcher.cli.main import Context, fail, main, open_app
from watcher.config import Config
from watcher.daemon.health import health_problem
from watcher.daemon.logs import refresh_secrets
from watcher.daemon.scheduler import ConfigSource, Daemon
from watcher.slack.endpoint import SlashServer, commands_problem
from watcher.store import StoreError
from watcher.timeutil import utc_now

log = logging.getLogger(__name__)


@main.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run as a daemon: check on [schedule], retry alerts, reload the config when it changes.

    SIGHUP re-reads the config; SIGTERM or SIGINT stop it (exit 0).

    \b
    Example:
      ctwatch --config /etc/ctwatch/ctwatch.toml run --log-format json
    """
    config = obj.load(default_level="info")
    source = ConfigSource(obj.config_path)
    source.read_if_changed()  # remember what was loaded

    def build(new_config: Config, sleep: Callable[[float], None]) -> App:
        return App.build(new_config, out=sys.stdout, sleep=sleep)

    try:
        daemon = Daemon(source, config, build, lambda new: refresh_secrets(new.secrets()))
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
        return SlashServer(current, registry_lookup).start()
    except OSError as exc:
        fail(f"slack.commands.listen: cannot listen on {listen} ({exc.strerror or exc})", 2)


@main.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Answer /ctwatch slash commands from Slack (without checking on a schedule).

    \b
    Example:
      SLACK_SIGNING_SECRET=… ctwatch serve
    """
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
    """Exit 0 if the last cycle succeeded within twice the schedule interval, else 1.

    \b
    Example:
      HEALTHCHECK CMD ["ctwatch", "health"]
    """
    config = obj.load()
    if not Path(config.database.path).exists():
        fail(f"unhealthy: no database yet at {config.database.path} (no cycle has run)", 1)
    with open_app(config) as app:
        last = app.store.runs.last()
    problem = health_problem(config.schedule, last, utc_now())
    if problem is not None or last is None:
        fail(f"unhealthy: {problem}", 1)
    click.echo(f"healthy: last cycle finished at {last.finished_at}")
