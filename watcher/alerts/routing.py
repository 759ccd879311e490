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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from watcher.config import Config
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.store import OutboxRow, Subscription


@dataclass(frozen=True)
class Route:
    """One watch's interest in one trial."""

    watch: str
    destination: Destination
    field_paths: tuple[str, ...] | None


def same_channel(entry: str, channel_id: str, channel_name: str | None) -> bool:
    """Whether a config-file channel (``#name``, ``name`` or an ID) is this Slack channel."""
    if entry == channel_id:
        return True
    return bool(channel_name) and entry.removeprefix("#").lower() == str(channel_name).lower()


def build_routes(
    config: Config, subscriptions: Iterable[Subscription] = ()
) -> dict[str, list[Route]]:
    """``nct_id -> routes`` for every watched trial, config watches and subscriptions.

    A subscription whose channel a config watch already routes the trial to
    reuses that destination, so the outbox merges the two into one alert (with
    every field: the subscription asked for all of them).
    """
    routes: dict[str, list[Route]] = {}
    for watch in config.watch:
        for destination in watch.destinations:
            for nct in watch.trials:
                routes.setdefault(nct, []).append(Route(watch.name, destination, watch.field_paths))
    for sub in subscriptions:
        trial_routes = routes.setdefault(sub.nct_id, [])
        destination = next(
            (
                r.destination
                for r in trial_routes
                if r.destination.kind == "slack"
                and same_channel(r.destination.target, sub.channel_id, sub.channel_name)
            ),
            Destination.slack(sub.channel_id),
        )
        origin = f"slack subscription in {sub.channel_id}"
        trial_routes.append(Route(origin, destination, None))
    return routes


def watched_trials(config: Config, subscriptions: Iterable[Subscription] = ()) -> tuple[str, ...]:
    """Every trial to check once: the config's, in config order, then subscribed ones."""
    return tuple(dict.fromkeys([*config.trials, *(s.nct_id for s in subscriptions)]))


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


def outbox_rows(changes: Sequence[FieldChange], routes: Iterable[Route]) -> list[OutboxRow]:
    """One row per destination whose filters match at least one change."""
    by_destination: dict[Destination, set[str] | None] = {}
    for route in routes:
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
