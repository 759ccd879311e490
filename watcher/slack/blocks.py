"""Alerts -> Slack Block Kit payloads that always fit Slack's limits.

Why so defensive: record text is written by thousands of sponsors. A title
containing ``<!channel>`` must not ping a workspace, ``<https://x|click>`` must
not forge a link, and a record with 400 changed sites must still produce a
message Slack accepts (at most 50 blocks, 3,000 characters per section, 150 per
header, 10 fields of 2,000). So all record text is escaped, long text is cut
with "…" and a link to the record, and big list changes arrive summarised.
The ``text`` fallback (notifications, screen readers) carries the same facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.core.digest import Digest, folded_url, in_sections
from watcher.core.render import (
    Alert,
    Notice,
    card_lines,
    change_lines,
    digest_headline,
    event_lines,
    search_link,
    trial_heading,
)
from watcher.core.search_card import SearchEvent
from watcher.core.text import truncate

MAX_BLOCKS = 50
MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 39_000
ACTIONS_BLOCK = "ctwatch_actions"
HISTORY_ACTION = "ctwatch_history"
MUTE_ACTION = "ctwatch_mute"
UNWATCH_ACTION = "ctwatch_unwatch"
WATCH_ACTION = "ctwatch_watch"
MUTE_DAYS = 7
MAX_FIELDS = 10
MAX_FIELD = 2000

Block = dict[str, Any]


def escape(text: str) -> str:
    """Slack's three control characters, so record text stays text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _header(text: str) -> Block:
    """Header text is plain_text (never parsed for mentions) but is escaped anyway."""
    return {
        "type": "header",
        "text": {"type": "plain_text", "text": truncate(escape(text), MAX_HEADER)},
    }


def _section(mrkdwn: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}


def _context(mrkdwn: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn}]}


def _link(url: str, label: str) -> str:
    """``<url|label>``; ``&`` in the URL (a compare link's query) is escaped as Slack asks."""
    return f"<{url.replace('&', '&amp;')}|{escape(label).replace('|', '¦')}>"


def _pack(lines: Sequence[str], room: int, overflow: str) -> list[Block]:
    """Lines -> sections of at most 3,000 chars, at most ``room`` blocks."""
    blocks: list[Block] = []
    current = ""
    for index, raw in enumerate(lines):
        line = truncate(raw, MAX_SECTION)
        if current and len(current) + 1 + len(line) > MAX_SECTION:
            if len(blocks) == room - 1:
                blocks.append(_section(f"…and {len(lines) - index} more. {overflow}"))
                return blocks
            blocks.append(_section(current))
            current = ""
        current = f"{current}\n{line}" if current else line
    if current:
        blocks.append(_section(current))
    return blocks


def _button(action_id: str, text: str, **extra: Any) -> Block:
    return {"type": "button", "action_id": action_id, "text": _plain(text), **extra}


def _plain(text: str) -> Block:
    return {"type": "plain_text", "text": text}


def actions_block(nct_id: str, history_url: str) -> Block:
    """*View history*, *Mute 7 days* and *Unwatch* for one trial.

    A button's value is the NCT ID alone: the channel an action applies to is
    the one Slack says the click came from, never something a value carries.
    """
    confirm = {
        "title": _plain("Unwatch?"),
        "text": _plain(f"Stop alerts for {nct_id} in this channel?"),
        "confirm": _plain("Unwatch"),
        "deny": _plain("Keep"),
    }
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            _button(HISTORY_ACTION, "View history", url=history_url),
            _button(MUTE_ACTION, f"Mute {MUTE_DAYS} days", value=nct_id),
            _button(UNWATCH_ACTION, "Unwatch", value=nct_id, style="danger", confirm=confirm),
        ],
    }


