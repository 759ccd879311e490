"""The composition root: build everything a command needs from a Config.

Why one place: tests and the demo swap the registry transport, the clock, the
output stream or a notifier here, and nowhere else; the rest of the code takes
its collaborators as arguments and never reaches for globals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, TextIO

from watcher.config import Config
from watcher.core.text import counted
from watcher.redact import Redactor
from watcher.store import Store, Subscription
from watcher.timeutil import Clock, iso, utc_now

if TYPE_CHECKING:  # imported where they are used: read-only commands need none of them
    import httpx

    from watcher.alerts.channel import Channels
    from watcher.alerts.delivery import Deliverer, DeliveryReport
    from watcher.alerts.notifier import Notifier
    from watcher.config import RegistryConfig
    from watcher.core.destination import Destination
    from watcher.core.search_url import SearchQuery
    from watcher.cycle.backfill import Backfiller, Progress, QueueReport, TrialBackfill
    from watcher.cycle.pipeline import Pipeline, ProgressFactory
    from watcher.cycle.report import CycleReport
    from watcher.registry.client import FetchResult, RegistryClient
    from watcher.registry.planner import Planner
    from watcher.registry.searches import Preview
    from watcher.slack.bolt_app import SlackService
    from watcher.slack.commands import Lookup
    from watcher.slack.search_commands import SearchPreviewer
    from watcher.slack.socket_mode import SocketMode
    from watcher.store.pool import StorePool
    from watcher.web.limits import Limits
    from watcher.web.server import WebServer

log = logging.getLogger(__name__)


@dataclass
class Reader:
    """A read-only command's config and store: no clients, no cycle (a fast start)."""

    config: Config
    store: Store

    @classmethod
    def open(cls, config: Config) -> Reader:  # StoreError if the database is unusable
        return cls(config, Store.open_from(config.database, Redactor(config.secrets())))

    def subscriptions(self) -> list[Subscription]:
        return configured_subscriptions(self.config, self.store)

    def close(self) -> None:
        self.store.close()


def configured_subscriptions(config: Config, store: Store) -> list[Subscription]:
    """The Slack subscriptions this config can deliver (none without ``[slack]``). Read
    on every cycle: ``/ctwatch watch`` writes them from another thread or process."""
    subscriptions = store.subscriptions.list()
    if subscriptions and config.slack is None:
        log.warning(
            "%s ignored: the config has no [slack] section",
            counted(len(subscriptions), "Slack subscription"),
        )
        return []
    return subscriptions


