"""The web UI's routes: dashboard, trial story, compare, change log, search members.

Why server-rendered: a page reads without JavaScript, prints, works air-gapped
(every asset ships in the package) and can be tested by what the server
sends. Every route is a plain ``def``: Starlette runs it on a worker thread,
so reading SQLite never stalls the event loop that answers Slack. Reads go
through the :class:`~watcher.store.pool.StorePool`'s connection (WAL: a
running cycle neither blocks nor is blocked by a page), and only through
:mod:`watcher.store.timeline` and other readers; nothing here writes.

Every answer carries a Content-Security-Policy that allows no script at all
and styles only from ``/ui/static/``; Jinja2 autoescapes every value, so a
hostile title or why-stopped text is shown, never run.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Route

from watcher.alerts.routing import watched_trials
from watcher.alerts.search_routes import current_searches, followed_now
from watcher.config import Config, normalise_nct_id
from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.render import HISTORY_URL, STUDY_URL, compare_url
from watcher.core.search_card import TrialCard
from watcher.core.timeline import results_due
from watcher.store import QueryTooSlow, Store
from watcher.store.timeline import LEVELS, ChangeQuery, StoryVersion
from watcher.timeutil import Clock
from watcher.web.limits import DEFAULT_LIMITS, Limits, body_slot
from watcher.web.ui import auth, charts, exports
from watcher.web.ui.params import BadParameter, ChangesParams, parse_changes, version_name

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}
PAGE = 50
EXPORT_PAGE = 200
LATEST = 20
MAX_LOGIN_BODY = 4096
NO_DATABASE = "no database yet: the UI shows what a cycle has stored (run ctwatch check)\n"
TOO_SLOW = "this query took too long; narrow the filter (a trial, a watch, a date range)"
SHUT = "the web UI needs [server] ui_token when server.listen is not a loopback address; set it\n"


@dataclass(frozen=True)
class UIContext:
    """What the pages read: the current config, its store, the clock; the address the
    server actually bound (its token rule: a reload does not rebind the socket)."""

    current: Callable[[], Config]
    store: Callable[[Config], Store]
    clock: Clock
    bound: str | None = None
    """``[server] listen`` as bound at start (None: decide from the current config)."""
    limits: Limits = DEFAULT_LIMITS


def ui_routes(context: UIContext) -> list[BaseRoute]:
    """The UI's routes, each behind the token rule of :mod:`watcher.web.ui.auth`."""
    pages = _Pages(context)
    guarded = [
        ("/", pages.dashboard),
        ("/trials/{nct}", pages.trial),
        ("/trials/{nct}/compare", pages.compare),
        ("/changes", pages.changes),
        ("/searches/{name:path}", pages.search),
    ]
    routes: list[BaseRoute] = [
        Route(path, _guard(context, pages.bounded(page)), methods=["GET"]) for path, page in guarded
    ]
    routes += [
        Route("/login", _guard(context, pages.login_form, login=True), methods=["GET"]),
        Route("/login", pages.login, methods=["POST"]),
        Route("/ui/static/{name}", _static, methods=["GET"]),
    ]
    return routes


