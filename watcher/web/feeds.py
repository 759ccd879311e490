"""Atom feeds of the changes ctwatch recorded: per watch, per Slack channel, and all.

Which changes a feed carries (a decision): every recorded change of the
feed's trials, filtered by the fields its watch asks for - read from the
versions and their changes, not from the outbox. So a feed is a destination
of its own: it does not depend on whether the watch also has Slack or email,
on a delivery that failed, on a mute set in a channel, or on another watch
that shares the channel and widens its message. Notices (checks failing, a
trial gone) are not field changes and stay with the destinations.

One entry per version and feed: its id is a UUID derived from the trial, the
version's content hash and time, and the feed, so it is the same on every
request and never the same for two feeds. Newest first, at most 100.

Feeds are named ``all``, ``watch/<name>`` and ``slack/<channel>`` (a channel
ID or name); searches (issue 10) plug in as one more entry in
:data:`RESOLVERS`.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from watcher.alerts.routing import channel_follows, path_matches, same_channel
from watcher.config import Config
from watcher.core.diff import FieldChange
from watcher.core.render import Alert, change_lines
from watcher.store import ChangedVersion, Store, Subscription
from watcher.timeutil import iso
from watcher.web.atom import AtomEntry, AtomFeed, html_fragment, render

MAX_ENTRIES = 100
PAGE = 200

Fields = tuple[str, ...] | None
"""The field paths a feed lists for a trial (None: every field)."""


@dataclass(frozen=True)
class FeedScope:
    """What one feed covers: ``trials`` maps NCT ID -> fields (None: every trial, all)."""

    key: str
    title: str
    trials: Mapping[str, Fields] | None


def _watch(config: Config, subs: Sequence[Subscription], name: str) -> FeedScope | None:
    watch = next((w for w in config.watch if w.name == name), None)
    if watch is None:
        return None
    trials = dict.fromkeys(watch.trials, watch.field_paths)
    return FeedScope(f"watch/{name}", f"ctwatch · watch “{name}”", trials)


def _channel(config: Config, subs: Sequence[Subscription], name: str) -> FeedScope | None:
    """A Slack channel by ID or name: the trials it follows and the fields it gets."""
    fields_of = {w.name: w.field_paths for w in config.watch}
    trials: dict[str, Fields] = {}
    label = None
    for follow in channel_follows(config, subs):
        sub = follow.subscription
        if sub is not None:
            here = sub.channel_id == name or (sub.channel_name or "").lower() == name.lower()
        else:
            here = same_channel(follow.channel, name, name.removeprefix("#"))
        if not here:
            continue
        label = label or follow.channel
        wanted = fields_of.get(follow.watch or "") if sub is None else None
        trials[follow.nct_id] = _merge(trials, follow.nct_id, wanted)
    if label is None:
        return None
    return FeedScope(f"slack/{name}", f"ctwatch · Slack {label}", trials)


def _merge(trials: Mapping[str, Fields], nct: str, wanted: Fields) -> Fields:
    """Two interests in one trial: every field if either wants all, else both lists."""
    if nct not in trials:
        return wanted
    previous = trials[nct]
    if previous is None or wanted is None:
        return None
    return tuple(dict.fromkeys([*previous, *wanted]))


Resolver = Callable[[Config, Sequence[Subscription], str], FeedScope | None]
RESOLVERS: dict[str, Resolver] = {"watch": _watch, "slack": _channel}
"""Feed kinds besides ``all``; a search feed (issue 10) is one more resolver here."""


def resolve(config: Config, subs: Sequence[Subscription], name: str) -> FeedScope | None:
    """``all``, ``watch/NAME`` or ``slack/CHANNEL`` (a bare NAME is a watch), or None."""
    if name == "all":
        return FeedScope("all", "ctwatch · every change", None)
    kind, sep, rest = name.partition("/")
    if not sep:
        kind, rest = "watch", name
    resolver = RESOLVERS.get(kind)
    return resolver(config, subs, rest) if resolver is not None and rest else None


def feed_names(config: Config) -> list[str]:
    """Examples for an error message: ``all`` and every watch's feed."""
    return ["all", *(f"watch/{w.name}" for w in config.watch)]


def build(store: Store, scope: FeedScope, now: datetime) -> bytes:
    """The Atom document of ``scope``'s newest changes.

    The feed's id is derived from the database file and the feed's name: the
    same feed of the same installation keeps it.
    """
    entries = [_entry(version, changes, scope) for version, changes in _recent(store, scope)]
    updated = entries[0].updated if entries else iso(now)
    feed_id = _uuid(f"{store.path}/{scope.key}")
    return render(AtomFeed(feed_id, scope.title, updated, entries))


def _recent(store: Store, scope: FeedScope) -> list[tuple[ChangedVersion, tuple[FieldChange, ...]]]:
    """Up to MAX_ENTRIES changed versions whose changes the scope wants, newest first."""
    trials = None if scope.trials is None else list(scope.trials)
    out: list[tuple[ChangedVersion, tuple[FieldChange, ...]]] = []
    before: int | None = None
    while len(out) < MAX_ENTRIES:
        versions = store.recent.changed_versions(trials, before, PAGE)
        if not versions:
            break
        before = versions[-1].id
        changes = store.versions.changes_of([v.id for v in versions])
        for version in versions:
            wanted = None if scope.trials is None else scope.trials.get(version.nct_id)
            kept = tuple(
                c
                for c in changes.get(version.id, ())
                if wanted is None or path_matches(c.schema_path, wanted)
            )
            if kept:
                out.append((version, kept))
    return out[:MAX_ENTRIES]


def _uuid(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'ctwatch:' + key)}"


def _entry(
    version: ChangedVersion, changes: tuple[FieldChange, ...], scope: FeedScope
) -> AtomEntry:
    alert = Alert(version.nct_id, version.title or "", changes, version.last_update_posted)
    lines = [line.text() for line in change_lines(changes)]
    key = f"{version.nct_id}/{version.content_hash}/{version.fetched_at}/{scope.key}"
    return AtomEntry(
        id=_uuid(key),
        title=f"{alert.nct_id} · {alert.headline}",
        updated=version.fetched_at,
        link=alert.history_url,
        summary="\n".join([alert.title or alert.nct_id, *lines, alert.history_url]),
        html=_html(alert),
    )


def _html(alert: Alert) -> str:
    """The entry as HTML: title, one item per change, date and history link."""
    root = ET.Element("div")
    title = ET.SubElement(ET.SubElement(root, "p"), "a", href=alert.study_url)
    title.text = alert.title or alert.nct_id
    items = ET.SubElement(root, "ul")
    for line in change_lines(alert.changes):
        item = ET.SubElement(items, "li")
        label = ET.SubElement(item, "b")
        label.text = f"{line.label}:"
        label.tail = " " + line.text().removeprefix(f"{line.label}:").strip()
    footer = ET.SubElement(root, "p")
    footer.text = f"Last update posted {alert.last_update_posted or '—'} · "
    link = ET.SubElement(footer, "a", href=alert.history_url)
    link.text = "View history on ClinicalTrials.gov"
    return html_fragment(root)
