"""``/ctwatch watch <registry search URL>``: a channel follows a search (transport-independent).

Why this way: a channel member pastes the URL of a search they ran on
ClinicalTrials.gov. The URL is translated and checked at once (a mistake is
named, nothing stored); the registry is asked for the search's count - the
slow part, answered later - and a search over ``max_trials`` is refused, never
truncated. The subscription lives in the database like a trial subscription;
a channel joining a search that exists already (same query: a config search,
or another channel's) shares it - one membership, one set of queries - and a
new one gets a readable name (``rectal-cancer-pd-1``) that ``unwatch`` takes,
as it takes the URL. Everything from the user or the registry is escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from watcher.alerts.routing import same_channel
from watcher.alerts.search_routes import slack_names
from watcher.config import DEFAULT_MAX_TRIALS, Config, SearchConfig
from watcher.core.search_url import (
    SearchQuery,
    SearchQueryError,
    from_url,
    looks_like_url,
    suggested_name,
)
from watcher.core.text import truncate
from watcher.registry.errors import RegistryError
from watcher.registry.searches import Preview
from watcher.slack.blocks import escape
from watcher.store import SearchSubscription, Store
from watcher.timeutil import Clock, iso, utc_now

if TYPE_CHECKING:  # commands.py hands its requests here and imports this module
    from watcher.slack.commands import CommandRequest

SearchPreviewer = Callable[[SearchQuery], Preview]
"""Asks the registry for a search's count and first matches (one request)."""
EXAMPLES = 3
_NCT_LIKE = re.compile(r"^nct", re.IGNORECASE)
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")


def slack_url(text: str) -> str:
    """The URL a user pasted: Slack sends a link as ``<https://…>`` (or ``<…|label>``) and
    writes ``&``, ``<``, ``>`` as entities. Only those three are undone."""
    value = text.strip()
    if value.startswith("<") and value.endswith(">"):
        value = value[1:-1].split("|", 1)[0]
    return value.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def about_a_search(verb: str, rest: str) -> bool:
    """Whether ``watch``/``unwatch`` names a search (a URL, or for ``unwatch`` one name)."""
    target = slack_url(rest)
    if looks_like_url(target):
        return True
    words = rest.split()
    return verb == "unwatch" and len(words) == 1 and not _NCT_LIKE.match(words[0])


