"""Delivery of outbox rows: claim, render, send, mark.

Why an outbox: the alert row is committed with the version it describes, so a
notifier outage or a crash between detecting and sending loses nothing. Rows
are marked sent only after the destination confirmed; transient failures wait
with exponential backoff; permanent ones are marked failed with the reason and
never block other rows. Delivery is at-least-once: a process killed after the
send but before the mark sends again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial

from watcher.alerts.notifier import DeliveryError, Notifier
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.render import Alert
from watcher.store import OutboxClaim, Store
from watcher.timeutil import Clock, iso, utc_now

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=5)
MAX_ATTEMPTS = 20  # about five days of backoff: then the row fails visibly
FIRST_RETRY = 60.0
MAX_RETRY = 6 * 3600.0


@dataclass
class DeliveryReport:
    """Counts for the summary line and the daemon's log."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: 1 min, 2, 4, … capped at 6 h; Retry-After wins."""
    delay = min(FIRST_RETRY * (2 ** max(attempts - 1, 0)), MAX_RETRY)
    return float(max(delay, retry_after or 0.0))


@dataclass
class Deliverer:
    """Sends due outbox rows through the notifiers."""

    store: Store
    notifiers: Mapping[str, Notifier]
    clock: Clock = utc_now

    def deliver(self, *, force: bool = False) -> DeliveryReport:
        """Send what is due; ``force`` also sends rows still in backoff."""
        now = self.clock()
        claims = self.store.outbox.claim_due(iso(now), iso(now + LEASE), force=force)
        report = DeliveryReport()
        by_destination: dict[Destination, list[OutboxClaim]] = {}
        for claim in claims:
            by_destination.setdefault(claim.destination, []).append(claim)
        for key, group in by_destination.items():
            self._deliver_group(key, group, report)
        return report

    def _deliver_group(
        self, destination: Destination, group: list[OutboxClaim], report: DeliveryReport
    ) -> None:
        notifier = self.notifiers.get(destination.kind)
        if notifier is None:
            for claim in group:
                self._failed(claim, f"{destination.describe()} is no longer configured", report)
            return
        # alerts are built inside the guarded send: a failure reading one back from
        # the store is retried like any other, never leaving leased rows stranded
        limit = notifier.digest_over
        if limit is not None and len(group) > limit:

            def digest() -> None:
                notifier.send_digest(destination, self.alerts_for(group))

            self._send(group, digest, report)
            return
        for claim in group:
            self._send([claim], partial(self._send_one, notifier, destination, claim), report)

    def _send_one(self, notifier: Notifier, destination: Destination, claim: OutboxClaim) -> None:
        notifier.send(destination, self.alerts_for([claim])[0])

    def alerts_for(self, claims: Sequence[OutboxClaim]) -> list[Alert]:
        """Rebuild alerts from the stored versions and each row's field selection.

        The claims already carry title and date; the changes of all their
        versions are read in one query.
        """
        changes = self.store.versions.changes_of([c.version_id for c in claims])
        return [_alert(claim, changes.get(claim.version_id, ())) for claim in claims]

    def _send(
        self, claims: Sequence[OutboxClaim], send: Callable[[], None], report: DeliveryReport
    ) -> None:
        destination = claims[0].destination.describe()
        try:
            send()
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a notifier or library surprise must not strand other rows
            log.exception("unexpected error sending to %s", destination)
            error = DeliveryError(f"unexpected {exc.__class__.__name__}: {exc}")
        else:
            now = iso(self.clock())
            for claim in claims:
                self.store.outbox.mark_sent(claim.id, now)
                report.sent += 1
            return
        for claim in claims:
            if error.permanent or claim.attempts + 1 >= MAX_ATTEMPTS:
                reason = (
                    str(error)
                    if error.permanent
                    else f"gave up after {MAX_ATTEMPTS} tries: {error}"
                )
                self._failed(claim, reason, report)
            else:
                delay = retry_delay(claim.attempts + 1, error.retry_after)
                when = iso(self.clock() + timedelta(seconds=delay))
                self.store.outbox.mark_retry(claim.id, str(error), when)
                report.retrying += 1
                log.warning(
                    "alert for %s to %s not sent (%s); retry at %s",
                    claim.nct_id, destination, error, when,
                )  # fmt: skip
        report.errors.append(f"{destination}: {error}")

    def _failed(self, claim: OutboxClaim, error: str, report: DeliveryReport) -> None:
        self.store.outbox.mark_failed(claim.id, error)
        report.failed += 1
        log.error(
            "alert for %s to %s failed for good: %s",
            claim.nct_id, claim.destination.describe(), error,
        )  # fmt: skip


def _alert(claim: OutboxClaim, changes: tuple[FieldChange, ...]) -> Alert:
    if claim.paths is not None:
        wanted = set(claim.paths)
        changes = tuple(c for c in changes if c.path in wanted)
    return Alert(claim.nct_id, claim.title, changes, claim.last_update_posted)
