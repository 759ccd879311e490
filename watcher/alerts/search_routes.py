"""Which searches a cycle checks, where their news goes, and whose members are followed.

Why here, next to :mod:`watcher.alerts.routing`: a search is routed like a
watch. Config searches come first; a Slack channel that typed ``/ctwatch watch
<search URL>`` joins the search of that name and query (one membership, one set
of registry queries, however many channels follow it), and a channel the config
already names is one destination, so it gets one message per event. The
outbox stores the result: delivery never needs the config again.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

from watcher.alerts.routing import FollowedSearch, channel_destination
from watcher.config import DEFAULT_MAX_TRIALS, Config
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.events import EventFilter
from watcher.core.search_card import SearchEvent, event_payload
from watcher.core.search_url import SearchQuery, SearchQueryError, suggested_name
from watcher.store import OutboxRow, SearchSubscription, Store
from watcher.store.searches import MemberEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SearchSpec:
    """One search as a cycle checks it."""

    name: str
    query: SearchQuery
    destinations: tuple[Destination, ...]
    follow: bool = False
    field_paths: tuple[str, ...] | None = None
    max_trials: int = DEFAULT_MAX_TRIALS
    source: Literal["config", "slack"] = "config"
    subscribers: tuple[SearchSubscription, ...] = ()
    """The Slack channels that subscribed to it."""
    events: EventFilter = field(default_factory=EventFilter)
    """Which member changes reach its destinations (``min_level``, ``events``; follow only)."""

    def member_event(
        self, nct_id: str, event: SearchEvent, changes: Sequence[FieldChange] = ()
    ) -> MemberEvent:
        """The event about member ``nct_id`` (as the search returned it, which a merged
        record's card may name otherwise) with one outbox row per destination."""
        payload = event_payload(event, changes)
        kind = event.outbox_kind
        rows = tuple(
            OutboxRow(d, kind=kind, payload=payload, nct_id=nct_id) for d in self.destinations
        )
        return MemberEvent(nct_id, event.kind, payload, rows)


def search_specs(
    config: Config,
    subscriptions: Iterable[SearchSubscription],
    renamed: Mapping[tuple[str, str], str] | None = None,
) -> list[SearchSpec]:
    """The config's searches, then searches that exist only as Slack subscriptions.

    A subscription joins the config search of its name only when it asks the
    same question (the same query): a channel asked for a query, and a config
    search that later takes the name must never swap it. Such a Slack search
    goes by the free name :func:`slack_names` gives it (``renamed``; the check
    stores the new name, see :mod:`watcher.cycle.search_names`). A channel the
    config already names is that destination, in the config's spelling, so a
    trial a watch and a followed search both send there is one message. A
    subscription whose stored query no longer reads (a newer ctwatch wrote it)
    is skipped with a warning.
    """
    specs: dict[str, SearchSpec] = {
        s.name: SearchSpec(
            s.name,
            s.query,
            s.destinations,
            s.follow,
            s.field_paths,
            s.max_trials,
            events=s.event_filter,
        )
        for s in config.search
    }
    subs = list(subscriptions)
    names = slack_names(config, subs) if renamed is None else renamed
    spelled = config_channels(config)
    for sub in subs:
        name = names.get((sub.name, sub.query), sub.name)
        spec = specs.get(name)
        if spec is None:
            try:
                query = SearchQuery.from_fingerprint(sub.query)
            except (SearchQueryError, ValueError) as exc:
                log.warning("Slack search %r in %s skipped: %s", sub.name, sub.channel_id, exc)
                continue
            spec = SearchSpec(name, query, (), source="slack")
        here = channel_destination(sub.channel_id, sub.channel_name, spec.destinations + spelled)
        added = () if here in spec.destinations else (here,)
        specs[name] = replace(
            spec, destinations=(*spec.destinations, *added), subscribers=(*spec.subscribers, sub)
        )
    return list(specs.values())


def slack_names(
    config: Config, subscriptions: Iterable[SearchSubscription], stored: Iterable[str] = ()
) -> dict[tuple[str, str], str]:
    """``(name, query) -> new name`` for the Slack searches whose name a config search
    with another query has taken: a free name made from the query (``-2`` if taken),
    never a watch's, a config search's, another subscription's or a stored search's."""
    subs = list(subscriptions)
    configured = {s.name: s.query.fingerprint for s in config.search}
    taken = {*(w.name for w in config.watch), *configured, *(s.name for s in subs), *stored}
    out: dict[tuple[str, str], str] = {}
    for sub in subs:
        key = (sub.name, sub.query)
        if configured.get(sub.name, sub.query) == sub.query or key in out:
            continue
        try:
            query = SearchQuery.from_fingerprint(sub.query)
        except (SearchQueryError, ValueError):
            continue  # skipped with a warning by search_specs
        out[key] = suggested_name(query, taken)
        taken.add(out[key])
    return out


def config_channels(config: Config) -> tuple[Destination, ...]:
    """Every Slack channel the config names (watches, then searches), as it spells it."""
    tables = (*config.watch, *config.search)
    found = (d for table in tables for d in table.destinations if d.kind == "slack")
    return tuple(dict.fromkeys(found))


def followed_searches(
    specs: Sequence[SearchSpec], members: Mapping[str, Mapping[str, str]]
) -> list[FollowedSearch]:
    """The searches with ``follow = true``, with their current members (for routing)."""
    return [
        FollowedSearch(
            s.name, s.destinations, s.field_paths, tuple(members.get(s.name, {})), s.events
        )
        for s in specs
        if s.follow
    ]


def current_searches(config: Config, store: Store) -> list[SearchSpec]:
    """The searches to keep up to date now: the config's and (with ``[slack]``, which
    delivers them) the channels' - read from the store each time, since ``/ctwatch``
    adds them from another thread or process."""
    subscriptions = store.search_subscriptions.list() if config.slack is not None else []
    renamed = slack_names(config, subscriptions, store.searches.names())
    return search_specs(config, subscriptions, renamed)


def followed_now(store: Store, specs: Sequence[SearchSpec]) -> list[FollowedSearch]:
    """The followed searches among ``specs``, with their members as stored."""
    names = [s.name for s in specs if s.follow]
    return followed_searches(specs, store.searches.members(names)) if names else []
