"""Slack searches whose name a config search took: renamed, never taken over.

Why: a channel that typed ``/ctwatch watch <URL>`` asked for that query. Its
search is named when it subscribes (a name free then), so when the config file
later gains a ``[[search]]`` of that name with another query, the two are
different searches that happen to share a name. The config keeps its name (the
person who wrote it chose it); the channel's search takes a free one
(:func:`~watcher.alerts.search_routes.slack_names`) with everything it has -
members, watermark, events - so no event is lost or told twice, and its
channels are told the new name once (it is what ``unwatch`` takes). Done at
the start of a check, under the process lock, before the searches are read.
"""

from __future__ import annotations

import logging

from watcher.alerts.search_routes import slack_names
from watcher.config import Config
from watcher.core.destination import Destination
from watcher.core.search_url import SearchQuery
from watcher.core.text import counted
from watcher.cycle import notices
from watcher.store import Store

log = logging.getLogger(__name__)


def rename_taken(config: Config, store: Store, now: str) -> dict[str, str]:
    """Rename the Slack searches whose name a config search of another query has taken
    (see the module doc); ``{old: new}`` of those renamed now."""
    if config.slack is None:  # their channels cannot be reached: leave them as they are
        return {}
    subs = store.search_subscriptions.list()
    done: dict[str, str] = {}
    for (old, query), new in slack_names(config, subs, store.searches.names()).items():
        channels = [
            Destination.slack(s.channel_id) for s in subs if (s.name, s.query) == (old, query)
        ]
        shown = SearchQuery.from_fingerprint(query).describe(200)
        rows = notices.search_renamed(channels, old, new, shown)
        if store.search_subscriptions.rename(old, query, new, rows, now):
            log.warning(
                "Slack search “%s” is now called “%s”: the config's [[search]] “%s” asks "
                "another question (%s told)", old, new, old, counted(len(channels), "channel"),
            )  # fmt: skip
            done[old] = new
    return done
