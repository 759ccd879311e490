"""Who hears about which trial: destinations and the ``fields`` filters.

Why separate: the same trial can sit in several watches that share a Slack
channel; routing collapses that to one destination (so one message), and merges
their field filters so the message lists every change any of them asked for.
The outbox stores the result, so delivery never needs the config again.

Subscriptions made with ``/ctwatch watch`` join here too. Slack identifies a
channel by ID (``C0123``) while the config file usually names it (``#alerts``);
:func:`same_channel` recognises both, so a channel subscribed both ways is one
destination and gets one message.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from watcher.config import Config
from watcher.config.tables import FileTrials
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.events import Event, EventFilter, Level
from watcher.core.idset import NctIdSet
from watcher.store import OutboxRow, Subscription


@dataclass(frozen=True)
class Route:
    """One watch's interest in one trial."""

    watch: str
    destination: Destination
    field_paths: tuple[str, ...] | None
    events: EventFilter = field(default_factory=EventFilter)
    """Which changes, by their events' level and type (default: every change)."""


def same_channel(entry: str, channel_id: str, channel_name: str | None) -> bool:
    """Whether a config-file channel (``#name``, ``name`` or an ID) is this Slack channel."""
    if entry == channel_id:
        return True
    return bool(channel_name) and entry.removeprefix("#").lower() == str(channel_name).lower()


def channel_destination(
    channel_id: str, channel_name: str | None, known: Iterable[Destination]
) -> Destination:
    """The destination among ``known`` that is this Slack channel (by ID or by name, as
    :func:`same_channel` tells), else the channel by its ID: one channel, one spelling,
    so the outbox merges what reaches it into one message."""
    return next(
        (
            d
            for d in known
            if d.kind == "slack" and same_channel(d.target, channel_id, channel_name)
        ),
        Destination.slack(channel_id),
    )


class OneWatch(Mapping[str, tuple[int, ...]]):
    """``nct_id -> (0,)`` for the trials of the one watch of a config whose list is a
    ``trials_file``: the list itself, in order, and a compact set of its IDs made on the
    first question (:class:`~watcher.core.idset.NctIdSet`), not a dict of every ID - at
    whole-registry size that dict was the largest thing a cycle held after the IDs."""

    def __init__(self, trials: Sequence[str], asked: Iterable[str] = ()) -> None:
        self.trials = trials
        asked = set(asked)
        inside = asked.intersection(trials) if asked else ()  # one pass, only if asked
        self._answers = dict.fromkeys(asked, False) | dict.fromkeys(inside, True)
        """What is known without the set: the few IDs asked about while building the
        routes (Slack subscriptions), answered in one pass over the list."""

    @functools.cached_property
    def _members(self) -> NctIdSet:
        return NctIdSet(self.trials)

    def __getitem__(self, nct_id: str) -> tuple[int, ...]:
        if nct_id not in self:
            raise KeyError(nct_id)
        return _FIRST

    def __contains__(self, nct_id: object) -> bool:
        known = self._answers.get(nct_id) if isinstance(nct_id, str) else None
        return known if known is not None else nct_id in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self.trials)

    def __len__(self) -> int:
        return len(self.trials)


_FIRST = (0,)