@dataclass(frozen=True)
class SearchCommands:
    """``watch``, ``unwatch`` and ``list`` for searches in one channel."""

    config: Config
    store: Store
    preview: SearchPreviewer | None
    clock: Clock = utc_now
    command: str = "/ctwatch"
    """The slash command's name, for the replies' examples."""

    def watch(self, request: CommandRequest, text: str) -> tuple[str, Callable[[], str] | None]:
        """The immediate reply, and the slow part (the registry's count) to run later."""
        url = slack_url(text)
        try:
            query = from_url(url)
        except SearchQueryError as exc:
            problems = "\n".join(f"• {escape(truncate(p, 300))}" for p in exc.problems)
            return f"That search URL cannot be followed; nothing was changed:\n{problems}", None
        if self.preview is None:
            return "Searches cannot be checked from here just now; try again later.", None
        later = partial(self._subscribe, request, url, query)
        return "Checking that search in the registry…", later

    def _subscribe(self, request: CommandRequest, url: str, query: SearchQuery) -> str:
        assert self.preview is not None
        try:
            preview = self.preview(query)
        except RegistryError as exc:
            reason = escape(truncate(str(exc), 200))
            return f"The registry could not be read ({reason}); nothing was subscribed. Try again."
        total = preview.total
        if total is None or total > DEFAULT_MAX_TRIALS:
            counted = "an unknown number of" if total is None else f"{total:,}"
            return (
                f"That search matches {counted} trials, more than ctwatch follows for one "
                f"search ({DEFAULT_MAX_TRIALS:,}). Narrow it (a status, a phase, a country) "
                "and try again; nothing was subscribed."
            )
        name, config_search = self._name_for(query)
        if config_search is not None and _posts_here(config_search, request):
            return (
                f"The config file's search “{escape(name)}” already posts here; "
                "nothing was changed."
            )
        sub = SearchSubscription(
            request.channel_id, name, url, query.fingerprint, request.channel_name or None,
            request.team_id or None, request.user_id or None, iso(self.clock()),
        )  # fmt: skip
        if not self.store.search_subscriptions.add(sub):
            return f"This channel already watches the search *{escape(name)}*."
        examples = ", ".join(
            f"{r.nct_id} ({escape(truncate(r.title, 60))})" for r in preview.rows[:EXAMPLES]
        )
        shown = f" e.g. {examples}." if examples else ""
        return (
            f"This channel now watches the search *{escape(name)}* "
            f"(`{escape(query.describe(300))}`): {total:,} "
            f"{'trial matches' if total == 1 else 'trials match'} today "
            f"(the registry's count).{shown}\n_The next check records today's matches "
            "silently; from then on this channel hears about every new trial and every trial "
            f"that starts or stops matching. `{escape(self.command)} unwatch {escape(name)}` "
            "stops it._"
        )

    def unwatch(self, request: CommandRequest, text: str) -> str:
        """Remove this channel's subscription to a search named by its name or URL."""
        channel_id = request.channel_id
        target = slack_url(text)
        subs = self.store.search_subscriptions.list(channel_id)
        configured = [s for s in self.config.search if _posts_here(s, request)]
        if looks_like_url(target):
            try:
                fingerprint = from_url(target).fingerprint
            except SearchQueryError as exc:
                return f"That is not a search ctwatch can read: {escape(truncate(str(exc), 300))}"
            mine = [s for s in subs if s.query == fingerprint]
            config = [s for s in configured if s.query.fingerprint == fingerprint]
        else:
            mine = [s for s in subs if s.name == target]
            config = [s for s in configured if s.name == target]
        for sub in mine:
            self.store.search_subscriptions.remove(channel_id, sub.name)
        shown = escape(truncate(mine[0].name if mine else target, 80))
        if config:
            done = "Slack subscription removed, but " if mine else ""
            return (
                f"• Search *{escape(config[0].name)}*: {done}the config file posts it here; Slack "
                "cannot remove that. Ask whoever runs ctwatch to change the config file."
            )
        if mine:
            return f"• Search *{shown}*: unwatched; this channel gets no more of its alerts."
        return f"• This channel was not watching the search *{shown}*."

    def lines(self, request: CommandRequest) -> list[str]:
        """This channel's searches for ``list``: config file first, then Slack."""
        entries = {s.name: "config file" for s in self.config.search if _posts_here(s, request)}
        for sub in self.store.search_subscriptions.list(request.channel_id):
            user = sub.user_id or ""
            by = f"<@{user}>" if _USER_ID_RE.match(user) else "someone"
            entries.setdefault(sub.name, f"Slack (by {by}, {sub.created_at[:10]})")
        states = self.store.searches.states(list(entries))
        lines = []
        for name, source in entries.items():
            state = states.get(name)
            if state is None or state.last_check_at is None:
                what = "not checked yet"
            elif state.over_count is not None:
                what = f"over its limit: {state.over_count:,} trials match"
            else:
                what = (
                    f"{state.members:,} {'trial matches' if state.members == 1 else 'trials match'}"
                )
            lines.append(f"• search *{escape(name)}* — {what} — {source}")
        return lines

    def _name_for(self, query: SearchQuery) -> tuple[str, SearchConfig | None]:
        """The name of the search with this query (config first), or a new free name."""
        fingerprint = query.fingerprint
        for search in self.config.search:
            if search.query.fingerprint == fingerprint:
                return search.name, search
        subs = self.store.search_subscriptions.list()
        renamed = slack_names(self.config, subs, self.store.searches.names())
        for sub in subs:
            if sub.query == fingerprint:
                return renamed.get((sub.name, sub.query), sub.name), None
        taken = [w.name for w in self.config.watch] + [s.name for s in self.config.search]
        return suggested_name(query, [*taken, *(s.name for s in subs)]), None


def _posts_here(search: SearchConfig, request: CommandRequest) -> bool:
    """Whether a config search names the request's channel among its ``slack`` ones."""
    return any(same_channel(c, request.channel_id, request.channel_name) for c in search.slack)
