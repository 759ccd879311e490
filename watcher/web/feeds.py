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

Feeds are named ``all``, ``watch/<name>``, ``slack/<channel>`` (a channel
ID or name) and ``search/<name>``: a search's feed carries its news (new,
now-matching and no-longer-matching trials, read from ``search_events``) and,
when it follows its members, their changes - newest first, together.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from watcher.alerts.routing import channel_follows, path_matches, same_channel
from watcher.alerts.search_routes import SearchSpec
from watcher.config import Config
from watcher.config.digest import DigestSchedule
from watcher.core.diff import FieldChange
from watcher.core.digest import Digest, by_trial, digest_text
from watcher.core.events import Event
from watcher.core.render import (
    Alert,
    card_lines,
    change_lines,
    changes_url,
    event_lines,
    search_link,
    search_text,
    trial_heading,
)
from watcher.core.search_card import read_payload
from watcher.store import ChangedVersion, SearchEventRow, Store, Subscription
from watcher.timeutil import iso, parse_iso
from watcher.web.atom import AtomEntry, AtomFeed, html_fragment, render

MAX_ENTRIES = 100
PAGE = 200

Fields = tuple[str, ...] | None
"""The field paths a feed lists for a trial (None: every field)."""


@dataclass(frozen=True)
class FeedScope:
    """What one feed covers: ``trials`` maps NCT ID -> fields (None: every trial, all);
    ``search``, a search whose news it carries (and, if it follows them, its members')."""

    key: str
    title: str
    trials: Mapping[str, Fields] | None
    search: SearchSpec | None = None
    digest: DigestSchedule | None = None
    """A watch with ``digest``: one entry per digest period (complete ones), not per change."""


@dataclass(frozen=True)
class Sources:
    """What feeds are resolved from: the config, Slack subscriptions, the searches."""

    config: Config
    subscriptions: Sequence[Subscription] = ()
    searches: Sequence[SearchSpec] = ()


def _watch(sources: Sources, name: str) -> FeedScope | None:
    config = sources.config
    watch = next((w for w in config.watch if w.name == name), None)
    if watch is None:
        return None
    trials = dict.fromkeys(watch.trials, watch.field_paths)
    digest = watch.timing(config.schedule.timezone).digest
    return FeedScope(f"watch/{name}", f"ctwatch · watch “{name}”", trials, digest=digest)


def _channel(sources: Sources, name: str) -> FeedScope | None:
    """A Slack channel by ID or name: the trials it follows and the fields it gets."""
    config = sources.config
    fields_of = {w.name: w.field_paths for w in config.watch}
    trials: dict[str, Fields] = {}
    label = None
    for follow in channel_follows(config, sources.subscriptions):
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


def _search(sources: Sources, name: str) -> FeedScope | None:
    """A search by name: its news, and its members' changes when it follows them."""
    spec = next((s for s in sources.searches if s.name == name), None)
    if spec is None:
        return None
    return FeedScope(f"search/{name}", f"ctwatch · search “{name}”", {}, spec)


Resolver = Callable[[Sources, str], FeedScope | None]
RESOLVERS: dict[str, Resolver] = {"watch": _watch, "slack": _channel, "search": _search}
"""Feed kinds besides ``all``."""


def resolve(sources: Sources, name: str) -> FeedScope | None:
    """``all``, ``watch/NAME``, ``slack/CHANNEL`` or ``search/NAME`` (a bare NAME is a
    watch), or None."""
    if name == "all":
        return FeedScope("all", "ctwatch · every change", None)
    kind, sep, rest = name.partition("/")
    if not sep:
        kind, rest = "watch", name
    resolver = RESOLVERS.get(kind)
    return resolver(sources, rest) if resolver is not None and rest else None


def feed_names(config: Config) -> list[str]:
    """Examples for an error message: ``all``, every watch's feed and every search's."""
    watches = (f"watch/{w.name}" for w in config.watch)
    return ["all", *watches, *(f"search/{s.name}" for s in config.search)]


def build(store: Store, scope: FeedScope, now: datetime, site: str | None = None) -> bytes:
    """The Atom document of ``scope``'s newest changes.

    The feed's id is derived from the database file and the feed's name: the
    same feed of the same installation keeps it. With ``site`` (``[server]
    public_url``) each change entry links to the trial's page there.
    """
    scope = _with_members(store, scope)
    recent = _recent(store, scope)
    meant = store.events.of_versions([version.id for version, _ in recent])
    if scope.digest is not None:
        entries = _digest_entries(recent, scope, scope.digest, now, site=site, meant=meant)
    else:
        entries = [
            _entry(version, changes, scope, site, meant.get(version.id, ()))
            for version, changes in recent
        ]
    if scope.search is not None:
        events = store.searches.events(scope.search.name, MAX_ENTRIES)
        entries += [_event_entry(event, scope) for event in events]
        entries = sorted(entries, key=lambda e: e.updated, reverse=True)[:MAX_ENTRIES]
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


