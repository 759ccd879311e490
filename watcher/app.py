"""The composition root: build everything a command needs from a Config.

Why one place: tests and the demo swap the registry transport, the clock, the
output stream or a notifier here, and nowhere else; the rest of the code takes
its collaborators as arguments and never reaches for globals.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TextIO

import httpx

from watcher.alerts.console import ConsoleNotifier
from watcher.alerts.delivery import Deliverer, DeliveryReport
from watcher.alerts.email import EmailNotifier
from watcher.alerts.notifier import DeliveryError, Notifier
from watcher.alerts.routing import build_routes
from watcher.alerts.search_routes import current_searches, followed_now
from watcher.alerts.teams import TeamsNotifier
from watcher.alerts.webhook import WebhookNotifier
from watcher.config import Config, RegistryConfig, serving
from watcher.config.types import parse_listen
from watcher.core.destination import Destination
from watcher.core.render import Alert
from watcher.core.search_url import SearchQuery
from watcher.cycle.backfill import Backfiller, Progress, QueueReport, TrialBackfill
from watcher.cycle.pipeline import Pipeline, ProgressFactory
from watcher.cycle.report import CycleReport
from watcher.cycle.search_names import rename_taken
from watcher.redact import Redactor
from watcher.registry.client import FetchResult, RegistryClient
from watcher.registry.configured import quick_client, registry_client
from watcher.registry.history import HistoryClient
from watcher.registry.planner import FetchPolicy, Planner
from watcher.registry.searches import Preview, SearchReader
from watcher.slack.bolt_app import SlackService
from watcher.slack.client import slack_client
from watcher.slack.commands import LOOKUP_FIELDS, Lookup
from watcher.slack.notifier import SlackNotifier
from watcher.slack.search_commands import SearchPreviewer
from watcher.slack.socket_mode import CHECK_EVERY, PING_INTERVAL, SocketMode
from watcher.store import Store, Subscription
from watcher.store.pool import StorePool
from watcher.store.service_state import SOCKET_MODE
from watcher.timeutil import Clock, iso, utc_now
from watcher.web.asgi import WebContext, build_app
from watcher.web.limits import DEFAULT_LIMITS, Limits
from watcher.web.server import WebServer

log = logging.getLogger(__name__)


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
    ) -> App:
        redactor = Redactor(config.secrets())
        store = open_store(config, redactor)
        reg = config.registry
        registry = registry_client(reg, transport=transport, sleep=sleep)
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
            )
        )
        return cls(
            config=config,
            store=store,
            registry=registry,
            pipeline=Pipeline(
                store,
                registry,
                Planner(registry, fetch_policy(reg)),
                clock,
                progress,
                trouble_after=config.alerts.trouble_after,
                history=backfiller,
                queue_history=reg.backfill,
                thresholds=config.events.thresholds,
            ),
            deliverer=Deliverer(store, chosen, clock, config.delivery.give_up_after),
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
        with self.store.lock.held(self.lock_wait if wait is None else wait):
            rename_taken(self.config, self.store, iso(self.pipeline.clock()))
            searches = current_searches(self.config, self.store)
            followed = followed_now(self.store, searches)
            routes = build_routes(self.config, self.subscriptions(), followed)
            trials = routes.trials()
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
        """The Slack subscriptions this config can deliver (none without ``[slack]``).

        Read from the store on every cycle: ``/ctwatch watch`` writes them from
        another thread or process, and the next cycle picks them up.
        """
        subscriptions = self.store.subscriptions.list()
        if subscriptions and self.config.slack is None:
            log.warning(
                "%d Slack subscription(s) ignored: the config has no [slack] section",
                len(subscriptions),
            )
            return []
        return subscriptions

    def test_alert(self, watch_name: str | None = None) -> list[tuple[Destination, str | None]]:
        """Send a marked test message to every destination (of one watch or search).

        Returns each destination with None on success or the reason it failed.
        Test messages bypass the outbox: the user is waiting for the answer.
        """
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


SETTLE_OVER = 1000  # trials; below this a cycle is too short for the collector to matter


def settle_memory(config: Config) -> bool:
    """Take what lives for the whole process out of the garbage collector's view.

    Call once in a one-shot process (``ctwatch check``), after the App is
    built. Parsing a batch of records creates millions of objects, and each
    collection they trigger would otherwise walk everything the process
    holds (modules, the config, its watch lists) again: at 10,000 trials
    this saved a seventh of a baseline's CPU (bench, 2026-11-30). Only for
    watch lists of ``SETTLE_OVER`` trials or more, where it pays, and not for
    the daemon, whose reloads replace the config: frozen objects are never
    collected. True when it froze.
    """
    if sum(len(w.trials) for w in config.watch) < SETTLE_OVER:
        return False
    gc.collect()
    gc.freeze()
    return True


def open_store(config: Config, redactor: Redactor) -> Store:
    """The store ``[database]`` names, masking with ``redactor``; StoreError if unusable."""
    database = config.database
    return Store.open(
        database.path,
        redactor,
        database.busy_timeout.total_seconds(),
        readable_records=database.readable_records,
    )


def fetch_policy(reg: RegistryConfig) -> FetchPolicy:
    """The planner's tunables from ``[registry]``."""
    return FetchPolicy(
        incremental=reg.incremental,
        registry_wide_over=reg.registry_wide_over,
        full_sweep=reg.full_sweep,
        lookback=reg.lookback,
    )


