"""The composition root: build everything a command needs from a Config.

Why one place: tests and the demo swap the registry transport, the clock, the
output stream or a notifier here, and nowhere else; the rest of the code takes
its collaborators as arguments and never reaches for globals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TextIO

import httpx

from watcher.config import Config, RegistryConfig, parse_duration
from watcher.notifiers import DeliveryError, Notifier
from watcher.notifiers.console import ConsoleNotifier
from watcher.notifiers.email import EmailNotifier
from watcher.notifiers.slack import SlackNotifier, slack_client
from watcher.outbox import Deliverer, DeliveryReport
from watcher.pipeline import Clock, CycleReport, Pipeline, ProgressFactory, utc_now
from watcher.planner import FetchPolicy, Planner
from watcher.registry import RegistryClient
from watcher.render import Alert
from watcher.routing import Destination, build_routes, watch_destinations, watched_trials
from watcher.store import Store, Subscription

log = logging.getLogger(__name__)


@dataclass
class App:
    """Everything one process needs, wired together."""

    config: Config
    store: Store
    registry: RegistryClient
    pipeline: Pipeline
    deliverer: Deliverer

    @classmethod
    def build(
        cls,
        config: Config,
        *,
        out: TextIO,
        clock: Clock = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
        notifiers: Mapping[str, Notifier] | None = None,
        slack_retry_interval: float = 1.0,
        progress: ProgressFactory | None = None,
    ) -> App:
        store = Store.open(config.database.path)
        reg = config.registry
        registry = registry_client(reg, transport=transport, sleep=sleep)
        policy = FetchPolicy(
            incremental=reg.incremental,
            registry_wide_over=reg.registry_wide_over,
            full_sweep_seconds=parse_duration(reg.full_sweep),
        )
        chosen = (
            dict(notifiers)
            if notifiers is not None
            else default_notifiers(
                config, out, clock=clock, sleep=sleep, slack_retry_interval=slack_retry_interval
            )
        )
        return cls(
            config=config,
            store=store,
            registry=registry,
            pipeline=Pipeline(store, registry, Planner(store, registry, policy), clock, progress),
            deliverer=Deliverer(store, chosen, clock),
        )

    def check(
        self,
        *,
        force: bool = True,
        full: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> tuple[CycleReport, DeliveryReport]:
        """One cycle, then delivery. ``force`` (``ctwatch check``) tries every
        pending alert whatever its backoff: a cron user expects each run to try.
        ``full`` fetches every record whatever the version probe says."""
        subscriptions = self.subscriptions()
        routes = build_routes(self.config, subscriptions)
        trials = watched_trials(self.config, subscriptions)
        report = self.pipeline.run_cycle(trials, routes, should_stop, full=full)
        delivery = self.deliverer.deliver(force=force)
        return report, delivery

    def subscriptions(self) -> list[Subscription]:
        """The Slack subscriptions this config can deliver (none without ``[slack]``).

        Read from the store on every cycle: ``/ctwatch watch`` writes them from
        another thread or process, and the next cycle picks them up.
        """
        subscriptions = self.store.subscriptions()
        if subscriptions and self.config.slack is None:
            log.warning(
                "%d Slack subscription(s) ignored: the config has no [slack] section",
                len(subscriptions),
            )
            return []
        return subscriptions

    def test_alert(self, watch_name: str | None = None) -> list[tuple[Destination, str | None]]:
        """Send a marked test message to every destination (of one watch).

        Returns each destination with None on success or the reason it failed.
        Test messages bypass the outbox: the user is waiting for the answer.
        """
        results: dict[str, tuple[Destination, str | None]] = {}
        for watch in self.config.watch:
            if watch_name is not None and watch.name != watch_name:
                continue
            alert = Alert(watch.trials[0], f"test alert for watch “{watch.name}”", (), test=True)
            for destination in watch_destinations(watch.slack, watch.email):
                if destination.key in results:
                    continue
                notifier = self.deliverer.notifiers[destination.kind]
                try:
                    notifier.send(destination.target, alert)
                except DeliveryError as exc:
                    results[destination.key] = (destination, str(exc))
                else:
                    results[destination.key] = (destination, None)
        return list(results.values())

    def close(self) -> None:
        self.registry.close()
        self.store.close()


def registry_client(
    reg: RegistryConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retries: int | None = None,
) -> RegistryClient:
    """A registry client for ``[registry]`` (``retries`` overrides the config's)."""
    return RegistryClient(
        reg.url,
        timeout=reg.timeout_seconds,
        pace=reg.pace,
        retries=reg.retries if retries is None else retries,
        backoff=reg.backoff,
        contact=reg.contact,
        batch_size=reg.batch_size,
        transport=transport,
        sleep=sleep,
    )


def default_notifiers(
    config: Config,
    out: TextIO,
    *,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    slack_retry_interval: float = 1.0,
) -> dict[str, Notifier]:
    """The notifiers a config asks for; the console one always exists."""
    notifiers: dict[str, Notifier] = {"console": ConsoleNotifier(out)}
    if config.slack is not None:
        client = slack_client(config.slack, retry_interval=slack_retry_interval, sleep=sleep)
        notifiers["slack"] = SlackNotifier(client, config.slack.digest_over)
    if config.email is not None:
        notifiers["email"] = EmailNotifier(config.email, clock)
    return notifiers
