"""A digest: many alerts for one destination as one message, and the words around them.

Why a value of its own: a scheduled digest (``digest = "daily 08:00"``), the
end of quiet hours and a busy cycle (``digest_over``) all send "many alerts as
one message"; every channel renders the same :class:`Digest` — the alerts, what
was already sent at once (urgent), the period it covers and a link to the rest —
so Slack, email, Teams, webhooks and the console say the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from watcher.core.events.model import Level, highest, ordered
from watcher.core.render import Alert, Queued, changes_url, console_text, digest_headline
from watcher.core.text import counted

REASONS = ("busy", "digest", "quiet hours ended", "timing changed")
"""Why alerts went as one message: over ``digest_over`` at once, a scheduled digest, the
end of quiet hours, or a schedule removed from the config (what waited goes now)."""


@dataclass(frozen=True)
class Digest:
    """Alerts for one destination, sent as one message."""

    alerts: tuple[Alert, ...]
    reason: str = "busy"
    already_sent: tuple[Alert, ...] = ()
    """Changes of the period told at once (``urgent``): counted, never repeated (a webhook
    lists them, marked)."""
    period_from: str | None = None
    """The previous slot (or when the schedule started), for "since …"."""
    slot: str | None = None
    """The scheduled time this digest stands for (None when not scheduled)."""
    queued: Queued | None = None
    """The digest's own outbox row: its webhook-id, the same on every retry."""
    more_url: str | None = None
    """The whole digest in the web UI's change list (``[server] public_url`` set)."""
    members: tuple[Alert, ...] = ()
    """The alerts before :func:`by_trial` merged them: each keeps its own change set, so a
    folded "…and N more" links to exactly the changes it stands for."""
    groups: Mapping[str, str] = field(default_factory=dict)
    """NCT ID -> the watch or search it came through (``watch “rectal-cancer”``): a
    digest for a destination of several tables is grouped by them."""

    def sections(self) -> list[tuple[str | None, tuple[Alert, ...]]]:
        """The alerts grouped by watch or search, the group with the highest level first,
        each group's trials highest level first; one section (label None) when they all
        came through one table."""
        by_label: dict[str, list[Alert]] = {}
        for alert in self.alerts:  # already highest level first (by_trial)
            by_label.setdefault(self.label_of(alert), []).append(alert)
        if len(by_label) <= 1:
            return [(None, self.alerts)]
        return [(label, tuple(alerts)) for label, alerts in by_label.items()]

    def label_of(self, alert: Alert) -> str:
        """The watch or search an alert came through, in words."""
        if alert.nct_id in self.groups:
            return self.groups[alert.nct_id]
        if alert.search is not None:
            return f"search “{alert.search.search}”"
        if alert.notice is not None:
            return "ctwatch"
        return "other trials"

    @property
    def scheduled(self) -> bool:
        return self.reason != "busy"

    @property
    def trial_count(self) -> int:
        return len({a.nct_id for a in self.alerts if a.nct_id})

    @property
    def headline(self) -> str:
        """``ctwatch digest: 12 trials changed · 1 already sent`` (a busy cycle: as before)."""
        if not self.scheduled:
            return digest_headline(self.alerts)
        if not self.alerts and not self.already_sent:
            return "ctwatch digest: no changes"
        kinds = Counter(_kind(a) for a in self.alerts)
        parts = []
        if kinds["change"]:
            parts.append(f"{counted(self.trial_count, 'trial')} changed")
            tops = Counter(highest(a.events) for a in self.alerts if a.nct_id and a.events)
            parts += [f"{tops[lv]} {lv.value}" for lv in (Level.HIGH, Level.MEDIUM) if tops[lv]]
        if kinds["search"]:
            parts.append(counted(kinds["search"], "search alert"))
        if kinds["notice"]:
            parts.append(counted(kinds["notice"], "notice"))
        if self.already_sent:
            parts.append(f"{len(self.already_sent)} already sent")
        return "ctwatch digest: " + " · ".join(parts)

    @property
    def notes(self) -> tuple[str, ...]:
        """Lines under the alerts: what was already sent, and where the rest is."""
        notes = []
        if self.already_sent:
            ids = ", ".join(dict.fromkeys(a.nct_id for a in self.already_sent if a.nct_id))
            notes.append(f"Already sent at once (urgent): {ids}.")
        if self.reason == "quiet hours ended":
            notes.append("Held during quiet hours.")
        return tuple(notes)


def by_trial(alerts: Sequence[Alert]) -> tuple[Alert, ...]:
    """One alert per trial: a trial that changed twice in the period reads as one entry
    whose changes are the versions' changes in order (a field that moved twice shows both
    steps); the compare link spans the first and the last version. Notices and search news
    stay as they are, in place."""
    merged: dict[str, Alert] = {}
    out: list[Alert | str] = []
    for alert in alerts:
        if alert.notice is not None or alert.search is not None or not alert.nct_id:
            out.append(alert)
            continue
        first = merged.get(alert.nct_id)
        if first is None:
            merged[alert.nct_id] = alert
            out.append(alert.nct_id)
            continue
        span = (
            (first.compare[0], alert.compare[1])
            if first.compare is not None and alert.compare is not None
            else None
        )
        merged[alert.nct_id] = replace(
            first,
            title=alert.title or first.title,
            changes=first.changes + alert.changes,
            last_update_posted=alert.last_update_posted,
            compare=span,
            events=tuple(ordered((*first.events, *alert.events))),
        )
    entries = [merged[x] if isinstance(x, str) else x for x in out]
    return tuple(sorted(entries, key=lambda a: -highest(a.events).rank))  # high first, stable


def folded_url(digest: Digest | None, rest: Sequence[Alert]) -> str | None:
    """The web UI's change list of exactly the alerts a channel could not show (every
    change set of a trial a digest merged), when ``[server] public_url`` is set."""
    if digest is not None and digest.members:
        wanted = {a.nct_id for a in rest if a.nct_id}
        rest = [m for m in digest.members if m.nct_id in wanted] + [a for a in rest if not a.nct_id]
    return changes_url(rest)


def in_sections(
    digest: Digest | None, alerts: Sequence[Alert]
) -> tuple[list[Alert], dict[int, str]]:
    """The alerts in the order a message shows them (grouped by watch or search when the
    digest has sections) and, by position, the heading that starts each section."""
    sections = digest.sections() if digest is not None else [(None, tuple(alerts))]
    ordered: list[Alert] = []
    headings: dict[int, str] = {}
    for label, group in sections:
        if label is not None and group:
            headings[len(ordered)] = label
        ordered += group
    return ordered, headings


def _kind(alert: Alert) -> str:
    if alert.notice is not None:
        return "notice"
    if alert.search is not None:
        return "search"
    return "change"


def digest_text(digest: Digest) -> str:
    """The digest as plain text (the console, an email's text part)."""
    head = digest.headline
    since = f" (since {digest.period_from})" if digest.scheduled and digest.period_from else ""
    blocks = [f"{head}{since}", ""]
    for label, alerts in digest.sections():
        if label is not None:
            blocks.append(f"── {label} ──")
        blocks += [console_text(alert) for alert in alerts]
    blocks += list(digest.notes)
    if digest.more_url:
        blocks.append(f"All changes: {digest.more_url}")
    return "\n".join(blocks).rstrip("\n") + "\n"
