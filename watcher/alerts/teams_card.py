"""Alerts -> Adaptive Cards (1.4) for Teams Workflows, always under the size limit.

Why so careful:

* Record text is written by thousands of sponsors. A TextBlock reads markdown
  (``[click](https://x)`` becomes a link, ``**`` bold) and ``{{DATE(…)}}``
  functions, so these cards hold no TextBlock at all: every word sits in a
  TextRun of a RichTextBlock, which Adaptive Cards render as plain text. The
  only links are the ones built here, to ClinicalTrials.gov. ``{{`` is broken
  up as well, and control characters dropped.
* A Workflows webhook refuses a message above about 28 KB ("Request Entity
  Too Large"). A card is measured as the bytes of the whole request and kept
  under :data:`MAX_BYTES` by summarising — values cut shorter, then the last
  changes replaced by "…and N more changes" — never by failing.
  :func:`shortened_card` is the small card the notifier sends once if Teams
  refuses a card as too large anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

from watcher.core.digest import Digest, folded_url, in_sections
from watcher.core.render import (
    Alert,
    ChangeLine,
    Notice,
    card_lines,
    change_lines,
    digest_headline,
    event_lines,
    search_link,
    trial_heading,
)
from watcher.core.search_card import SearchEvent
from watcher.core.text import counted, one_line, truncate

MAX_BYTES = 24 * 1024
"""The budget for one request: the documented ~28 KB less room for the flow's own wrapping."""
CARD_VERSION = "1.4"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_TYPE = "application/vnd.microsoft.card.adaptive"
VALUE_LIMITS = (300, 100, 40)
DIGEST_ROWS = 3
TITLE_LIMIT = 500
LABEL_LIMIT = 200  # labels name list items by record text (a facility)
ARROW = " → "