@dataclass
class App:
    """Everything one process needs, wired together."""

    config: Config
    store: Store
    registry: RegistryClient
    pipeline: Pipeline
    deliverer: Deliverer
    redactor: Redactor
    backfiller: Backfiller
    lock_wait: float = 0.0
    """Seconds to wait for another ctwatch using the same database."""

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
        lock_wait: float = 0.0,
        channels: Channels | None = None,
        one_shot: bool = False,
    ) -> App:
        """``one_shot`` (``ctwatch check``): an unreachable registry fails at once."""
        from watcher.cycle.backfill import Backfiller
        from watcher.registry.configured import registry_client
        from watcher.registry.history import HistoryClient

        redactor = Redactor(config.secrets())
        store = Store.open_from(config.database, redactor)
        reg = config.registry
        registry = registry_client(
            reg, transport=transport, sleep=sleep, retry_unreachable=not one_shot
        )
        # the history adapter shares the v2 client's JsonGetter: one pace for both
        backfiller = Backfiller(
            store, HistoryClient(registry.http, reg.url), clock,
            thresholds=config.events.thresholds,
        )  # fmt: skip
        chosen = (
            dict(notifiers)
            if notifiers is not None
            else default_notifiers(
                config,
                out,
                clock=clock,
                sleep=sleep,
                slack_retry_interval=slack_retry_interval,
                mask=redactor,
                channels=channels,
            )
        )
        return cls(
            config=config,
            store=store,
            registry=registry,
            pipeline=pipeline(config, store, registry, backfiller, clock=clock, progress=progress),
            deliverer=deliverer(config, store, chosen, clock),
            redactor=redactor,
            backfiller=backfiller,
            lock_wait=lock_wait,
        )

    def check(
        self,
        *,
        force: bool = True,
        full: bool = False,
        should_stop: Callable[[], bool] = lambda: False,
        wait: float | None = None,
    ) -> tuple[CycleReport, DeliveryReport]:
        """One cycle, then delivery, holding the database's process lock.

        ``force`` (``ctwatch check``) tries every pending alert whatever its
        backoff: a cron user expects each run to try. ``full`` fetches every
        record whatever the version probe says. Busy when another ctwatch keeps
        the lock longer than ``wait`` (default ``lock_wait``) seconds.
        """
        from watcher.alerts.routing import build_routes
        from watcher.alerts.search_routes import current_searches, followed_now
        from watcher.cycle.search_names import rename_taken

        with self.store.lock.held(self.lock_wait if wait is None else wait):
            rename_taken(self.config, self.store, iso(self.pipeline.clock()))
            searches = current_searches(self.config, self.store)
            followed = followed_now(self.store, searches)
            routes = build_routes(self.config, self.subscriptions(), followed)
            trials = routes.trials()
            self.store.watches.sync({w.name: w.trials for w in self.config.watch})
            report = self.pipeline.run_cycle(
                trials, routes, should_stop, full=full, searches=searches
            )
            delivery = self.deliverer.deliver(force=force)
        return report, delivery

    def deliver(self, wait: float | None = None) -> DeliveryReport:
        """Send the alerts that are due (the daemon's minute job); Busy if another sends."""
        with self.store.lock.held(self.lock_wait if wait is None else wait):
            return self.deliverer.deliver(force=False)

    def backfill(
        self,
        nct_ids: Sequence[str],
        on_done: Callable[[TrialBackfill], None],
        *,
        progress: Progress | None = None,
        wait: float | None = None,
    ) -> None:
        """Import the registry history of ``nct_ids``, one transaction per trial.

        The process lock is held for each trial's write only (Busy when another
        ctwatch keeps it past ``wait``): a long import never holds up checks and
        alerts, and the plan is made again inside the write's transaction.
        """
        held = self.lock_wait if wait is None else wait
        for nct in nct_ids:
            guard = partial(self.store.lock.held, held)
            on_done(self.backfiller.backfill(nct, progress=progress, guard=guard))

    def backfill_queued(self, should_stop: Callable[[], bool], wait: float = 0.0) -> QueueReport:
        """The daemon's round of queued history imports (``registry.backfill_per_cycle``).

        Each trial holds the process lock for its own import only, so a ``ctwatch
        check`` next to the daemon waits seconds, not the whole round.
        """
        return self.backfiller.work_queue(
            self.config.registry.backfill_per_cycle,
            should_stop,
            guard=lambda: self.store.lock.held(wait),
        )

    def outbox_counts(self) -> dict[str, int]:
        return self.store.outbox.counts()

    def subscriptions(self) -> list[Subscription]:
        """The Slack subscriptions this config can deliver (:func:`configured_subscriptions`)."""
        return configured_subscriptions(self.config, self.store)

    def test_alert(self, watch_name: str | None = None) -> list[tuple[Destination, str | None]]:
        """Send a marked test message to every destination (of one watch or search).

        Returns each destination with None on success or the reason it failed.
        Test messages bypass the outbox: the user is waiting for the answer.
        """
        from watcher.alerts.notifier import DeliveryError
        from watcher.core.render import Alert

        results: dict[Destination, str | None] = {}
        targets = [("watch", w.name, w.trials[0], w.destinations) for w in self.config.watch]
        targets += [("search", s.name, "", s.destinations) for s in self.config.search]
        for kind, name, nct, destinations in targets:
            if watch_name is not None and name != watch_name:
                continue
            alert = Alert(nct, f"test alert for {kind} “{name}”", (), test=True)
            for destination in destinations:
                if destination in results:
                    continue
                notifier = self.deliverer.notifiers[destination.kind]
                try:
                    notifier.send(destination, alert)
                except DeliveryError as exc:
                    results[destination] = str(exc)
                else:
                    results[destination] = None
        return list(results.items())

    def close(self) -> None:
        self.registry.close()
        self.store.close()


def pipeline(
    config: Config,
    store: Store,
    registry: RegistryClient,
    backfiller: Backfiller,
    *,
    clock: Clock,
    progress: ProgressFactory | None,
) -> Pipeline:
    """One cycle's steps, with ``[registry]``'s planner and ``[alerts]``' trouble count."""
    from watcher.cycle.pipeline import Pipeline

    return Pipeline(
        store,
        registry,
        planner(registry, config.registry),
        clock,
        progress,
        trouble_after=config.alerts.trouble_after,
        history=backfiller,
        queue_history=config.registry.backfill,
        thresholds=config.events.thresholds,
    )


def deliverer(
    config: Config, store: Store, notifiers: Mapping[str, Notifier], clock: Clock
) -> Deliverer:
    """The outbox worker: ``[delivery]``, links to ``[server] public_url`` pages, and each
    destination's digest and quiet hours (the config's and Slack channels' own)."""
    from watcher.alerts.delivery import Deliverer
    from watcher.alerts.digests import Digester, all_timings, table_groups

    return Deliverer(
        store,
        notifiers,
        clock,
        config.delivery.give_up_after,
        site=config.server.public_url if config.server is not None else None,
        digester=Digester(
            store, partial(all_timings, config, store), store.events.top_levels, clock=clock
        ),
        groups_of=partial(table_groups, config, store),
    )


def planner(registry: RegistryClient, reg: RegistryConfig) -> Planner:
    """The cycle's requests, with the tunables of ``[registry]``."""
    from watcher.registry.planner import FetchPolicy, Planner

    policy = FetchPolicy(reg.incremental, reg.registry_wide_over, reg.full_sweep, reg.lookback)
    return Planner(registry, policy)