def _secure(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _guard(
    context: UIContext, page: Callable[[Request, Config], Response], *, login: bool = False
) -> Callable[[Request], Response]:
    def guarded(request: Request) -> Response:
        started = time.perf_counter()
        config = context.current()
        if auth.shut(config, context.bound):
            return _secure(PlainTextResponse(SHUT, 403))
        if not login and not auth.authorised(config, request):
            if request.headers.get("authorization"):
                return _secure(PlainTextResponse("wrong UI token\n", 401))
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return _secure(RedirectResponse(f"/login?next={quote(target, safe='')}", 303))
        if not login and not Path(config.database.path).exists():  # never create it here
            return _secure(PlainTextResponse(NO_DATABASE, 503))
        response = _secure(page(request, config))
        elapsed = (time.perf_counter() - started) * 1000
        response.headers["Server-Timing"] = f"page;dur={elapsed:.1f}"  # what bench/ui.py reads
        return response

    return guarded


def _static(request: Request) -> Response:
    name = request.path_params["name"]
    if name != "ui.css":
        return _secure(PlainTextResponse("not found", 404))
    css = resources.files("watcher.web.ui").joinpath("static", "ui.css").read_text("utf-8")
    response = Response(css, media_type="text/css")
    response.headers["Cache-Control"] = "max-age=3600"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def _safe_next(value: str | None) -> str:
    """Only a path on this server: no open redirect. A browser drops tabs and newlines
    from a URL and reads a backslash as ``/``, so ``/<tab>/evil`` is ``//evil``: any
    control character, space or backslash, or a second leading slash, means ``/``."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    if any(ord(c) < 0x21 or c in "\\\x7f" for c in value):
        return "/"
    return value


class _Pages:
    def __init__(self, context: UIContext) -> None:
        self._context = context
        self._templates: Any = None

    # ---- rendering ---------------------------------------------------------------

    def _env(self) -> Any:
        if self._templates is None:
            from jinja2 import Environment, PackageLoader, StrictUndefined  # noqa: PLC0415

            env = Environment(
                loader=PackageLoader("watcher.web.ui", "templates"),
                autoescape=True,
                undefined=StrictUndefined,
                trim_blocks=True,
                lstrip_blocks=True,
            )
            env.globals.update(
                status_words=_status_words,
                study_url=lambda nct: STUDY_URL.format(nct=nct),
                history_url=lambda nct: HISTORY_URL.format(nct=nct),
                levels=LEVELS,
            )
            self._templates = env
        return self._templates

    def _html(self, template: str, status: int = 200, **values: Any) -> Response:
        text = self._env().get_template(template).render(**values)
        return HTMLResponse(text, status)

    def _not_found(self, message: str) -> Response:
        return self._html("error.html", 404, title="Not found", message=message)

    def _bad(self, problem: BadParameter, fmt: str = "html") -> Response:
        if fmt != "html":
            return PlainTextResponse(f"{problem}\n", 400)
        return self._html("error.html", 400, title="Bad request", message=str(problem))

    def _store(self, config: Config) -> Store:
        return self._context.store(config)

    def bounded(
        self, page: Callable[[Request, Config], Response]
    ) -> Callable[[Request, Config], Response]:
        """``page``, answering 503 with advice when one of its reads passes the UI's limit."""

        def answer(request: Request, config: Config) -> Response:
            try:
                return page(request, config)
            except QueryTooSlow as exc:
                log.warning("%s: %s", request.url.path, exc)
                if request.query_params.get("format", "html").strip().lower() in ("csv", "json"):
                    return PlainTextResponse(TOO_SLOW + "\n", 503)
                return self._html("error.html", 503, title="Too slow", message=TOO_SLOW)

        return answer

    def _today(self) -> date:
        return self._context.clock().date()

    # ---- pages ---------------------------------------------------------------------

    def dashboard(self, request: Request, config: Config) -> Response:
        store = self._store(config)
        watches = []
        for watch in config.watch:
            stored, last, failing = store.timeline.watch_health(watch.trials)
            watches.append(
                {"name": watch.name, "trials": len(watch.trials), "stored": stored,
                 "last": last, "failing": failing}
            )  # fmt: skip
        specs = current_searches(config, store)
        states = store.searches.states([s.name for s in specs])
        searches = [
            {"name": s.name, "source": s.source, "state": states.get(s.name)} for s in specs
        ]
        latest = store.timeline.changes(ChangeQuery(limit=LATEST))
        latest.sort(key=lambda c: LEVELS.index(c.level))  # highest level first (stable)
        return self._html(
            "dashboard.html", title="ctwatch", watches=watches, searches=searches,
            latest=latest, last_run=store.runs.last(),
        )  # fmt: skip

    def trial(self, request: Request, config: Config) -> Response:
        raw = request.path_params["nct"]
        try:
            nct = normalise_nct_id(raw)
        except ValueError:
            problem = f"trial: {raw[:40]!r} is not an NCT ID (NCT and 8 digits)"
            return self._bad(BadParameter(problem))
        store = self._store(config)
        story = store.timeline.story(nct)
        if story is None:
            if nct in _watched(config, store):
                return self._not_found(
                    f"{nct} is watched but not yet checked: the next cycle stores its first"
                    " version."
                )
            return self._not_found(f"{nct} is not watched: ctwatch has stored no version of it.")
        today = self._today()
        versions = story.versions
        newest = versions[-1].facts
        due = results_due(newest)
        figures = {
            "status": charts.status_chart(versions, today),
            "enrollment": charts.enrollment_chart(versions, today),
            "dates": charts.dates_chart(versions, today, due),
        }
        return self._html(
            "trial.html", title=f"{nct} · ctwatch", story=story,
            card=TrialCard.of(story.record, nct), facts=newest, due=due, figures=figures,
            versions=list(reversed(versions)), slips=_slips(versions),
        )  # fmt: skip

    def compare(self, request: Request, config: Config) -> Response:
        raw = request.path_params["nct"]
        try:
            nct = normalise_nct_id(raw)
        except ValueError:
            return self._bad(BadParameter(f"trial: {raw[:40]!r} is not an NCT ID"))
        try:
            a = version_name("a", request.query_params.get("a"))
            b = version_name("b", request.query_params.get("b"))
        except BadParameter as problem:
            return self._bad(problem)
        store = self._store(config)
        story = store.timeline.story(nct)
        if story is None:
            return self._not_found(f"{nct} is not watched: ctwatch has stored no version of it.")
        by_name = {v.ref: v for v in story.versions}  # an r-name: its last stored copy
        old, new = by_name.get(a), by_name.get(b)
        entries = (
            store.timeline.compare(nct, old.number, new.number)
            if old is not None and new is not None
            else None
        )
        if old is None or new is None or entries is None:
            names = ", ".join(v.ref for v in story.versions)
            return self._not_found(f"{nct} has versions {names}; {a} or {b} is not one of them.")
        registry = None
        if old.registry_version and new.registry_version:
            pair = sorted((old.registry_version, new.registry_version))
            registry = compare_url(nct, (pair[0], pair[1]))
        return self._html(
            "compare.html", title=f"{nct} {a} → {b} · ctwatch", story=story, a=old, b=new,
            entries=entries, registry=registry, versions=list(reversed(story.versions)),
        )  # fmt: skip

    def changes(self, request: Request, config: Config) -> Response:
        fmt = request.query_params.get("format", "html").strip().lower()
        try:
            params = parse_changes(dict(request.query_params), self._today())
        except BadParameter as problem:
            return self._bad(problem, fmt if fmt in ("csv", "json") else "html")
        if len(request.query_params.getlist("trial")) > 1:
            return self._bad(BadParameter("trial: give one trial"), params.format)
        store = self._store(config)
        try:
            nct_ids = self._scope(config, store, params)
        except BadParameter as problem:
            return self._bad(problem, params.format)
        page = params.limit or (PAGE if params.format == "html" else EXPORT_PAGE)
        query = ChangeQuery(
            nct_ids=nct_ids, level=params.level, type_glob=params.type, since=params.since,
            until=params.until, after=params.after, sets=params.sets, limit=page + 1,
        )  # fmt: skip
        found = store.timeline.changes(query)
        rows, more = found[:page], len(found) > page
        following = None
        if more:
            items = params.query_items(after=rows[-1].cursor)
            if params.format != "html":
                items.append(("format", params.format))
            if params.limit:
                items.append(("limit", str(params.limit)))
            following = "/changes?" + urlencode(items)
        if params.format == "json":
            return _secure(exports.as_json(rows, following))
        if params.format == "csv":
            return _secure(exports.as_csv(rows, following))
        return self._html(
            "changes.html", title="Changes · ctwatch", rows=rows, params=params,
            following=following,
            first=params.after is not None,
            first_url="/changes?" + urlencode(params.query_items()),
            csv_url="/changes?" + urlencode([*params.query_items(), ("format", "csv")]),
            json_url="/changes?" + urlencode([*params.query_items(), ("format", "json")]),
            watches=[w.name for w in config.watch],
            search_names=[s.name for s in current_searches(config, store)],
        )  # fmt: skip

    def _scope(self, config: Config, store: Store, params: ChangesParams) -> set[str] | None:
        """The trials a filter keeps (None: all): trial ∩ watch ∩ search."""
        scope: set[str] | None = None
        if params.trial is not None:
            scope = {params.trial}
        if params.watch is not None:
            watch = next((w for w in config.watch if w.name == params.watch), None)
            if watch is None:
                raise BadParameter(f"watch: no watch is named {params.watch[:40]!r}")
            scope = set(watch.trials) if scope is None else scope & set(watch.trials)
        if params.search is not None:
            names = {s.name for s in current_searches(config, store)} | set(store.searches.names())
            if params.search not in names:
                raise BadParameter(f"search: no search is named {params.search[:40]!r}")
            members = {m.nct_id for m in store.timeline.members(params.search)}
            scope = members if scope is None else scope & members
        return scope

    def search(self, request: Request, config: Config) -> Response:
        name = request.path_params["name"]
        store = self._store(config)
        specs = {s.name: s for s in current_searches(config, store)}
        if name not in specs and name not in store.searches.names():
            return self._not_found(f"no search is named {name[:80]!r}.")
        state = store.searches.states([name]).get(name)
        members = store.timeline.members(name)
        spec = specs.get(name)
        return self._html(
            "search.html", title=f"{name} · ctwatch", name=name, state=state, members=members,
            current=[m for m in members if m.left is None],
            query=spec.query.describe(400) if spec is not None else None,
        )  # fmt: skip

    def login_form(self, request: Request, config: Config) -> Response:
        if auth.required_token(config) is None:
            return RedirectResponse("/", 303)
        return self._html(
            "login.html", title="Log in · ctwatch",
            next=_safe_next(request.query_params.get("next")), wrong=False,
        )  # fmt: skip

    async def login(self, request: Request) -> Response:
        config = self._context.current()
        if auth.shut(config, self._context.bound):
            return _secure(PlainTextResponse(SHUT, 403))
        token = auth.required_token(config)
        if token is None:
            return _secure(RedirectResponse("/", 303))
        # within the body deadline, and counted against the request cap only once read
        limits = replace(self._context.limits, max_body=MAX_LOGIN_BODY)
        async with body_slot(request, limits) as body:
            if isinstance(body, Response):
                return _secure(body)
            return self._logged_in(request, config, token, body)

    def _logged_in(self, request: Request, config: Config, token: str, body: bytes) -> Response:
        form = parse_qs(body.decode("utf-8", "replace"))
        given = (form.get("token") or [""])[0]
        target = _safe_next((form.get("next") or ["/"])[0])
        if not auth.token_matches(config, given):
            page = self._html("login.html", 403, title="Log in · ctwatch", next=target, wrong=True)
            return _secure(page)
        response = RedirectResponse(target, 303)
        secure = request.url.scheme == "https" or (
            config.server is not None and (config.server.public_url or "").startswith("https://")
        )
        response.set_cookie(
            auth.COOKIE, auth.session_value(token), httponly=True, samesite="strict",
            secure=secure, path="/",
        )  # fmt: skip
        return _secure(response)


def _watched(config: Config, store: Store) -> tuple[str, ...]:
    """What the next cycle checks (config, followed searches, Slack subscriptions)."""
    subscriptions = store.subscriptions.list() if config.slack is not None else []
    followed = followed_now(store, current_searches(config, store))
    return watched_trials(config, subscriptions, followed)


def _status_words(status: str | None) -> str:
    return display_value(STATUS_PATH, status) if status else "—"


def _slips(versions: Sequence[StoryVersion]) -> int:
    """How many times the planned primary completion date moved later."""
    known: list[date] = []
    for version in versions:
        planned = version.facts.primary_completion
        day = planned.day if planned is not None else None
        if day is not None:
            known.append(day)
    return sum(1 for before, after in itertools.pairwise(known) if after > before)