class Routes(Mapping[str, tuple[Route, ...]]):
    """``nct_id -> routes``, held per watch rather than per trial.

    Why: a whole-registry watch list is half a million trials, and a route
    list per trial cost half a kilobyte each for what is, per watch, one
    and the same list. Here each watch's routes exist once, each trial maps
    to the (shared) tuple of the watches that name it, and only the few
    trials with Slack subscriptions carry routes of their own. A lookup
    builds the trial's tuple when the pipeline asks for it, one batch at a time.
    """

    def __init__(
        self,
        by_watch: Sequence[tuple[Route, ...]],
        watches_of: Mapping[str, tuple[int, ...]],
        subscribed: dict[str, tuple[Route, ...]],
        only: Sequence[str] | None = None,
    ) -> None:
        self._by_watch = tuple(by_watch)
        self._watches_of = watches_of
        self._subscribed = subscribed
        if isinstance(watches_of, OneWatch):
            only = watches_of.trials
        self._only = None if any(n not in watches_of for n in subscribed) else only
        """The one group's trials, in order, when it is the whole of ``watches_of``."""

    def subscribed(self, subscribed: dict[str, tuple[Route, ...]]) -> Routes:
        """These routes with the trials' own (Slack subscriptions) added."""
        return Routes(self._by_watch, self._watches_of, subscribed, self._only)

    def from_config(self, nct_id: str) -> tuple[Route, ...]:
        """The routes the config watches give a trial (no subscriptions)."""
        watches = self._watches_of.get(nct_id, ())
        if len(watches) == 1:
            return self._by_watch[watches[0]]
        return tuple(r for index in watches for r in self._by_watch[index])

    def __getitem__(self, nct_id: str) -> tuple[Route, ...]:
        if nct_id not in self._watches_of and nct_id not in self._subscribed:
            raise KeyError(nct_id)
        return self.from_config(nct_id) + self._subscribed.get(nct_id, ())

    def __iter__(self) -> Iterator[str]:
        yield from self._watches_of
        yield from (n for n in self._subscribed if n not in self._watches_of)

    def __len__(self) -> int:
        return len(self._watches_of) + sum(1 for n in self._subscribed if n not in self._watches_of)

    def trials(self) -> Sequence[str]:
        """Every routed trial once: the config's in config order, then subscribed ones
        (what :func:`watched_trials` gives, without hashing the watch list again). A
        single watch's own list when nothing else is routed: no copy of it."""
        if self._only is not None and len(self._only) == len(self._watches_of):
            return self._only
        return (*self._watches_of, *(n for n in self._subscribed if n not in self._watches_of))

    def destinations(self) -> list[Destination]:
        """Every destination once (config watches first), without visiting each trial."""
        groups = (
            dict.fromkeys([_FIRST] if self._watches_of else [])
            if isinstance(self._watches_of, OneWatch)
            else dict.fromkeys(self._watches_of.values())  # distinct, first seen first
        )
        config = (r.destination for group in groups for i in group for r in self._by_watch[i])
        subscribed = (r.destination for routes in self._subscribed.values() for r in routes)
        return list(dict.fromkeys([*config, *subscribed]))


@dataclass(frozen=True)
class FollowedSearch:
    """A search with ``follow = true``: its members are watched like a watch's trials."""

    name: str
    destinations: tuple[Destination, ...]
    field_paths: tuple[str, ...] | None
    members: tuple[str, ...]
    events: EventFilter = field(default_factory=EventFilter)


def build_routes(
    config: Config,
    subscriptions: Iterable[Subscription] = (),
    followed: Sequence[FollowedSearch] = (),
) -> Routes:
    """``nct_id -> routes`` for every watched trial: config watches, the members of followed
    searches, and subscriptions.

    A subscription whose channel a config watch already routes the trial to
    reuses that destination, so the outbox merges the two into one alert (with
    every field: the subscription asked for all of them). A followed search is
    one more watch: a trial it shares with a watch gets one alert per destination.
    """
    groups = [(w.name, w.destinations, w.field_paths, w.trials, w.event_filter)
              for w in config.watch]  # fmt: skip
    groups += [
        (f"search {f.name}", f.destinations, f.field_paths, f.members, f.events) for f in followed
    ]
    by_watch = [
        tuple(Route(name, d, paths, wanted) for d in where)
        for name, where, paths, _, wanted in groups
    ]
    if len(groups) == 1 and isinstance(groups[0][3], FileTrials):
        subscriptions = list(subscriptions)
        one = OneWatch(groups[0][3], (s.nct_id for s in subscriptions))
        return _with_subscriptions(Routes(by_watch, one, {}), subscriptions)
    shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # one tuple object per combination
    watches_of: dict[str, tuple[int, ...]] = {}
    for index, (_, _, _, trials, _) in enumerate(groups):
        mine: dict[str, tuple[int, ...]] = dict.fromkeys(trials, (index,))  # C speed
        if not watches_of:  # the first watch's dict is the map itself: no second copy
            watches_of = mine
            continue
        for nct in mine.keys() & watches_of.keys():  # trials an earlier watch also names
            key = (*watches_of[nct], index)
            mine[nct] = shared.setdefault(key, key)
        watches_of.update(mine)  # a trial keeps the place where it first appeared
    only = groups[0][3] if len(groups) == 1 else None
    return _with_subscriptions(Routes(by_watch, watches_of, {}, only), subscriptions)


