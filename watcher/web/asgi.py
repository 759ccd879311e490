"""The ASGI app (Starlette): one process answers Slack, feed readers and Prometheus.

Routes:

* ``POST /slack/commands`` and ``POST /slack/interactions`` - Slack's HTTP
  mode. The body is read within :mod:`watcher.web.limits` (before the request
  counts against the request cap), then handed to the
  Bolt app (:mod:`watcher.slack.bolt_app`), which verifies the signature
  on the raw bytes before anything parses them; Bolt's dispatch waits for the listener's ``ack()``,
  so it runs on a worker thread, never on the event loop.
* ``GET /feeds/all.atom``, ``/feeds/watch/<name>.atom``,
  ``/feeds/slack/<channel>.atom`` - only when ``[server] feed_token`` is set
  (a name is percent-encoded in the URL; a slash in it may stay a slash)
  (else 404), and only with ``?token=`` equal to it, compared in constant time.
* ``GET /metrics`` - Prometheus text format, read from the database per scrape.
* ``GET /healthz`` - what ``ctwatch health`` says: 200 or 503, with the
  reason, as JSON.
* ``GET /``, ``/trials/…``, ``/changes``, ``/searches/…`` (and ``/login``,
  ``/ui/static/…``) - the read-only web UI (:mod:`watcher.web.ui`), behind
  ``[server] ui_token`` when one is set or the address is not loopback.

Every handler reads the *current* config (the daemon's, after reloads) and
uses the :class:`StorePool`'s connections. Nothing here logs a request line:
feed tokens travel in query strings.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from slack_bolt import BoltResponse
from slack_bolt.adapter.starlette.handler import to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from watcher.alerts.routing import watched_trials
from watcher.alerts.search_routes import current_searches, followed_now
from watcher.config import Config, serving
from watcher.daemon.health import service_health
from watcher.store import Store, StoreError, Subscription
from watcher.store.pool import UI, StorePool
from watcher.store.service_state import SOCKET_MODE
from watcher.timeutil import Clock, iso, utc_now
from watcher.web import feeds
from watcher.web.atom import CONTENT_TYPE as ATOM
from watcher.web.limits import DEFAULT_LIMITS, Limits, body_slot
from watcher.web.metrics import Reading, registry
from watcher.web.ui.routes import UIContext, ui_routes

log = logging.getLogger(__name__)

COMMANDS_PATH = "/slack/commands"
INTERACTIONS_PATH = "/slack/interactions"

Dispatch = Callable[[bytes, dict[str, str]], BoltResponse]
"""One Slack HTTP request (raw body, headers) to its answer: verified before parsed."""


@dataclass(frozen=True)
class WebContext:
    """What the routes need; the composition root builds it."""

    current: Callable[[], Config]
    pool: StorePool
    slack: Dispatch | None = None
    limits: Limits = DEFAULT_LIMITS
    clock: Clock = utc_now
    kinds: tuple[str, ...] = ()
    """The channel registry's kinds (``/metrics`` reports each, 0 when it has no alerts)."""
    bound: str | None = None
    """The ``listen`` address the server binds at start (a reload never rebinds it): the
    UI's token rule follows it, not a reloaded config's ``listen``."""

    def store(self, config: Config) -> Store:
        return self.pool.get(config.database, config.secrets())

    def ui_store(self, config: Config) -> Store:
        """The UI's own connection (its reads time-limited): a slow page never holds the
        lock a Slack handler needs."""
        return self.pool.get(
            config.database,
            config.secrets(),
            purpose=UI,
            read_seconds=self.limits.ui_query_seconds,
        )


