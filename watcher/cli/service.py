"""Running as a service: ``ctwatch run`` (the daemon), ``serve`` and ``health``."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from watcher.cli.main import Context, channel_keys, fail, main, open_reader, say
from watcher.timeutil import utc_now

if TYPE_CHECKING:  # the daemon, servers and Bolt load when a service starts
    from watcher.app import App, Services
    from watcher.config import Config

log = logging.getLogger(__name__)

NOTHING_TO_SERVE = (
    "nothing to serve: slash commands need [slack] with signing_secret and a [slack.commands] "
    "section (or [server]), Socket Mode needs [slack] app_token, and feeds, /metrics and "
    "/healthz need [server] (see docs/setup/slack-socket-mode.md and docs/setup/feeds.md)"
)


@main.command()
@click.pass_obj
def run(obj: Context) -> None:
    """Run as a daemon: check on [schedule], retry alerts, reload the config when it changes.

    SIGHUP re-reads the config; SIGTERM or SIGINT stop it (exit 0).

    \b
    Example:
      ctwatch --config /etc/ctwatch/ctwatch.toml run --log-format json
    """
    from watcher.app import App
    from watcher.daemon.logs import refresh_secrets
    from watcher.daemon.scheduler import ConfigSource, Daemon
    from watcher.store import StoreError

    config = obj.load(default_level="info")
    source = ConfigSource(obj.config_path, channels=channel_keys())
    source.read_if_changed()  # remember what was loaded

    def build(new_config: Config, sleep: Callable[[float], None]) -> App:
        return App.build(new_config, out=sys.stdout, sleep=sleep)

    try:
        daemon = Daemon(source, config, build, lambda new: refresh_secrets(new.secrets()))
    except StoreError as exc:
        fail(f"database.path: {exc}", 2)
    services = None
    try:
        # the servers follow reloads: they read the daemon's current config per request
        services = start_services(lambda: daemon.config, config)
    finally:
        if services is None:
            daemon.app.close()
    try:
        daemon.run()
    finally:
        services.stop()


def start_services(current: Callable[[], Config], config: Config) -> Services:
    """Start what the config asks to serve; exit 2 naming the address when it cannot bind."""
    from watcher.app import build_services
    from watcher.config import serving
    from watcher.web.asgi import COMMANDS_PATH

    plan = serving(config)
    services = build_services(current)
    try:
        services.start()
    except OSError as exc:
        services.stop()
        fail(f"{plan.listen_key}: cannot listen on {plan.listen} ({exc.strerror or exc})", 2)
    if services.web is not None and plan.slack_http:
        log.info("answering Slack slash commands on %s%s", services.web.origin, COMMANDS_PATH)
    if services.socket_mode is not None:
        log.info("connecting to Slack over Socket Mode")
    return services


@main.command()
@click.pass_obj
def serve(obj: Context) -> None:
    """Answer Slack (HTTP or Socket Mode), feeds, /metrics and /healthz, without checking.

    \b
    Example:
      SLACK_APP_TOKEN=xapp-… SLACK_BOT_TOKEN=xoxb-… ctwatch serve
    """
    from watcher.config import serving

    config = obj.load(default_level="info")
    if not serving(config).anything:
        fail(NOTHING_TO_SERVE, 2)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        log.info("received %s; stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    services = start_services(lambda: config, config)
    try:
        stop.wait()
    finally:
        services.stop()
    log.info("ctwatch serve stopped")


@main.command()
@click.pass_obj
def health(obj: Context) -> None:
    """Exit 0 if the last cycle succeeded within twice the schedule interval (and Socket
    Mode, when configured, is connected), else 1.

    \b
    Example:
      HEALTHCHECK CMD ["ctwatch", "health"]
    """
    from watcher.config import serving
    from watcher.daemon.health import service_health

    config = obj.load(secrets="none")
    if not Path(config.database.path).exists():
        fail(f"unhealthy: no database yet at {config.database.path} (no cycle has run)", 1)
    with open_reader(config) as app:
        problem = service_health(config, app.store, utc_now())
        last = app.store.runs.last()
    if problem is not None or last is None:
        fail(f"unhealthy: {problem}", 1)
    line = f"healthy: last cycle finished at {last.finished_at}"
    if serving(config).socket_mode:
        line += "; Slack Socket Mode connected"
    say(line)
