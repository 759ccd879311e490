"""Teams notifier: Adaptive Cards POSTed to Power Automate Workflows webhooks.

Why Workflows: Teams' old "Incoming Webhook" connectors are retired; a
channel's Workflows webhook ("Post to a channel when a webhook request is
received") takes an Adaptive Card and answers 202 Accepted. A 202 says only
that the flow accepted the request: a flow that fails afterwards shows it in
its own run history, not here.

Answers: 2xx accepted; 429 and 5xx (and time-outs) are retried through the
outbox, honouring ``Retry-After``; 400/401/403/404 and other 4xx fail for
good with the reason; a 413 (the card too large for the flow, despite
:mod:`watcher.alerts.teams_card` keeping it under budget) is answered once
with a shortened card before failing. Posts to one URL are paced (at most
four a second, Workflows' throttle). The Workflows URL is a secret: it is
looked up by reference and appears in no message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from watcher.alerts.channel import ChannelDeps, ChannelKind, urls_of
from watcher.alerts.http_post import Answer, Mask, Unreachable, failure, post, resolve_url
from watcher.alerts.notifier import DeliveryError
from watcher.alerts.teams_card import (
    Payload,
    alert_card,
    digest_card,
    encode,
    shortened_card,
    shortened_digest,
)
from watcher.config import Config, TeamsConfig
from watcher.config.destinations import DestinationKeys
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.redact import redact

TOO_LARGE = 413
PACE = 0.25
"""Seconds between two posts to one URL: Workflows throttles above about 4 per second."""


class TeamsNotifier:
    """Posts alerts to Teams channels through their Workflows webhook URLs."""

    def __init__(
        self,
        section: TeamsConfig,
        urls: Mapping[Destination, str],
        mask: Mask = redact,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """``section``: ``[teams]`` (digest threshold, time-out); ``urls``: each
        destination's Workflows URL, by reference (:func:`urls_of`)."""
        self._urls = dict(urls)
        self.digest_over: int | None = section.digest_over
        self._timeout = section.timeout.total_seconds()
        self._mask = mask
        self._sleep = sleep
        self._monotonic = monotonic
        self._last_post: dict[str, float] = {}

    def send(self, destination: Destination, alert: Alert) -> None:
        self._deliver(destination, alert_card(alert), lambda: shortened_card(alert))

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        alerts = digest.alerts
        self._deliver(
            destination,
            digest_card(alerts, digest=digest),
            lambda: shortened_digest(alerts, digest=digest),
        )

    def _deliver(
        self, destination: Destination, card: Payload, shortened: Callable[[], Payload]
    ) -> None:
        """POST the card; on 413 once more, shortened; DeliveryError unless accepted."""
        url = resolve_url(self._urls, destination)
        where = destination.describe()
        answer = self._post(where, url, card)
        if answer.status == TOO_LARGE:
            answer = self._post(where, url, shortened())
            if answer.status == TOO_LARGE:
                raise DeliveryError(
                    f"{where} refused the card as too large (HTTP 413), shortened too",
                    permanent=True,
                )
        if not answer.ok:
            raise failure(where, answer, self._mask)

    def _post(self, where: str, url: str, card: Payload) -> Answer:
        headers = {"Content-Type": "application/json"}
        self._keep_pace(where)
        try:
            return post(url, encode(card), headers, self._timeout)
        except Unreachable as exc:
            raise DeliveryError(self._mask(f"cannot reach {where} ({exc})")) from None

    def _keep_pace(self, where: str) -> None:
        """Wait until PACE seconds have passed since the last post to this destination."""
        last = self._last_post.get(where)
        if last is not None:
            wait = last + PACE - self._monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_post[where] = self._monotonic()


def _notifier(config: Config, deps: ChannelDeps) -> TeamsNotifier:
    """Always built: with no URL configured, its queued alerts fail as no longer configured."""
    return TeamsNotifier(config.teams, urls_of(config, "teams"), deps.mask, sleep=deps.sleep)


TEAMS = ChannelKind("teams", _notifier, DestinationKeys.channel_keys()["teams"], "teams")
"""``teams = ["${TEAMS_URL}", …]``: Workflows URLs, secrets, by reference; ``[teams]``."""