Element = dict[str, Any]
Payload = dict[str, Any]
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def encode(payload: Payload) -> bytes:
    """The request body exactly as sent (and measured)."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def plain(text: str) -> str:
    """Record text made inert: no control characters, no ``{{`` template functions."""
    return _CONTROL_RE.sub("", text).replace("{{", "{\u200b{")


def run(text: str, **style: Any) -> Element:
    """A TextRun: plain text whatever it contains (Adaptive Cards apply no markdown here)."""
    return {"type": "TextRun", "text": plain(text), **style}


def rich(*runs: Element, **props: Any) -> Element:
    return {"type": "RichTextBlock", "inlines": list(runs), **props}


def open_url(title: str, url: str) -> Element:
    return {"type": "Action.OpenUrl", "title": title, "url": url}


def message(body: list[Element], actions: Sequence[Element] = ()) -> Payload:
    """The Workflows request: one Adaptive Card attachment, full width in Teams."""
    card: Payload = {
        "$schema": CARD_SCHEMA,
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "msteams": {"width": "full"},
    }
    if actions:
        card["actions"] = list(actions)
    return {
        "type": "message",
        "attachments": [{"contentType": CARD_TYPE, "contentUrl": None, "content": card}],
    }


def _header(text: str) -> Element:
    return rich(run(truncate(text, 200), size="Large", weight="Bolder"))


def _subtle(text: str) -> Element:
    return rich(run(text, isSubtle=True, size="Small"))


def _row(line: ChangeLine, limit: int) -> Element:
    label = run(f"{one_line(line.label, LABEL_LIMIT)}: ", weight="Bolder")
    if line.summary is not None:
        return rich(label, run(one_line(line.summary, limit)), spacing="Small")
    before = one_line(line.before or "(none)", limit)
    after = one_line(line.after or "(none)", limit)
    return rich(label, run(before), run(ARROW), run(after), spacing="Small")


def _title(alert: Alert, url: str, text: str | None = None) -> Element:
    shown = truncate(text or alert.title or alert.nct_id, TITLE_LIMIT)
    return rich(
        run(shown, color="Accent", weight="Bolder", selectAction=open_url("Open", url)),
    )


def _links(alert: Alert) -> list[Element]:
    links = [open_url("View history", alert.history_url), open_url("Open record", alert.study_url)]
    if alert.page_url is not None:
        links.append(open_url("Trial page", alert.page_url))
    return links


def fit(build: Callable[[int], Payload], count: int, limit: int) -> Payload | None:
    """``build(n)`` for the largest ``n <= count`` that fits ``limit`` bytes; None if 0 does not.

    Sizes grow with ``n``, so a binary search needs about log2(count) builds.
    """
    everything = build(count)
    if len(encode(everything)) <= limit:
        return everything
    low, high = 0, count - 1
    best: Payload | None = None
    while low <= high:
        middle = (low + high) // 2
        candidate = build(middle)
        if len(encode(candidate)) <= limit:
            best, low = candidate, middle + 1
        else:
            high = middle - 1
    return best


def alert_card(alert: Alert, limit: int = MAX_BYTES) -> Payload:
    """The card for one alert (a change set, a notice or a test), under ``limit`` bytes."""
    if alert.test:
        return test_card(alert)
    if alert.notice is not None:
        return notice_card(alert, alert.notice)
    if alert.search is not None:
        return search_card(alert, alert.search, limit)
    lines = change_lines(alert.changes)
    for value_limit in VALUE_LIMITS:

        def build(shown: int, value_limit: int = value_limit) -> Payload:
            return _change_card(alert, lines, shown, value_limit)

        card = fit(build, len(lines), limit)
        if card is not None:
            return card
    return shortened_card(alert)


def _change_card(alert: Alert, lines: list[ChangeLine], shown: int, limit: int) -> Payload:
    body = [
        _header(f"{alert.nct_id} · {alert.headline}"),
        _title(alert, alert.study_url),
        *(rich(run(text, weight="Bolder")) for text in event_lines(alert.events)),
        *(_row(line, limit) for line in lines[:shown]),
    ]
    if shown < len(lines):
        more = f"…and {counted(len(lines) - shown, 'more change')}; see the history"
        body.append(rich(run(more, italic=True)))
    body.append(_subtle(f"Last update posted {alert.last_update_posted or '—'}"))
    return message(body, _links(alert))


def search_card(alert: Alert, event: SearchEvent, limit: int = MAX_BYTES) -> Payload:
    """A search's news: what happened and where, the trial (linked), its facts."""
    for value_limit in VALUE_LIMITS:
        facts = card_lines(alert, event, value_limit)

        def build(shown: int, facts: list[tuple[str, str]] = facts) -> Payload:
            return _search_card(alert, event, facts, shown)

        card = fit(build, len(facts), limit)
        if card is not None:
            return card
    return shortened_card(alert)


def _search_card(
    alert: Alert, event: SearchEvent, facts: list[tuple[str, str]], shown: int
) -> Payload:
    url, label = search_link(alert, event)
    body = [
        _header(f"{event.words} · {event.search}"),
        _title(alert, alert.study_url, trial_heading(alert)),
        *(_fact(name, words) for name, words in facts[:shown]),
    ]
    if shown < len(facts):
        body.append(rich(run(f"…and {counted(len(facts) - shown, 'more line')}", italic=True)))
    body.append(_subtle(f"Search “{event.search}” · ClinicalTrials.gov"))
    links = [open_url(label, url)]
    if url != alert.study_url:
        links.append(open_url("Open record", alert.study_url))
    return message(body, links)


def _fact(name: str, words: str) -> Element:
    return rich(
        run(f"{one_line(name, LABEL_LIMIT)}: ", weight="Bolder"), run(words), spacing="Small"
    )


def shortened_card(alert: Alert) -> Payload:
    """A small card for an alert Teams refused as too large: the facts and the links.

    Notices and tests are small already; they are sent as they are.
    """
    if alert.notice is not None or alert.test:
        return alert_card(alert)
    if alert.search is not None:  # the facts are the card: keep what happened and the trial
        body = [
            _header(f"{alert.search.words} · {alert.search.search}"),
            _title(alert, alert.study_url, truncate(trial_heading(alert), 200)),
        ]
        return message(body, [open_url("Open record", alert.study_url)])
    count = len(change_lines(alert.changes))
    body = [
        _header(f"{alert.nct_id} · {alert.headline}"),
        _title(alert, alert.study_url, truncate(alert.title or alert.nct_id, 200)),
        rich(run(f"{counted(count, 'change')}: too long to show here; see the history.")),
    ]
    return message(body, _links(alert))


def digest_card(
    alerts: Sequence[Alert], limit: int = MAX_BYTES, *, digest: Digest | None = None
) -> Payload:
    """One card for many changed trials; those that do not fit are counted at the end
    (linked to the whole list when the web UI's address is known)."""

    grouped, starts = in_sections(digest, alerts)  # by watch or search

    def build(shown: int) -> Payload:
        return _digest(grouped, shown, digest, starts)

    return fit(build, len(grouped), limit) or shortened_digest(grouped, digest=digest)


def _digest(
    alerts: Sequence[Alert], shown: int, digest: Digest | None, starts: dict[int, str]
) -> Payload:
    body = [_header(digest.headline if digest is not None else digest_headline(alerts))]
    for index, alert in enumerate(alerts[:shown]):
        if index in starts:
            body.append(rich(run(truncate(starts[index], 200), weight="Bolder")))
        body.append({"type": "Container", "items": _digest_entry(alert), "separator": True})
    if shown < len(alerts):
        rest = ", ".join(a.nct_id or a.headline for a in alerts[shown:])
        body.append(rich(run(truncate(f"…and {len(alerts) - shown} more: {rest}", 2000))))
    body += [_subtle(note) for note in (digest.notes if digest is not None else ())]
    body.append(_subtle("Each trial links to its history on ClinicalTrials.gov."))
    more = folded_url(digest, alerts[shown:]) if shown < len(alerts) else None
    return message(body, [open_url(f"See the other {len(alerts) - shown}", more)] if more else [])


def _digest_entry(alert: Alert) -> list[Element]:
    """A trial's heading (linked to its history) and its first changes; or a notice."""
    if alert.notice is not None:
        heading = run(f"ctwatch · {alert.notice.headline}", weight="Bolder")
        return [rich(heading), rich(run(truncate(alert.notice.body, 300)))]
    if alert.search is not None:
        url = search_link(alert, alert.search)[0]
        heading_text = truncate(trial_heading(alert), 300)
        facts = card_lines(alert, alert.search, 100)[:DIGEST_ROWS]
        return [
            _title(alert, url, heading_text),
            _subtle(alert.search.headline),
            *(_fact(name, words) for name, words in facts),
        ]
    lines = change_lines(alert.changes)
    heading_text = truncate(f"{alert.nct_id} — {alert.title or alert.headline}", 300)
    entry = [_title(alert, alert.history_url, heading_text)]
    entry += [rich(run(text, weight="Bolder")) for text in event_lines(alert.events)[:2]]
    entry += [_row(line, 100) for line in lines[:DIGEST_ROWS]]
    if len(lines) > DIGEST_ROWS:
        entry.append(_subtle(f"+{len(lines) - DIGEST_ROWS} more changes"))
    return entry


def shortened_digest(alerts: Sequence[Alert], *, digest: Digest | None = None) -> Payload:
    """A small digest: the count and the NCT IDs."""
    ids = ", ".join(a.nct_id or a.headline for a in alerts)
    body = [
        _header(digest.headline if digest is not None else digest_headline(alerts)),
        rich(run(truncate(ids, 2000))),
        _subtle("Open each trial's history on ClinicalTrials.gov."),
    ]
    return message(body)


def test_card(alert: Alert) -> Payload:
    """A clearly marked test message for ``ctwatch test-alert``."""
    text = f"[TEST] ctwatch {alert.title}: delivery works. No trial changed."
    return message([_header("ctwatch test alert"), rich(run(text))])


def notice_card(alert: Alert, notice: Notice) -> Payload:
    """News about the watching itself (checks failing, a trial gone)."""
    body = [_header(f"ctwatch · {notice.headline}"), rich(run(truncate(notice.body, 3000)))]
    actions = [open_url("View history", alert.history_url)] if alert.nct_id else []
    return message(body, actions)
