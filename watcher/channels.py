"""The channel registry: every kind of destination this ctwatch can send to.

Why here, beside the composition root: the kinds' notifiers live in
``watcher/alerts/`` and ``watcher/slack/``, so only a module above both may
list them; the root (:mod:`watcher.app`), the CLI's config loading and
``/metrics`` read the list from here. A new channel is its own module (a
:class:`~watcher.alerts.channel.ChannelKind` next to its notifier), its tests
and one line below: see ``docs/architecture/adding-a-channel.md``.
"""

from __future__ import annotations

from watcher.alerts.channel import Channels
from watcher.alerts.console import CONSOLE
from watcher.alerts.email import EMAIL
from watcher.alerts.teams import TEAMS
from watcher.alerts.webhook import WEBHOOK
from watcher.slack.notifier import SLACK

CHANNELS = Channels(
    (
        CONSOLE,
        SLACK,
        EMAIL,
        TEAMS,
        WEBHOOK,
    )
)
"""Every channel kind, one line each (the order notifiers are built in)."""
