"""Webhook notifier: signed JSON events POSTed to receivers (Standard Webhooks).

Why Standard Webhooks: a receiver can check every request with an
off-the-shelf library (``standardwebhooks`` for Python, and others) instead
of code written for ctwatch. Each request carries:

* ``webhook-id`` — ``msg_<outbox row>_<queued at>``, the same on every retry
  of one alert, so a receiver that saw it already can answer 2xx and drop
  it (delivery is at-least-once: a retry after a lost answer is normal);
* ``webhook-timestamp`` — Unix seconds of this attempt (receivers reject
  stale ones, which stops replays);
* ``webhook-signature`` — ``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``
  with the ``[webhooks] secret``, when one is configured.

Answers: 2xx delivered; 410 gone for good; 408, 429 (``Retry-After``
honoured), 5xx, time-outs and dropped connections retried through the
outbox; 3xx and other 4xx fail for good with the reason. The URL may carry
a secret: it is looked up by reference and appears in no message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from watcher.alerts.channel import ChannelDeps, ChannelKind, urls_of
from watcher.alerts.http_post import Mask, Unreachable, failure, post, resolve_url
from watcher.alerts.notifier import DeliveryError
from watcher.alerts.webhook_payload import build_digest_payload, build_payload, encode, message_id
from watcher.config import Config, WebhooksConfig
from watcher.config.destinations import DestinationKeys
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.redact import redact
from watcher.timeutil import Clock, utc_now

GONE = 410


def fresh_message_id() -> str:
    """A fresh id for a test event (never queued, so nothing to keep stable)."""
    return f"msg_test_{uuid.uuid4().hex}"


class WebhookNotifier:
    """Posts one signed JSON event per alert to webhook receivers."""

    digest_over: int | None = None  # one event per alert: receivers want them one by one

    def __init__(
        self,
        section: WebhooksConfig,
        urls: Mapping[Destination, str],
        *,
        mask: Mask = redact,
        clock: Clock = utc_now,
        new_id: Callable[[], str] = fresh_message_id,
    ) -> None:
        """``section``: ``[webhooks]`` (signing secret, time-out); ``urls``: each
        destination's receiver URL, by reference (:func:`urls_of`)."""
        from standardwebhooks.webhooks import Webhook

        secret = section.secret
        self._urls = dict(urls)
        self._signer = Webhook(secret.get_secret_value()) if secret is not None else None
        self._timeout = section.timeout.total_seconds()
        self._mask = mask
        self._clock = clock
        self._new_id = new_id

    def send(self, destination: Destination, alert: Alert) -> None:
        msg_id = message_id(alert) or self._new_id()
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        self._post(destination, msg_id, now, encode(build_payload(alert, msg_id, now)))

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        """A busy cycle: one event per alert (receivers want them one by one); a scheduled
        digest: one ``digest`` event listing every change, with its own webhook-id."""
        if not digest.scheduled:
            for alert in digest.alerts:
                self.send(destination, alert)
            return
        queued = digest.queued
        msg_id = f"msg_{queued.key}" if queued is not None else self._new_id()
        now = self._clock().astimezone(UTC).replace(microsecond=0)
        self._post(destination, msg_id, now, encode(build_digest_payload(digest, msg_id, now)))

    def _post(self, destination: Destination, msg_id: str, now: datetime, body: str) -> None:
        url = resolve_url(self._urls, destination)
        where = destination.describe()
        try:
            answer = post(url, body.encode("utf-8"), self.headers(msg_id, now, body), self._timeout)
        except Unreachable as exc:
            raise DeliveryError(self._mask(f"cannot reach {where} ({exc})")) from None
        if answer.ok:
            return
        if answer.status == GONE:
            raise DeliveryError(
                f"{where} answered HTTP 410: gone (the receiver wants no more events)",
                permanent=True,
            )
        raise failure(where, answer, self._mask)

    def headers(self, msg_id: str, now: datetime, body: str) -> dict[str, str]:
        """The Standard Webhooks headers for one attempt (signed when a secret is set)."""
        headers = {
            "Content-Type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
        }
        if self._signer is not None:
            headers["webhook-signature"] = self._signer.sign(msg_id, now, body)
        return headers


def _notifier(config: Config, deps: ChannelDeps) -> WebhookNotifier:
    """Always built: with no URL configured, its queued alerts fail as no longer configured."""
    urls = urls_of(config, "webhook")
    return WebhookNotifier(config.webhooks, urls, mask=deps.mask, clock=deps.clock)


WEBHOOK = ChannelKind("webhook", _notifier, DestinationKeys.channel_keys()["webhook"], "webhooks")
"""``webhook = ["${HOOK_URL}", …]``: signed JSON events, URLs by reference; ``[webhooks]``."""
