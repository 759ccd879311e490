"""The Notifier protocol: the last hop of an alert, one class per kind of destination.

Every notifier satisfies :class:`Notifier`. A send either returns (the
destination confirmed it) or raises :class:`DeliveryError`, whose ``permanent``
flag tells the outbox whether to retry later (HTTP 5xx, 429, time-outs, SMTP
4xx) or to give up and show the error (invalid_auth, channel_not_found,
SMTP 5xx), and whose ``partial`` says which targets of a multi-target
destination got it. Messages are masked again before they are stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert


@dataclass(frozen=True)
class PartialOutcome:
    """A destination with several targets (email recipients) that answered per target."""

    accepted: tuple[str, ...]
    retry: tuple[str, ...]
    """Refused for now (SMTP 4xx): tried again later, alone."""
    failed: tuple[str, ...]
    """Refused for good (SMTP 5xx)."""
    retry_reason: str = ""
    failed_reason: str = ""


class DeliveryError(Exception):
    """A send that did not go through (or went through for some targets only)."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool = False,
        retry_after: float | None = None,
        partial: PartialOutcome | None = None,
    ) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.retry_after = retry_after
        self.partial = partial


class Notifier(Protocol):
    """Sends rendered alerts to one kind of destination."""

    digest_over: int | None
    """More alerts than this for one destination in one go: send one digest."""

    def send(self, destination: Destination, alert: Alert) -> None:
        """Send one alert; raise DeliveryError when it did not go through."""

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        """Send many alerts as one message (a busy cycle, a scheduled digest, the end of
        quiet hours); raise DeliveryError on failure."""
