"""One change model -> words: change lines and the console block.

Why one place: Slack, email and the console must say the same thing the same
way ("Overall Status: Recruiting → Terminated"), and the hard rules (summarise
big list changes, never dump a whole results section) are written once.
Slack- and email-specific layouts live in their own render modules and build on
:func:`change_lines`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from watcher.core.describe import NONE, display_value, enum_text
from watcher.core.diff import FieldChange
from watcher.core.events import Event, Level, highest
from watcher.core.search_card import SearchEvent
from watcher.core.text import counted, one_line

GROUP_OVER = 3
HISTORY_URL = "https://clinicaltrials.gov/study/{nct}?tab=history"
COMPARE_URL = HISTORY_URL + "&a={old}&b={new}#version-content-panel"
STUDY_URL = "https://clinicaltrials.gov/study/{nct}"
TRIAL_PAGE = "{site}/trials/{nct}"
MAX_LINKED_SETS = 200
"""A longer "…and N more" links to the change log without a list (URLs stay short)."""


@dataclass(frozen=True)
class Notice:
    """News about the watching itself, not a field: the registry unreadable, a trial gone.

    ``headline`` is one short line (a subject); ``body`` says what it means
    and what, if anything, to do.
    """

    headline: str
    body: str


@dataclass(frozen=True)
class Queued:
    """Which queued alert (outbox row) this is, and since when.

    Why: a receiver that deduplicates (Standard Webhooks' ``webhook-id``)
    needs an identity that is the same on every retry of one alert and never
    the same for two alerts. The row number alone would repeat after a
    database is recreated, so the time it was queued is part of the key.
    """

    row: int
    at: str
    """When the alert was queued (a stored timestamp, ``2026-11-25T14:30:00Z``)."""

    @property
    def key(self) -> str:
        """``42_20261125T143000Z``: the same on every retry; a recreated database, whose
        rows start at 1 again, queues at later times, so its keys differ."""
        return f"{self.row}_{''.join(c for c in self.at if c.isalnum())}"


@dataclass(frozen=True)
class Alert:
    """A change set for one trial (or a notice), ready to render for any destination."""

    nct_id: str
    title: str
    changes: tuple[FieldChange, ...]
    last_update_posted: str | None = None
    test: bool = False
    notice: Notice | None = None
    queued: Queued | None = None
    """The outbox row it was read from; None for a test alert (never queued)."""
    compare: tuple[int, int] | None = None
    """The registry's numbers of the versions before and after, when both are known."""
    search: SearchEvent | None = None
    """A search's news about this trial (``changes``: what explains a departure)."""
    site: str | None = None
    """``[server] public_url`` (no trailing slash): the alert links to ctwatch's own page."""
    change_set: int | None = None
    """The stored version this alert tells (its change set), for ``/changes?set=…``."""

    @property
    def page_url(self) -> str | None:
        """The trial's page on ctwatch's web UI, when ``public_url`` is set."""
        if self.site is None or not self.nct_id:
            return None
        return TRIAL_PAGE.format(site=self.site, nct=self.nct_id)

    events: tuple[Event, ...] = ()
    """What the change means (highest level first); every channel shows these first."""

    @property
    def quiet(self) -> bool:
        """Only ``info`` events (bookkeeping dates): one quiet line, not a full alert."""
        return bool(self.events) and highest(self.events) is Level.INFO

    @property
    def top_event(self) -> Event | None:
        """The highest event above info, if any: what the subject line names."""
        if not self.events or highest(self.events) is Level.INFO:
            return None
        return self.events[0]

    @property
    def history_url(self) -> str:
        """The registry's comparison of exactly these two versions, else the history tab."""
        return compare_url(self.nct_id, self.compare) or HISTORY_URL.format(nct=self.nct_id)

    @property
    def history_label(self) -> str:
        """What the history link is called: a comparison of two versions, or the history."""
        compare = self.compare
        if compare is None or compare_url(self.nct_id, compare) is None:
            return "View history"
        return f"Compare versions {compare[0]} → {compare[1]}"

    @property
    def study_url(self) -> str:
        return STUDY_URL.format(nct=self.nct_id)

    @property
    def headline(self) -> str:
        """The one change worth a subject line: status first, else the first one."""
        if self.test:
            return "test alert"
        if self.notice is not None:
            return self.notice.headline
        if self.search is not None:
            return self.search.headline
        top = self.top_event
        if top is not None:
            more = len([e for e in self.events if e.level is not Level.INFO]) - 1
            return event_headline(top) + (f" (+{more} more)" if more > 0 else "")
        if self.quiet:
            return one_line(self.events[0].summary.rstrip("."), 90)
        lines = change_lines(self.changes)
        if not lines:
            return "record updated"
        for line in lines:
            if line.label == "Overall Status":
                return line.text(limit=60)
        first = lines[0].text(limit=60)
        return first if len(lines) == 1 else f"{first} (+{len(lines) - 1} more)"


def changes_url(alerts: Sequence[Alert]) -> str | None:
    """``/changes`` filtered to exactly these alerts' change sets (a digest's "…and N
    more"), when ``public_url`` is set; None when none of them tells a change set."""
    site = next((a.site for a in alerts if a.site), None)
    sets = [str(a.change_set) for a in alerts if a.change_set is not None]
    if site is None or not sets:
        return None
    if len(sets) > MAX_LINKED_SETS:
        return f"{site}/changes"
    return f"{site}/changes?set={','.join(sets)}"


def compare_url(nct_id: str, compare: tuple[int, int] | None) -> str | None:
    """``…?tab=history&a=<old>&b=<new>#version-content-panel`` (website numbers, old < new)."""
    if compare is None or not 0 < compare[0] < compare[1]:
        return None
    return COMPARE_URL.format(nct=nct_id, old=compare[0], new=compare[1])


@dataclass(frozen=True)
class ChangeLine:
    """One line of an alert: ``label: before → after`` or ``label: summary``."""

    label: str
    before: str | None = None
    after: str | None = None
    summary: str | None = None

    def text(self, limit: int = 300) -> str:
        if self.summary is not None:
            return f"{self.label}: {one_line(self.summary, limit)}"
        before = one_line(self.before or NONE, limit)
        after = one_line(self.after or NONE, limit)
        return f"{self.label}: {before} → {after}"


def change_lines(changes: Sequence[FieldChange], limit: int = 300) -> list[ChangeLine]:
    """Readable lines. Beyond 3 similar list changes (sites added, site statuses
    changed) one counted line replaces them, so 400 sites never mean 400 lines."""
    groups: dict[tuple[str, ...], list[FieldChange]] = {}
    for change in changes:
        key = _group_key(change)
        if key is not None:
            groups.setdefault(key, []).append(change)
    lines: list[ChangeLine] = []
    emitted: set[tuple[str, ...]] = set()
    for change in changes:
        key = _group_key(change)
        group = groups.get(key, []) if key is not None else []
        if key is None or len(group) <= GROUP_OVER:
            lines.append(_line(change, limit))
        elif key not in emitted:
            emitted.add(key)
            lines.append(_group_line(group) if key[0] == "items" else _field_group_line(group))
    return lines


def _group_key(change: FieldChange) -> tuple[str, ...] | None:
    if "[" not in change.path:
        return None
    if _is_item(change) and change.kind != "changed":
        return ("items", change.path.rsplit("[", 1)[0])
    if not _is_item(change):
        return ("fields", change.path.rsplit("[", 1)[0], change.schema_path)
    return None


def _is_item(change: FieldChange) -> bool:
    return change.path.endswith("]")


def _list_label(change: FieldChange) -> str:
    return change.label.rsplit(" › ", 1)[0]


def _field_group_line(group: list[FieldChange]) -> ChangeLine:
    first = group[0]
    item = first.path.rsplit("[", 1)[1].split("]", 1)[0]
    list_label, _, field_label = first.label.partition(f" › {item} › ")
    transitions = Counter(
        f"{display_value(c.schema_path, c.old, 40) if c.old is not None else NONE} → "
        f"{display_value(c.schema_path, c.new, 40) if c.new is not None else NONE}"
        for c in group
    )
    common = "; ".join(f"{t} ×{n}" for t, n in transitions.most_common(3))
    more = "; …" if len(transitions) > 3 else ""
    noun = list_label.lower()
    label = f"{list_label} › {field_label}"
    kinds = {c.kind for c in group}
    if kinds in ({"added"}, {"removed"}):
        return ChangeLine(label, summary=f"{kinds.pop()} in {len(group)} {noun}")
    return ChangeLine(label, summary=f"changed in {len(group)} {noun}: {common}{more}")


def _group_line(group: list[FieldChange]) -> ChangeLine:
    added = [c for c in group if c.kind == "added"]
    removed = [c for c in group if c.kind == "removed"]
    noun = _list_label(group[0])
    counts = " / ".join(
        part
        for part in (f"+{len(added)}" if added else "", f"−{len(removed)}" if removed else "")
        if part
    )
    examples = [
        display_value(c.schema_path, c.new if c.kind == "added" else c.old, 60) for c in group[:2]
    ]
    more = "…" if len(group) > 2 else ""
    return ChangeLine(noun, summary=f"{counts} {noun.lower()} ({'; '.join(examples)}{more})")


def _line(change: FieldChange, limit: int) -> ChangeLine:
    path = change.schema_path
    if _is_item(change) and change.kind == "added":
        return ChangeLine(_list_label(change), summary="added " + display_value(path, change.new))
    if _is_item(change) and change.kind == "removed":
        return ChangeLine(_list_label(change), summary="removed " + display_value(path, change.old))
    if isinstance(change.old, list) and isinstance(change.new, list) and _scalars(change):
        return ChangeLine(change.label, summary=_set_summary(path, change.old, change.new))
    before = None if change.old is None else display_value(path, change.old, limit)
    after = None if change.new is None else display_value(path, change.new, limit)
    return ChangeLine(change.label, before, after)


def _scalars(change: FieldChange) -> bool:
    values = list(change.old) + list(change.new)
    return all(isinstance(v, str | int | float) for v in values)


def _set_summary(path: str, old: list[object], new: list[object]) -> str:
    added = [v for v in new if v not in old]
    removed = [v for v in old if v not in new]
    parts = []
    if added:
        parts.append("added " + ", ".join(f"“{display_value(path, v, 80)}”" for v in added))
    if removed:
        parts.append("removed " + ", ".join(f"“{display_value(path, v, 80)}”" for v in removed))
    return "; ".join(parts) or "reordered"


def digest_headline(alerts: Sequence[Alert]) -> str:
    """A digest's title: how many trials changed, or, when notices or search news ride
    along, how many alerts and of which kinds (neither is a changed trial)."""
    notices = sum(1 for a in alerts if a.notice is not None)
    searches = sum(1 for a in alerts if a.search is not None)
    if not notices and not searches:
        return f"ctwatch: {len(alerts)} trials changed"
    kinds = ((notices, "notice"), (searches, "search alert"))
    parts = [counted(n, what) for n, what in kinds if n]
    return f"ctwatch: {len(alerts)} alerts ({', '.join(parts)})"


def console_text(alert: Alert) -> str:
    """The block printed to standard output for one changed trial (or a notice)."""
    if alert.notice is not None:
        return notice_text(alert, alert.notice)
    if alert.search is not None:
        return search_text(alert, alert.search)
    head = f"{alert.nct_id} — {alert.title or '(untitled)'}" if alert.nct_id else alert.title
    if alert.test:
        head = f"[TEST] {head}"
    body = [f"  {line.text()}" for line in change_lines(alert.changes)]
    if alert.quiet:  # bookkeeping only: one quiet line
        return f"{head}: {alert.events[0].summary}\n"
    body = [f"  {line}" for line in event_lines(alert.events)] + body
    if alert.test:
        body = ["  This is a test alert from ctwatch; no field changed."]
    link = [f"  {alert.history_url}"] if alert.nct_id else []  # a search's test: no trial
    if alert.page_url is not None:
        link.append(f"  {alert.page_url}")
    return "\n".join([head, *body, *link, ""])


def event_headline(event: Event) -> str:
    """A subject-sized line naming an event: a status move as the field line people know
    (``Overall Status: Recruiting → Terminated``), others their summary's first clause."""
    values = event.values
    if event.type == "status.changed" and isinstance(values.get("from"), str):
        path = "protocolSection.statusModule.overallStatus"
        old, new = str(values["from"]), str(values.get("to"))
        return f"Overall Status: {enum_text(path, old)} → {enum_text(path, new)}"
    first = event.summary.split("; ", 1)[0].split(" (", 1)[0].rstrip(".")
    return one_line(first, 90)


def event_line(event: Event) -> str:
    """``[HIGH] Overall status changed from Recruiting to Terminated.``"""
    return f"[{event.level.value.upper()}] {event.summary}"


def event_lines(events: Sequence[Event], *, stop: bool = True) -> list[str]:
    """The headline line of each event above info (info events say nothing new);
    ``stop=False`` drops the full stop (for lines joined with ``;``)."""
    lines = [event_line(e) for e in events if e.level is not Level.INFO]
    return lines if stop else [line.removesuffix(".") for line in lines]


def notice_text(alert: Alert, notice: Notice) -> str:
    """A notice as plain text: the headline, what it means, the trial's link if any."""
    lines = [f"ctwatch: {notice.headline}", f"  {notice.body}"]
    if alert.nct_id:
        lines.append(f"  {alert.history_url}")
    return "\n".join([*lines, ""])


def card_lines(alert: Alert, event: SearchEvent, limit: int = 300) -> list[tuple[str, str]]:
    """``(label, words)`` a search alert lists: the card's facts; for a trial that no
    longer matches, the changes that explain it (when recorded), then its status."""
    if event.kind != "left":
        return event.card.facts(limit)
    lines = [(line.label, _words(line, limit)) for line in change_lines(alert.changes, limit)]
    told = any(line[0] == "Overall Status" for line in lines)  # the status, once
    kept = ("Registry",) if told else ("Overall status", "Registry")
    return lines + [fact for fact in event.card.facts(limit) if fact[0] in kept]


def _words(line: ChangeLine, limit: int) -> str:
    return line.text(limit).removeprefix(f"{line.label}: ")


def search_link(alert: Alert, event: SearchEvent) -> tuple[str, str]:
    """``(url, label)``: the record for a trial that matches, its history for one that left."""
    if event.kind == "left":
        return alert.history_url, "View history"
    return alert.study_url, "View record"


def trial_heading(alert: Alert) -> str:
    """``NCT… — Title``, or the NCT ID alone when the title is not known (a trial that
    left a search and the registry no longer returns), or the title alone without a trial."""
    if not alert.nct_id or not alert.title:
        return alert.nct_id or alert.title
    return f"{alert.nct_id} — {alert.title}"


def search_text(alert: Alert, event: SearchEvent) -> str:
    """A search alert as plain text (console, email, feeds): what happened, the trial, its
    card, the link."""
    lines = [
        f"{event.headline}",
        trial_heading(alert),
        *(f"  {label}: {words}" for label, words in card_lines(alert, event)),
        f"  {search_link(alert, event)[0]}",
    ]
    return "\n".join([*lines, ""])