def _digest_entries(
    recent: Sequence[tuple[ChangedVersion, tuple[FieldChange, ...]]],
    scope: FeedScope,
    schedule: DigestSchedule,
    now: datetime,
    *,
    site: str | None = None,
    meant: Mapping[int, tuple[Event, ...]] | None = None,
) -> list[AtomEntry]:
    """One entry per digest period that has ended: the versions seen in it, together.

    A version seen at ``t`` belongs to the first slot at or after ``t``; a period
    still open (its slot not yet come) is left out, as the digest itself waits.
    """
    periods: dict[datetime, list[Alert]] = {}
    for version, changes in recent:
        seen = parse_iso(version.fetched_at)
        slot = schedule.next_after(seen - timedelta(microseconds=1))
        if slot > now:
            continue
        alert = Alert(
            version.nct_id, version.title or "", changes, version.last_update_posted,
            site=site, change_set=version.id, events=(meant or {}).get(version.id, ()),
        )  # fmt: skip
        periods.setdefault(slot, []).append(alert)
    entries = []
    for slot, alerts in sorted(periods.items(), reverse=True):
        members = tuple(reversed(alerts))
        digest = Digest(
            by_trial(members), reason="digest", slot=iso(slot), members=members,
            more_url=changes_url(members),
        )  # fmt: skip
        root = ET.Element("div")
        heading = ET.SubElement(root, "p")
        heading.text = digest.headline
        html = html_fragment(root) + "".join(_html(alert) for alert in digest.alerts)
        entries.append(
            AtomEntry(
                id=_uuid(f"digest/{scope.key}/{iso(slot)}"),
                title=f"{digest.headline} ({schedule.describe()}, {iso(slot)})",
                updated=iso(slot),
                link=digest.more_url or digest.alerts[0].history_url,
                summary=digest_text(digest),
                html=html,
            )
        )
    return entries


def _with_members(store: Store, scope: FeedScope) -> FeedScope:
    """A followed search's feed covers its members as they are now, in its fields."""
    spec = scope.search
    if spec is None or not spec.follow:
        return scope
    members = store.searches.members([spec.name])[spec.name]
    return replace(scope, trials=dict.fromkeys(members, spec.field_paths))


def _event_entry(row: SearchEventRow, scope: FeedScope) -> AtomEntry:
    """One search event: what happened and the trial's card."""
    event, changes = read_payload(row.payload)
    card = event.card
    alert = Alert(row.nct_id, card.title, changes, card.last_update_posted, search=event)
    url, _ = search_link(alert, event)
    root = ET.Element("div")
    link = ET.SubElement(ET.SubElement(root, "p"), "a", href=alert.study_url)
    link.text = trial_heading(alert)
    items = ET.SubElement(root, "ul")
    for name, words in card_lines(alert, event):
        item = ET.SubElement(items, "li")
        label = ET.SubElement(item, "b")
        label.text = f"{name}:"
        label.tail = f" {words}"
    return AtomEntry(
        id=_uuid(f"event/{row.id}/{row.at}/{scope.key}"),
        title=f"{event.words}: {trial_heading(alert)}",
        updated=row.at,
        link=url,
        summary=search_text(alert, event),
        html=html_fragment(root),
    )


def _uuid(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, 'ctwatch:' + key)}"


def _entry(
    version: ChangedVersion,
    changes: tuple[FieldChange, ...],
    scope: FeedScope,
    site: str | None,
    events: tuple[Event, ...] = (),
) -> AtomEntry:
    alert = Alert(
        version.nct_id, version.title or "", changes, version.last_update_posted,
        site=site, events=events,
    )  # fmt: skip
    lines = event_lines(events) + [line.text() for line in change_lines(changes)]
    key = f"{version.nct_id}/{version.content_hash}/{version.fetched_at}/{scope.key}"
    return AtomEntry(
        id=_uuid(key),
        title=f"{alert.nct_id} · {alert.headline}",
        updated=version.fetched_at,
        link=alert.page_url or alert.history_url,
        summary="\n".join([alert.title or alert.nct_id, *lines, alert.history_url]),
        html=_html(alert),
        categories=tuple(dict.fromkeys((e.type, e.level.value) for e in events)),
    )


def _html(alert: Alert) -> str:
    """The entry as HTML: title, one item per change, date and history link."""
    root = ET.Element("div")
    title = ET.SubElement(ET.SubElement(root, "p"), "a", href=alert.study_url)
    title.text = alert.title or alert.nct_id
    if alert.events and not alert.quiet:
        headlines = ET.SubElement(root, "ul")
        for text in event_lines(alert.events):
            ET.SubElement(headlines, "li").text = text
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
    if alert.page_url is not None:
        link.tail = " · "
        page = ET.SubElement(footer, "a", href=alert.page_url)
        page.text = "Trial page on ctwatch"
    return html_fragment(root)