def alert_message(alert: Alert, *, actions: bool = False) -> tuple[str, list[Block]]:
    """``(text, blocks)`` for one changed trial (or a clearly marked test).

    ``actions`` adds the buttons (only when clicks can reach ctwatch: Socket
    Mode, or the HTTP interactivity endpoint).
    """
    if alert.test:
        return test_message(alert)
    if alert.notice is not None:
        return notice_message(alert, alert.notice, actions=actions)
    if alert.search is not None:
        return search_message(alert, alert.search, actions=actions)
    lines = change_lines(alert.changes)
    history = _link(alert.history_url, alert.history_label)
    header = f"{alert.nct_id} · {alert.headline}"
    title = f"*{_link(alert.study_url, truncate(alert.title or alert.nct_id, 500))}*"
    if alert.quiet:  # bookkeeping only: one quiet line
        quiet = f"{title} · _{escape(alert.events[0].summary)}_ · {history}"
        text = f"{alert.nct_id} — {alert.title}: {alert.events[0].summary}"
        return escape(truncate(text, MAX_TEXT)), [_context(truncate(quiet, 2900))]
    blocks = [_header(header), _section(title)]
    headlines = [f"*{escape(line)}*" for line in event_lines(alert.events)]
    if headlines:
        blocks += _pack(headlines, 3, "")
    rendered = [_line(line.label, line.before, line.after, line.summary) for line in lines]
    blocks += _pack(rendered, MAX_BLOCKS - 1 - len(blocks) - int(actions), f"See {history}.")
    posted = alert.last_update_posted or "—"
    page = f" · {_link(alert.page_url, 'Trial page')}" if alert.page_url else ""
    blocks.append(_context(f"Last update posted {escape(posted)} · {history}{page}"))
    if actions:
        blocks.append(actions_block(alert.nct_id, alert.history_url))
    said = event_lines(alert.events, stop=False) + [line.text(200) for line in lines]
    text = f"{alert.nct_id} — {alert.title}: " + "; ".join(said)
    return escape(truncate(text, MAX_TEXT)), blocks


def _line(label: str, before: str | None, after: str | None, summary: str | None) -> str:
    if summary is not None:
        return f"*{escape(label)}:* {escape(summary)}"
    return f"*{escape(label)}:* {escape(before or '(none)')} → {escape(after or '(none)')}"


def search_actions_block(alert: Alert, event: SearchEvent) -> Block:
    """*View record* (or *View history* for a trial that left), *Watch trial* for one that
    matches (so a channel can follow it field by field) and *Mute 7 days*."""
    url, label = search_link(alert, event)
    elements = [_button(HISTORY_ACTION, label, url=url)]
    if event.kind != "left":
        elements.append(_button(WATCH_ACTION, "Watch trial", value=alert.nct_id))
    elements.append(_button(MUTE_ACTION, f"Mute {MUTE_DAYS} days", value=alert.nct_id))
    return {"type": "actions", "block_id": ACTIONS_BLOCK, "elements": elements}


