"""The webhook body: a documented, versioned JSON event for each alert.

Why a schema of its own: integrators feed these events into their own systems
(a CTMS, a data lake, Zapier) and must be able to rely on the shape. So the
body is versioned (``"version": 1``; a field is only ever added within a
version), typed (``type``), identified (``id``, the ``webhook-id`` header:
the same on every retry, for deduplication) and carries both the raw values
and the words people read (the same words as Slack, email and the console,
from :func:`watcher.core.render.change_lines`). docs/setup/webhooks.md documents it.

``type`` is one of :data:`EVENT_TYPES`: ``search.new``, ``search.matches``
and ``search.left`` carry a search's news with the trial's card (``data.card``,
the facts the other renderers show). Values are the recorded ones (a huge value,
such as a whole results section, is recorded as a short gist); a body stays
under :data:`MAX_CHANGES_BYTES` of changes, the rest counted in
``changes_omitted``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, cast, get_args

from watcher.core.diff import FieldChange
from watcher.core.digest import Digest
from watcher.core.render import Alert, card_lines, change_lines
from watcher.timeutil import iso

SCHEMA_VERSION = 1
EventType = Literal[
    "trial.changed",
    "search.new",
    "search.matches",
    "search.left",
    "ctwatch.notice",
    "test",
    "digest",
]
EVENT_TYPES: tuple[str, ...] = get_args(EventType)
MAX_CHANGES_BYTES = 1024 * 1024

Payload = dict[str, Any]


def event_type(alert: Alert) -> EventType:
    if alert.test:
        return "test"
    if alert.notice is not None:
        return "ctwatch.notice"
    if alert.search is not None:
        return cast(EventType, alert.search.outbox_kind)
    return "trial.changed"


def message_id(alert: Alert) -> str | None:
    """``msg_<row>_<queued at>`` for a queued alert (stable across retries); None otherwise."""
    return None if alert.queued is None else f"msg_{alert.queued.key}"


def build_payload(alert: Alert, msg_id: str, now: datetime) -> Payload:
    """The event for ``alert``; ``timestamp`` is when it was queued (``now`` for a test)."""
    kind = event_type(alert)
    return {
        "version": SCHEMA_VERSION,
        "type": kind,
        "id": msg_id,
        "timestamp": alert.queued.at if alert.queued is not None else iso(now),
        "data": _data(alert, kind),
    }


def build_digest_payload(digest: Digest, msg_id: str, now: datetime) -> Payload:
    """A scheduled digest: every change of the period, urgent ones (already told at once)
    marked ``already_sent: true``; ``timestamp`` is when the digest was written."""

    def item(alert: Alert, sent: bool) -> Payload:
        kind = event_type(alert)
        return {"type": kind, "already_sent": sent, "group": digest.label_of(alert)} | _data(
            alert, kind
        )

    items = [item(a, False) for a in digest.alerts] + [item(a, True) for a in digest.already_sent]
    return {
        "version": SCHEMA_VERSION,
        "type": "digest",
        "id": msg_id,
        "timestamp": digest.queued.at if digest.queued is not None else iso(now),
        "data": {
            "headline": digest.headline,
            "reason": digest.reason,
            "period_from": digest.period_from,
            "slot": digest.slot,
            "trials": digest.trial_count,
            "alerts": items,
            "links": {"changes": digest.more_url} if digest.more_url else None,
        },
    }


def encode(payload: Payload) -> str:
    """The body exactly as signed and sent."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _links(nct_id: str, alert: Alert) -> dict[str, str] | None:
    if not nct_id:
        return None
    links = {"study": alert.study_url, "history": alert.history_url}
    return links | {"page": alert.page_url} if alert.page_url is not None else links


def _data(alert: Alert, kind: EventType) -> Payload:
    nct = alert.nct_id or None
    if kind == "test":
        message = "A test event from ctwatch test-alert: delivery works. No trial changed."
        return {"nct_id": nct, "title": alert.title, "message": message}
    if alert.notice is not None:
        notice: Payload = {
            "nct_id": nct,
            "headline": alert.notice.headline,
            "body": alert.notice.body,
            "links": _links(alert.nct_id, alert),
        }
        if alert.events:  # a time event (results due, a stale record) told as a notice
            notice["events"] = [event.as_json() for event in alert.events]
        return notice
    changes, omitted = _changes(alert.changes)
    data: Payload = {
        "nct_id": alert.nct_id,
        "title": alert.title,
        "headline": alert.headline,
        "last_update_posted": alert.last_update_posted,
        "summary": [line.text() for line in change_lines(alert.changes)],
        "events": [event.as_json() for event in alert.events],
        "changes": changes,
        "changes_omitted": omitted,
        "links": _links(alert.nct_id, alert),
    }
    if alert.page_url is not None:
        data["url"] = alert.page_url  # the trial's page on ctwatch ([server] public_url)
    if alert.search is not None:
        event = alert.search
        facts = card_lines(alert, event)
        data |= {
            "search": event.search,
            "event": event.words,
            "card": event.card.to_json(),
            "summary": [f"{name}: {words}" for name, words in facts],
        }
    return data


def _changes(changes: tuple[FieldChange, ...]) -> tuple[list[Payload], int]:
    out: list[Payload] = []
    size = 0
    for index, change in enumerate(changes):
        item = _change(change)
        size += len(encode(item).encode("utf-8"))
        if size > MAX_CHANGES_BYTES:
            return out, len(changes) - index
        out.append(item)
    return out, 0


def _change(change: FieldChange) -> Payload:
    """One change: where, what, how, the raw values and the words for them."""
    (line,) = change_lines([change])
    return {
        "path": change.path,
        "label": change.label,
        "kind": change.kind,
        "old": change.old,
        "new": change.new,
        "display": {
            "text": line.text(),
            "old": line.before,
            "new": line.after,
            "summary": line.summary,
        },
    }