def registry_lookup(config: Config) -> Lookup:
    """A lookup for slash commands with its own short-lived client per call.

    The daemon's client stays its own: a config reload that closes the daemon's
    App never pulls a connection from under a command in flight.
    """

    def lookup(ids: Sequence[str]) -> FetchResult:
        with quick_client(config.registry) as client:
            return client.fetch_studies(ids, fields=LOOKUP_FIELDS)

    return lookup


def registry_preview(config: Config) -> SearchPreviewer:
    """A search's count and first matches (``ctwatch search``, ``/ctwatch watch <URL>``),
    with a short-lived client like :func:`registry_lookup`."""

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
) -> dict[str, Notifier]:
    """The notifiers a config asks for; console, Teams and webhooks always exist.

    Teams and webhook notifiers resolve destination references to the
    config's URLs; with none configured, their queued alerts fail as no
    longer configured. ``mask`` hides secrets in their error messages.
    """
    mask = mask or Redactor(config.secrets())
    urls = config.destination_urls()
    notifiers: dict[str, Notifier] = {
        "console": ConsoleNotifier(out),
        "teams": TeamsNotifier(
            {d: u for d, u in urls.items() if d.kind == "teams"},
            config.teams.digest_over,
            config.teams.timeout.total_seconds(),
            mask,
            sleep=sleep,
        ),
        "webhook": WebhookNotifier(
            {d: u for d, u in urls.items() if d.kind == "webhook"},
            secret.get_secret_value() if (secret := config.webhooks.secret) else None,
            config.webhooks.timeout.total_seconds(),
            mask=mask,
            clock=clock,
        ),
    }
    if config.slack is not None:
        client = slack_client(config.slack, retry_interval=slack_retry_interval, sleep=sleep)
        deadline = config.slack.timeout.total_seconds() * (config.slack.retries + 1)
        notifiers["slack"] = SlackNotifier(
            client, config.slack.digest_over, deadline, actions=serving(config).interactive
        )
    if config.email is not None:
        notifiers["email"] = EmailNotifier(config.email, clock)
    return notifiers


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
    limits: Limits = DEFAULT_LIMITS,
    clock: Callable[[], float] = time.time,
    now: Clock = utc_now,
    socket_check_every: float = CHECK_EVERY,
    socket_ping_interval: float = PING_INTERVAL,
) -> Services:
    """What ``serving(current())`` asks for: web server, Bolt app, Socket Mode (not started).

    ``current`` is read per request, so a reload of the daemon's config
    applies at once (an address, ``api_url`` or app token needs a restart).
    """
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
        app = build_app(WebContext(current, pool, dispatch, limits, now))
        services.web = WebServer(app, parse_listen(plan.listen), limits)
    token = config.slack.app_token if config.slack is not None else None
    if services.slack is not None and token is not None:

        def record(up: bool, detail: str | None) -> None:
            latest = current()
            database = latest.database
            store = pool.get(database.path, latest.secrets(), database.busy_timeout.total_seconds())
            store.service_state.record(SOCKET_MODE, up, iso(now()), detail)

        services.socket_mode = SocketMode(
            services.slack.bolt,
            token.get_secret_value(),
            record,
            check_every=socket_check_every,
            ping_interval=socket_ping_interval,
        )
    return services