def search_message(
    alert: Alert, event: SearchEvent, *, actions: bool = False
) -> tuple[str, list[Block]]:
    """A search's news: what happened and in which search, the trial (linked), its card."""
    url, label = search_link(alert, event)
    facts = card_lines(alert, event, limit=MAX_FIELD // 2)
    title = truncate(trial_heading(alert), 500)
    blocks = [
        _header(f"{event.words} · {event.search}"),
        _section(f"*{_link(alert.study_url, title)}*"),
    ]
    rendered = [truncate(f"*{escape(name)}:* {escape(words)}", MAX_FIELD) for name, words in facts]
    if event.kind != "left" and rendered:
        fields = [{"type": "mrkdwn", "text": text} for text in rendered[:MAX_FIELDS]]
        blocks.append({"type": "section", "fields": fields})
    else:
        blocks += _pack(rendered, MAX_BLOCKS - 3 - int(actions), f"See {_link(url, label)}.")
    blocks.append(_context(f"Search “{escape(event.search)}” · {_link(url, label)}"))
    if actions:
        blocks.append(search_actions_block(alert, event))
    summary = "; ".join(f"{name}: {words}" for name, words in facts)
    text = f"{event.headline}: {alert.nct_id} — {alert.title}. {summary}"
    return escape(truncate(text, MAX_TEXT)), blocks


def digest_message(
    alerts: Sequence[Alert], *, digest: Digest | None = None
) -> tuple[str, list[Block]]:
    """One message for many changed trials (a busy day on a big portfolio, a scheduled
    digest); what does not fit in Block Kit's 50 blocks is folded into a count, linked
    to the whole list when the web UI's address is known."""
    header = digest.headline if digest is not None else digest_headline(alerts)
    notes = digest.notes if digest is not None else ()
    alerts, headings = in_sections(digest, alerts)  # grouped by watch or search
    blocks: list[Block] = [_header(header)]
    room = MAX_BLOCKS - 2 - len(notes)
    for index, alert in enumerate(alerts):
        label = headings.get(index)
        if len(blocks) + (2 if label else 1) > room:
            rest = ", ".join(a.nct_id or a.headline for a in alerts[index:])
            more = folded_url(digest, alerts[index:])
            see = f" ({_link(more, 'see them all')})" if more else ""
            text = f"…and {len(alerts) - index} more{see}: {escape(rest)}"
            blocks.append(_section(truncate(text, MAX_SECTION)))
            break
        if label:
            blocks.append(_context(f"*{escape(truncate(label, 200))}*"))
        blocks.append(_section(truncate(_digest_entry(alert), MAX_SECTION)))
    blocks += [_context(escape(truncate(note, MAX_SECTION))) for note in notes]
    blocks.append(_context("Each trial links to its history on ClinicalTrials.gov."))
    text = header + ": " + "; ".join(_digest_summary(a) for a in alerts)
    return escape(truncate(text, MAX_TEXT)), blocks


def _digest_summary(alert: Alert) -> str:
    if alert.notice is not None:
        return alert.notice.headline
    return f"{alert.nct_id} — {alert.title} ({alert.headline})"


def _digest_entry(alert: Alert) -> str:
    """A trial's linked heading and its first lines; or a notice, headline and body."""
    if alert.notice is not None:
        return f"*ctwatch · {escape(alert.notice.headline)}*\n{escape(alert.notice.body)}"
    url = search_link(alert, alert.search)[0] if alert.search else alert.history_url
    title = _link(url, truncate(f"{alert.nct_id} — {alert.title}", 300))
    page = f" · {_link(alert.page_url, 'trial page')}" if alert.page_url else ""
    return "\n".join([f"*{title}*{page}", *(f"• {s}" for s in _digest_lines(alert))])


def _digest_lines(alert: Alert) -> list[str]:
    """A digest entry's first three lines: changes, or what a search found and its facts."""
    if alert.search is not None:
        facts = card_lines(alert, alert.search, limit=200)[:3]
        head = f"_{escape(alert.search.headline)}_"
        return [head, *(f"*{escape(name)}:* {escape(words)}" for name, words in facts)]
    if alert.quiet:
        return [f"_{escape(alert.events[0].summary)}_"]
    lines = change_lines(alert.changes)
    events = [f"*{escape(line)}*" for line in event_lines(alert.events)[:2]]
    shown = events + [_line(x.label, x.before, x.after, x.summary) for x in lines[:3]]
    if len(lines) > 3:
        shown.append(f"_+{len(lines) - 3} more changes_")
    return shown


def test_message(alert: Alert) -> tuple[str, list[Block]]:
    """A clearly marked test message for ``ctwatch test-alert``."""
    text = f"[TEST] ctwatch {alert.title}: delivery works. No trial changed."
    blocks = [_header("ctwatch test alert"), _section(escape(text))]
    return escape(text), blocks


def notice_message(
    alert: Alert, notice: Notice, *, actions: bool = False
) -> tuple[str, list[Block]]:
    """A notice about the watching itself (the registry unreadable, a trial gone)."""
    blocks = [
        _header(f"ctwatch · {notice.headline}"),
        _section(escape(truncate(notice.body, 2900))),
    ]
    if alert.nct_id:
        blocks.append(_context(_link(alert.history_url, f"{alert.nct_id} on ClinicalTrials.gov")))
        if actions:
            blocks.append(actions_block(alert.nct_id, alert.history_url))
    text = f"ctwatch: {notice.headline}. {notice.body}"
    return escape(truncate(text, MAX_TEXT)), blocks