def _with_subscriptions(routes: Routes, subscriptions: Iterable[Subscription]) -> Routes:
    """``routes`` (the config's) with the routes of Slack subscriptions added."""
    subscribed: dict[str, list[Route]] = {}
    for sub in subscriptions:
        trial_routes = subscribed.setdefault(sub.nct_id, [])
        known = (r.destination for r in (*routes.from_config(sub.nct_id), *trial_routes))
        destination = channel_destination(sub.channel_id, sub.channel_name, known)
        origin = f"slack subscription in {sub.channel_id}"
        wanted = EventFilter(Level.parse(sub.min_level or "info"), sub.events)
        trial_routes.append(Route(origin, destination, None, wanted))
    return routes.subscribed({n: tuple(r) for n, r in subscribed.items()})


def watched_trials(
    config: Config,
    subscriptions: Iterable[Subscription] = (),
    followed: Sequence[FollowedSearch] = (),
) -> tuple[str, ...]:
    """Every trial to check once: the config's, in config order, then the members of
    followed searches, then subscribed ones (the config's own tuple when there are none:
    a whole-registry list is not copied)."""
    subscribed = [s.nct_id for s in subscriptions]
    if not followed and not subscribed:
        return config.trials
    merged = dict.fromkeys(config.trials)
    for search in followed:
        merged.update(dict.fromkeys(search.members))
    merged.update(dict.fromkeys(subscribed))
    return tuple(merged)


@dataclass(frozen=True)
class Follow:
    """One Slack channel following one trial, and where that comes from."""

    channel: str  # as people know it: the config's spelling, else ``#name``, else the ID
    nct_id: str
    watch: str | None = None  # the config watch, for a config follow
    subscription: Subscription | None = None  # the Slack subscription, for a Slack follow

    @property
    def source(self) -> Literal["config", "slack"]:
        return "slack" if self.subscription is not None else "config"

    def describe_source(self) -> str:
        """``config watch “name”`` or ``Slack (by U123, 2026-11-25)``."""
        sub = self.subscription
        if sub is None:
            return f"config watch “{self.watch}”"
        return f"Slack (by {sub.user_id or 'unknown'}, {sub.created_at[:10]})"

    def in_channel(self, channel_id: str, channel_name: str | None) -> bool:
        if self.subscription is not None:
            return self.subscription.channel_id == channel_id
        return same_channel(self.channel, channel_id, channel_name)


def channel_follows(config: Config, subscriptions: Iterable[Subscription]) -> list[Follow]:
    """Every (Slack channel, trial) pair from both sources: config first, then Slack.

    A subscription in a channel the config names is listed under the config's
    spelling, so one channel shows as one channel.
    """
    follows = [
        Follow(channel, nct, watch=watch.name)
        for watch in config.watch
        for channel in watch.slack
        for nct in watch.trials
    ]
    spellings = list(dict.fromkeys(f.channel for f in follows))
    for sub in subscriptions:
        label = next(
            (c for c in spellings if same_channel(c, sub.channel_id, sub.channel_name)),
            f"#{sub.channel_name}" if sub.channel_name else sub.channel_id,
        )
        follows.append(Follow(label, sub.nct_id, subscription=sub))
    return follows


def path_matches(change_schema_path: str, filters: Iterable[str]) -> bool:
    """True when a change lies under a filtered field, or contains one."""
    for wanted in filters:
        if change_schema_path == wanted:
            return True
        if change_schema_path.startswith(wanted + ".") or wanted.startswith(
            change_schema_path + "."
        ):
            return True
    return False


def outbox_rows(
    changes: Sequence[FieldChange], routes: Iterable[Route], events: Sequence[Event] = ()
) -> list[OutboxRow]:
    """One row per destination whose filters pass: its events filter (level, types; a
    change with no event counts as info) and its ``fields`` filter (at least one change).
    A change that passes no destination's filters gets no row: recorded, not sent."""
    by_destination: dict[Destination, set[str] | None] = {}
    for route in routes:
        if not route.events.passes(events):
            continue
        key = route.destination
        if route.field_paths is None:
            selected: set[str] | None = None
        else:
            selected = {c.path for c in changes if path_matches(c.schema_path, route.field_paths)}
        if key in by_destination:
            previous = by_destination[key]
            selected = None if previous is None or selected is None else previous | selected
        by_destination[key] = selected
    rows = []
    for key, selected in by_destination.items():
        if selected is None:
            rows.append(OutboxRow(key, None))
        elif selected:
            ordered = tuple(c.path for c in changes if c.path in selected)
            rows.append(OutboxRow(key, ordered))
    return rows
