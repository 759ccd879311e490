"""A channel kind: everything one kind of destination brings, in one value.

Why one value per kind: a channel (Slack, email, Teams, webhooks, the
console, and the next one) used to be spread over the config model, the
destination value, the composition root and the metrics. A
:class:`ChannelKind` names its parts instead:

* ``kind``: the name of its destinations (``teams:…`` in the outbox) and of
  its key in ``[[watch]]`` and ``[[search]]`` (``teams = [...]``);
* ``key``: how that key's values become destinations
  (:class:`~watcher.config.destinations.ChannelKey`; None for the console,
  which is where alerts go when a table names no destination);
* ``section``: the Config attribute that holds its settings (``[teams]``), if any;
* ``notifier``: builds its :class:`~watcher.alerts.notifier.Notifier` from the
  Config and the shared :class:`ChannelDeps`, or None when the config does not
  enable it (alerts queued for it then fail as "no longer configured").

Each kind lives next to its notifier (``watcher/alerts/teams.py`` …,
``watcher/slack/notifier.py``); the list of kinds a process knows is
:data:`watcher.channels.CHANNELS`, and a :class:`Channels` is what the
composition root, the config loader and ``/metrics`` read. The test double of
each kind is listed next to the tests (``tests/alerts/channel_doubles.py``),
and a test fails when a registered kind has none.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

from watcher.alerts.notifier import Notifier
from watcher.config import Config
from watcher.config.destinations import ChannelKey, DestinationKeys
from watcher.config.tables import SearchConfig, WatchConfig
from watcher.core.destination import KIND_RE, Destination
from watcher.redact import redact
from watcher.timeutil import Clock, utc_now


@dataclass(frozen=True)
class ChannelDeps:
    """What every notifier factory may use besides the Config (tests inject their own)."""

    out: TextIO
    """Where the console writes (the CLI's stdout)."""
    clock: Clock = utc_now
    sleep: Callable[[float], None] = time.sleep
    mask: Callable[[str], str] = redact
    """Hides the config's secrets in error messages."""
    slack_retry_interval: float = 1.0


NotifierFactory = Callable[[Config, ChannelDeps], Notifier | None]


@dataclass(frozen=True)
class ChannelKind:
    """One kind of destination: its name, config key, settings section and notifier."""

    kind: str
    notifier: NotifierFactory
    key: ChannelKey | None = None
    section: str | None = None


@dataclass(frozen=True)
class Channels:
    """The channel kinds one process knows, in the order their notifiers are built."""

    kinds: tuple[ChannelKind, ...] = field(default=())

    def __post_init__(self) -> None:
        """Refuse a kind that could never work: named twice, a name the outbox cannot
        store, or a ``[[watch]]`` key the tables already use for something else."""
        names = [k.kind for k in self.kinds]
        if len(set(names)) != len(names):
            raise ValueError(f"a channel kind is registered twice: {names}")
        taken = (WatchConfig.model_fields.keys() | SearchConfig.model_fields.keys()) - set(
            DestinationKeys.channel_keys()
        )
        for name in names:
            if not KIND_RE.match(name) or name in taken:
                raise ValueError(f"{name!r} cannot name a channel kind (taken, or not [a-z0-9_])")

    def __iter__(self) -> Iterator[ChannelKind]:
        return iter(self.kinds)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(k.kind for k in self.kinds)

    def with_kind(self, kind: ChannelKind) -> Channels:
        """These kinds and one more (a test's, a plugin's)."""
        return Channels((*self.kinds, kind))

    def config_keys(self) -> dict[str, ChannelKey]:
        """Each kind's destination key, for the config loader's validation context."""
        return {k.kind: k.key for k in self.kinds if k.key is not None}

    def notifiers(self, config: Config, deps: ChannelDeps) -> dict[str, Notifier]:
        """The notifier of every kind the config enables, by kind."""
        built = {k.kind: k.notifier(config, deps) for k in self.kinds}
        return {kind: notifier for kind, notifier in built.items() if notifier is not None}


def urls_of(config: Config, kind: str) -> dict[Destination, str]:
    """The secret URLs the config names for ``kind``'s destinations, by reference: what a
    notifier of URL destinations resolves them with."""
    return {d: url for d, url in config.destination_urls().items() if d.kind == kind}
