"""Alerts -> email messages: multipart/alternative, safe headers.

Why careful headers: the subject carries record text (the headline change), and
record text may contain CR/LF; written into a header it could inject ``Bcc:``
lines. Every control character is replaced before it reaches a header, and the
addresses come only from the config. The HTML part is fully escaped.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr

from watcher.core.digest import Digest, digest_text
from watcher.core.render import (
    Alert,
    card_lines,
    change_lines,
    console_text,
    event_lines,
    search_link,
    trial_heading,
)
from watcher.core.search_card import SearchEvent
from watcher.core.text import one_line

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
SUBJECT_LIMIT = 180


def header_safe(text: str, limit: int = SUBJECT_LIMIT) -> str:
    """One line, no control characters, at most ``limit`` characters."""
    return one_line(_CONTROL.sub(" ", text), limit)


def subject(alert: Alert) -> str:
    """``[ctwatch] NCT… — <headline change>`` (a notice without a trial: no NCT ID)."""
    if not alert.nct_id:
        return header_safe(f"[ctwatch] {alert.headline}")
    if alert.search is not None:  # the trial's title decides whether to open it
        event = alert.search
        return header_safe(f"[ctwatch] {event.words} in “{event.search}”: {trial_heading(alert)}")
    return header_safe(f"[ctwatch] {alert.nct_id} — {alert.headline}")


def html_body(alert: Alert) -> str:
    """A small table of field / before / after, and the history link."""
    esc = html.escape
    if alert.notice is not None:
        url, nct = esc(alert.history_url), esc(alert.nct_id)
        link = f'<p><a href="{url}">{nct} on ClinicalTrials.gov</a></p>' if alert.nct_id else ""
        return (
            '<!doctype html><html><body style="font-family:sans-serif">'
            f"<h2>ctwatch: {esc(alert.notice.headline)}</h2><p>{esc(alert.notice.body)}</p>"
            f"{link}</body></html>"
        )
    if alert.search is not None:
        return _search_html(alert, alert.search)
    events = "".join(f"<li>{esc(text)}</li>" for text in event_lines(alert.events))
    headlines = f'<ul style="font-family:sans-serif">{events}</ul>' if events else ""
    rows = []
    for line in change_lines(alert.changes):
        before = line.before if line.summary is None else ""
        after = line.after if line.summary is None else line.summary
        rows.append(
            f"<tr><td><b>{esc(line.label)}</b></td><td>{esc(before or '—')}</td>"
            f"<td>{esc(after or '—')}</td></tr>"
        )
    if alert.test:
        rows = [
            '<tr><td colspan="3">This is a test alert from ctwatch; no field changed.</td></tr>'
        ]
    link = (
        f'<p style="font-family:sans-serif"><a href="{esc(alert.history_url)}">'
        f"{esc(_link_text(alert))}</a></p>"
        if alert.nct_id
        else ""  # a search's test alert names no trial
    )
    if alert.page_url is not None:
        link += (
            f'<p style="font-family:sans-serif"><a href="{esc(alert.page_url)}">'
            "The trial's page on ctwatch</a></p>"
        )
    return (
        "<!doctype html><html><body>"
        f'<h2 style="font-family:sans-serif">{esc(trial_heading(alert))}</h2>{headlines}'
        '<table border="1" cellpadding="6" cellspacing="0" style="border-collapse:collapse;'
        'font-family:sans-serif"><tr><th align="left">Field</th><th align="left">Before</th>'
        f'<th align="left">After</th></tr>{"".join(rows)}</table>{link}</body></html>'
    )


def _search_html(alert: Alert, event: SearchEvent) -> str:
    """A search's news: what happened, the trial (linked), its card as a table."""
    esc = html.escape
    url, label = search_link(alert, event)
    rows = "".join(
        f"<tr><td><b>{esc(name)}</b></td><td>{esc(words)}</td></tr>"
        for name, words in card_lines(alert, event)
    )
    title = trial_heading(alert)
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h2>{esc(event.words)} · search “{esc(event.search)}”</h2>"
        f'<p><a href="{esc(alert.study_url)}"><b>{esc(title)}</b></a></p>'
        '<table border="1" cellpadding="6" cellspacing="0" style="border-collapse:collapse">'
        f'{rows}</table><p><a href="{esc(url)}">{esc(label)} on ClinicalTrials.gov</a></p>'
        "</body></html>"
    )


def _link_text(alert: Alert) -> str:
    if alert.history_label == "View history":
        return "View the history of changes on ClinicalTrials.gov"
    return f"{alert.history_label} on ClinicalTrials.gov"


def digest_html(digest: Digest) -> str:
    """One page: the headline, each alert's own section, the notes and the link to the rest."""
    esc = html.escape
    sections = "".join(
        (f"<h2>{esc(label)}</h2>" if label is not None else "")
        + "".join(_inner(html_body(alert)) + "<hr>" for alert in alerts)
        for label, alerts in digest.sections()
    )
    notes = "".join(f"<p><i>{esc(note)}</i></p>" for note in digest.notes)
    more = (
        f'<p><a href="{esc(digest.more_url)}">All changes of this digest</a></p>'
        if digest.more_url
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f"<h1>{esc(digest.headline)}</h1>{sections}{notes}{more}</body></html>"
    )


def _inner(page: str) -> str:
    """An alert page's body content (each alert's HTML is a whole small page)."""
    start = page.find("<body")
    start = page.find(">", start) + 1 if start >= 0 else 0
    end = page.rfind("</body>")
    return page[start : end if end >= 0 else len(page)]


def build_digest(
    digest: Digest, sender: str, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """A scheduled digest as one mail: the headline as subject, text and HTML parts."""
    return _message(
        header_safe(digest.headline),
        digest_text(digest),
        digest_html(digest),
        sender=sender,
        recipients=recipients,
        now=now,
    )


def build_message(
    alert: Alert, sender: str, recipients: Sequence[str], now: datetime
) -> EmailMessage:
    """The whole message: headers, text part, HTML part."""
    return _message(
        subject(alert),
        console_text(alert),
        html_body(alert),
        sender=sender,
        recipients=recipients,
        now=now,
    )


def _message(
    subject_line: str,
    text: str,
    page: str,
    *,
    sender: str,
    recipients: Sequence[str],
    now: datetime,
) -> EmailMessage:
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = subject_line
    message["From"] = header_safe(sender, 300)
    message["To"] = ", ".join(header_safe(r, 300) for r in recipients)
    message["Date"] = format_datetime(now)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "ctwatch.invalid"
    message["Message-ID"] = make_msgid("ctwatch", domain=header_safe(domain, 100))
    # quoted-printable keeps every line short (SMTP allows 998 octets) for any text
    message.set_content(text, cte="quoted-printable")
    message.add_alternative(page, subtype="html", cte="quoted-printable")
    return message