def build_app(context: WebContext) -> Starlette:
    """The Starlette app with every route."""
    web = _Routes(context)
    metrics = registry(web.reading)
    ui = UIContext(context.current, context.ui_store, context.clock, context.bound, context.limits)
    return Starlette(
        exception_handlers={StoreError: _database_unavailable},
        routes=[
            Route(COMMANDS_PATH, web.slack, methods=["POST"]),
            Route(INTERACTIONS_PATH, web.slack, methods=["POST"]),
            Route("/feeds/all.atom", web.feed_all, methods=["GET"]),
            # ``path``: every name the config accepts is addressable - a slash in a name
            # arrives as itself or percent-encoded (%2F), both decoded to the same path
            Route("/feeds/{kind}/{name:path}.atom", web.feed, methods=["GET"]),
            Route("/metrics", lambda request: _metrics(metrics), methods=["GET"]),
            Route("/healthz", web.healthz, methods=["GET"]),
            *ui_routes(ui),
        ],
    )


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    """A busy or broken database is 503 and one log line, not a traceback (the answer does
    not name the file: anyone who reaches the port may read it)."""
    log.warning("%s %s: %s", request.method, request.url.path, exc)
    return PlainTextResponse("database unavailable; try again later", 503)


def _metrics(metrics: CollectorRegistry) -> Response:
    return Response(generate_latest(metrics), media_type=CONTENT_TYPE_LATEST)


class _Routes:
    def __init__(self, context: WebContext) -> None:
        self._context = context

    async def slack(self, request: Request) -> Response:
        async with body_slot(request, self._context.limits) as body:
            if isinstance(body, Response):
                return body
            dispatch = self._context.slack
            if dispatch is None or not serving(self._context.current()).slack_http:
                return PlainTextResponse("slash commands are not configured", 503)
            answer = await run_in_threadpool(dispatch, body, dict(request.headers))
            return to_starlette_response(answer)

    def feed_all(self, request: Request) -> Response:
        return self._feed(request, "all")

    def feed(self, request: Request) -> Response:
        kind, name = request.path_params["kind"], request.path_params["name"]
        return self._feed(request, f"{kind}/{name}")

    def _feed(self, request: Request, name: str) -> Response:
        config = self._context.current()
        token = config.server.feed_token if config.server is not None else None
        if token is None:
            return PlainTextResponse("not found", 404)  # feeds are off
        given = request.query_params.get("token")
        if not given:
            return PlainTextResponse("a feed token is required (?token=…)", 401)
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            return PlainTextResponse("wrong feed token", 403)
        store = self._context.store(config)
        sources = feeds.Sources(
            config, self._subscriptions(config, store), current_searches(config, store)
        )
        scope = feeds.resolve(sources, name)
        if scope is None:
            return PlainTextResponse("no such feed", 404)
        site = config.server.public_url if config.server is not None else None
        return Response(feeds.build(store, scope, self._context.clock(), site), media_type=ATOM)

    def healthz(self, request: Request) -> Response:
        config = self._context.current()
        if not Path(config.database.path).exists():
            reason = "no database yet (no cycle has run)"
            return JSONResponse({"status": "unhealthy", "reason": reason}, 503)
        store = self._context.store(config)
        problem = service_health(config, store, self._context.clock())
        if problem is not None:
            return JSONResponse({"status": "unhealthy", "reason": problem}, 503)
        last = store.runs.last()
        return JSONResponse({"status": "healthy", "last_cycle": last.finished_at if last else None})

    def reading(self) -> Reading:
        config = self._context.current()
        store = self._context.store(config)
        now = self._context.clock()
        socket_mode = serving(config).socket_mode
        searches = current_searches(config, store)
        followed = followed_now(store, searches)
        states = store.searches.states([s.name for s in searches])
        watched = watched_trials(config, self._subscriptions(config, store), followed)
        return Reading(
            totals=store.stats.totals(iso(now)),
            trials_watched=len(watched),
            searches={s.name: states.get(s.name) for s in searches},
            now=now,
            socket_mode=store.service_state.get(SOCKET_MODE) if socket_mode else None,
            socket_mode_configured=socket_mode,
            backfill_queued=store.histories.queued(),
            kinds=self._context.kinds,
        )

    @staticmethod
    def _subscriptions(config: Config, store: Store) -> list[Subscription]:
        """Slack subscriptions count only where they are delivered (with ``[slack]``)."""
        return store.subscriptions.list() if config.slack is not None else []