def registry_lookup(config: Config) -> Lookup:
    """A lookup for slash commands with its own short-lived client per call.

    The daemon's client stays its own: a config reload that closes the daemon's
    App never pulls a connection from under a command in flight.
    """

    from watcher.registry.configured import quick_client
    from watcher.slack.commands import LOOKUP_FIELDS

    def lookup(ids: Sequence[str]) -> FetchResult:
        with quick_client(config.registry) as client:
            return client.fetch_studies(ids, fields=LOOKUP_FIELDS)

    return lookup


def registry_preview(config: Config) -> SearchPreviewer:
    """A search's count and first matches (``ctwatch search``, ``/ctwatch watch <URL>``),
    with a short-lived client like :func:`registry_lookup`."""

    from watcher.registry.configured import quick_client
    from watcher.registry.searches import SearchReader

    def preview(query: SearchQuery) -> Preview:
        with quick_client(config.registry) as client:
            return SearchReader(client).preview(query)

    return preview


def default_notifiers(
    config: Config,
    out: TextIO,
    *,
    clock: Clock = utc_now,
    sleep: Callable[[float], None] = time.sleep,
    slack_retry_interval: float = 1.0,
    mask: Callable[[str], str] | None = None,
    channels: Channels | None = None,
) -> dict[str, Notifier]:
    """The notifier of every registered channel kind the config enables, by kind.

    Each kind builds its own (:mod:`watcher.channels`); console, Teams and
    webhooks always exist. ``mask`` hides secrets in their error messages.
    """
    from watcher.alerts.channel import ChannelDeps
    from watcher.channels import CHANNELS  # every notifier module: only when sending

    deps = ChannelDeps(
        out,
        clock=clock,
        sleep=sleep,
        mask=mask or Redactor(config.secrets()),
        slack_retry_interval=slack_retry_interval,
    )
    return (channels or CHANNELS).notifiers(config, deps)


@dataclass
class Services:
    """The servers ``ctwatch run`` and ``serve`` keep next to (or instead of) the daemon."""

    pool: StorePool
    web: WebServer | None = None
    slack: SlackService | None = None
    socket_mode: SocketMode | None = None

    def start(self) -> Services:
        """Bind the web server first (OSError when it cannot), then connect out."""
        if self.web is not None:
            self.web.start()
        if self.socket_mode is not None:
            self.socket_mode.start()
        return self

    def stop(self) -> None:
        if self.web is not None:
            self.web.stop()
        if self.socket_mode is not None:
            self.socket_mode.stop()
        if self.slack is not None:
            self.slack.close()
        self.pool.close()


def build_services(
    current: Callable[[], Config],
    *,
    limits: Limits | None = None,
    clock: Callable[[], float] = time.time,
    now: Clock = utc_now,
    socket_check_every: float | None = None,
    socket_ping_interval: float | None = None,
) -> Services:
    """What ``serving(current())`` asks for: web server, Bolt app, Socket Mode (not started).

    ``current`` is read per request, so a reload of the daemon's config
    applies at once (an address, ``api_url`` or app token needs a restart).
    """
    from watcher.channels import CHANNELS
    from watcher.config import serving
    from watcher.config.types import parse_listen
    from watcher.slack.bolt_app import SlackService
    from watcher.slack.socket_mode import CHECK_EVERY, PING_INTERVAL, SocketMode
    from watcher.store.pool import StorePool
    from watcher.store.service_state import SOCKET_MODE
    from watcher.web.asgi import WebContext, build_app
    from watcher.web.limits import DEFAULT_LIMITS
    from watcher.web.server import WebServer

    limits = DEFAULT_LIMITS if limits is None else limits
    config = current()
    plan = serving(config)
    pool = StorePool()
    services = Services(pool)
    if config.slack is not None and plan.interactive:
        services.slack = SlackService(
            current, registry_lookup, pool, clock=clock, now=now, preview=registry_preview
        )
    if plan.listen is not None:
        dispatch = services.slack.dispatch if services.slack is not None else None
        context = WebContext(current, pool, dispatch, limits, now, CHANNELS.names, plan.listen)
        app = build_app(context)
        services.web = WebServer(app, parse_listen(plan.listen), limits)
    token = config.slack.app_token if config.slack is not None else None
    if services.slack is not None and token is not None:

        def record(up: bool, detail: str | None) -> None:
            latest = current()
            store = pool.get(latest.database, latest.secrets())
            store.service_state.record(SOCKET_MODE, up, iso(now()), detail)

        services.socket_mode = SocketMode(
            services.slack.bolt,
            token.get_secret_value(),
            record,
            check_every=CHECK_EVERY if socket_check_every is None else socket_check_every,
            ping_interval=PING_INTERVAL if socket_ping_interval is None else socket_ping_interval,
        )
    return services
