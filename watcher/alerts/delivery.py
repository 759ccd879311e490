"""Delivery of outbox rows: claim a destination's rows, render, send, mark.

Why an outbox: the alert row is committed with the version it describes, so a
notifier outage or a crash between detecting and sending loses nothing. Rows
are claimed one destination at a time, just before that destination is tried,
and marked sent only after it confirmed; transient failures wait with
exponential backoff; permanent ones are marked failed with the reason and
never block other rows. An alert is given up by *age* (``give_up_after``,
default five days), never by a count of tries, so frequent forced retries
during an outage cannot use up its chances. Delivery is at-least-once: a
process killed after the send but before the mark sends again next time.

The caller holds the store's process lock: one sender per database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from watcher.alerts.digests import Digester
from watcher.alerts.notifier import DeliveryError, Notifier, PartialOutcome
from watcher.alerts.routing import same_channel
from watcher.config.types import format_duration
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.digest import Digest, by_trial
from watcher.core.events import Event
from watcher.core.events.model import event_from_json
from watcher.core.render import Alert, Notice, Queued, changes_url
from watcher.core.search_card import OUTBOX_KINDS, read_payload
from watcher.store import Mute, OutboxClaim, Store
from watcher.store.digests import DIGEST_KIND
from watcher.timeutil import Clock, iso, parse_iso, utc_now

log = logging.getLogger(__name__)

GIVE_UP_AFTER = timedelta(days=5)
SEARCH_KINDS = frozenset(OUTBOX_KINDS.values())
FIRST_RETRY = 60.0
MAX_RETRY = 6 * 3600.0


@dataclass
class DeliveryReport:
    """Counts for the summary line and the daemon's log."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    muted: int = 0
    errors: list[str] = field(default_factory=list)


def retry_delay(attempts: int, retry_after: float | None = None) -> float:
    """Seconds before the next try: 1 min, 2, 4, … capped at 6 h; Retry-After wins."""
    delay = min(FIRST_RETRY * (2 ** min(max(attempts - 1, 0), 30)), MAX_RETRY)
    return float(max(delay, min(retry_after or 0.0, MAX_RETRY)))


@dataclass
class Deliverer:
    """Sends due outbox rows through the notifiers."""

    store: Store
    notifiers: Mapping[str, Notifier]
    clock: Clock = utc_now
    give_up_after: timedelta = GIVE_UP_AFTER
    site: str | None = None
    """``[server] public_url``: alerts link to the trial's page there."""
    digester: Digester | None = None
    """Holds rows for digests and quiet hours and writes the digests that are due."""
    groups_of: Callable[[Destination], Mapping[str, str]] | None = None
    """A destination's trials -> the watch or search they come through (digest sections)."""

    def deliver(self, *, force: bool = False) -> DeliveryReport:
        """Send what is due; ``force`` also sends rows still in backoff.

        Held rows are never forced: ``force`` is about retries, not schedules.
        """
        report = DeliveryReport()
        if self.digester is not None:
            self.digester.run()
        owner = self.store.lock.owner
        mutes = self.store.mutes.active(iso(self.clock()))
        for destination in self.store.outbox.due_destinations(iso(self.clock()), force=force):
            claims = self.store.outbox.claim(destination, iso(self.clock()), owner, force=force)
            here = _muted_here(destination, mutes)
            claims = self._hold_muted(claims, here, report)
            if claims:
                self._deliver_group(destination, claims, report, muted=frozenset(here))
        return report

    def _hold_muted(
        self, claims: list[OutboxClaim], here: Mapping[str, Mute], report: DeliveryReport
    ) -> list[OutboxClaim]:
        """Mark the claims of muted trials ``muted`` (a Slack channel's *Mute 7 days*)."""
        if not here:
            return claims
        held = [(c.id, _muted(here[c.nct_id])) for c in claims if c.nct_id in here]
        if held:
            self.store.outbox.mark_muted(held)
        report.muted += len(held)
        return [c for c in claims if c.nct_id not in here]

    def _deliver_group(
        self,
        destination: Destination,
        group: list[OutboxClaim],
        report: DeliveryReport,
        *,
        muted: frozenset[str] = frozenset(),
    ) -> None:
        notifier = self.notifiers.get(destination.kind)
        if notifier is None:
            for claim in group:
                self._failed(claim, f"{destination.describe()} is no longer configured", report)
            return
        # alerts are built inside the guarded send: a failure reading one back from
        # the store is retried like any other, never leaving claimed rows stranded
        digests = [c for c in group if c.kind == DIGEST_KIND]
        for claim in digests:
            send = partial(self._send_scheduled, notifier, destination, claim, muted)
            self._send([claim], send, report)
        group = [c for c in group if c.kind != DIGEST_KIND]
        if not group:
            return
        limit = notifier.digest_over
        if limit is not None and len(group) > limit:

            def digest() -> None:
                notifier.send_digest(destination, Digest(tuple(self.alerts_for(group))))

            self._send(group, digest, report)
            return
        for claim in group:
            self._send([claim], partial(self._send_one, notifier, destination, claim), report)

    def _send_one(self, notifier: Notifier, destination: Destination, claim: OutboxClaim) -> None:
        notifier.send(destination, self.alerts_for([claim])[0])

    def _send_scheduled(
        self,
        notifier: Notifier,
        destination: Destination,
        claim: OutboxClaim,
        muted: frozenset[str],
    ) -> None:
        """A digest row: its members, read back as alerts, in one message; trials muted in
        that Slack channel since they were held are left out (as a single alert would be)."""
        digest = self.digest_of(claim)
        if muted:
            digest = replace(
                digest,
                alerts=tuple(a for a in digest.alerts if a.nct_id not in muted),
                members=tuple(a for a in digest.members if a.nct_id not in muted),
            )
        notifier.send_digest(destination, digest)

    def digest_of(self, claim: OutboxClaim) -> Digest:
        """A digest row read back: its members and the urgent rows it counts, as alerts."""
        members, already = self.store.digests.members(claim.id)
        payload = claim.payload or {}
        return self._digest(
            members,
            already,
            reason=str(payload.get("reason") or "digest"),
            period_from=payload.get("period_from"),
            destination=claim.destination,
            slot=payload.get("slot"),
            queued=Queued(claim.id, claim.created_at),
        )

    def preview(self, destination: Destination, timing: str) -> Digest:
        """What ``destination``'s digest would say now (nothing is written or sent)."""
        digests = self.store.digests
        state = digests.state(destination, timing)
        period_from = (state.last_slot or state.since) if state is not None else None
        return self._digest(
            [r.id for r in digests.held(destination, timing)],
            digests.uncounted_urgent(destination),
            reason="digest",
            period_from=period_from,
            destination=destination,
        )

    def _digest(
        self,
        members: Sequence[int],
        already: Sequence[int],
        *,
        reason: str,
        period_from: str | None,
        destination: Destination,
        slot: str | None = None,
        queued: Queued | None = None,
    ) -> Digest:
        alerts = tuple(self.alerts_for(self.store.outbox.claims_of(members)))
        groups = self.groups_of(destination) if self.groups_of is not None else {}
        return Digest(
            by_trial(alerts),
            reason=reason,
            already_sent=tuple(self.alerts_for(self.store.outbox.claims_of(already))),
            period_from=period_from,
            slot=slot,
            queued=queued,
            more_url=changes_url(alerts),
            members=alerts,
            groups=groups,
        )

    def alerts_for(self, claims: Sequence[OutboxClaim]) -> list[Alert]:
        """Rebuild alerts from the stored versions and each row's field selection.

        The claims already carry title and date; the changes of all their
        versions are read in one query.
        """
        ids = [c.version_id for c in claims if c.version_id is not None]
        changes = self.store.versions.changes_of(ids)
        events = self.store.events.of_versions(ids)
        alerts = [
            _alert(c, changes.get(c.version_id or 0, ()), events.get(c.version_id or 0, ()))
            for c in claims
        ]
        return [replace(a, site=self.site) for a in alerts] if self.site else alerts

    def _send(
        self, claims: Sequence[OutboxClaim], send: Callable[[], None], report: DeliveryReport
    ) -> None:
        destination = claims[0].destination.describe()
        try:
            send()
        except DeliveryError as exc:
            error = exc
        except Exception as exc:  # a notifier or library surprise must not strand other rows
            log.debug("unexpected error sending to %s", destination, exc_info=True)
            error = DeliveryError(f"unexpected {exc.__class__.__name__}: {exc}")
        else:
            self.store.outbox.mark_sent([c.id for c in claims], iso(self.clock()))
            report.sent += len(claims)
            return
        report.errors.append(f"{destination}: {self.store.conn.masked(str(error))}")
        if error.partial is not None and len(claims) == 1:
            self._split(claims[0], error, error.partial, report)
            return
        for claim in claims:
            self._settle(claim, error, report)

    def _settle(self, claim: OutboxClaim, error: DeliveryError, report: DeliveryReport) -> None:
        now = self.clock()
        if error.permanent:
            self._failed(claim, str(error), report)
        elif self._too_old(claim, now):
            age = format_duration(self.give_up_after)
            self._failed(claim, f"gave up after {age} of failed tries: {error}", report)
        else:
            when = self._next_try(claim, error, now)
            self.store.outbox.mark_retry(claim.id, str(error), when)
            report.retrying += 1
            log.warning(
                "alert for %s to %s not sent (%s); retry at %s",
                claim.nct_id or "ctwatch", claim.destination.describe(),
                self.store.conn.masked(str(error)), when,
            )  # fmt: skip

    def _split(
        self,
        claim: OutboxClaim,
        error: DeliveryError,
        outcome: PartialOutcome,
        report: DeliveryReport,
    ) -> None:
        """Some targets got it, some may later, some never will: one row for each group."""
        now = self.clock()
        kind = claim.destination.kind
        retry = None
        if outcome.retry:
            if self._too_old(claim, now):
                outcome = PartialOutcome(
                    outcome.accepted,
                    (),
                    outcome.retry + outcome.failed,
                    failed_reason=f"gave up: {outcome.retry_reason or error}",
                )
            else:
                when = self._next_try(claim, error, now)
                retry = (Destination(kind, outcome.retry), outcome.retry_reason or str(error), when)
        self.store.outbox.split(
            claim,
            sent=Destination(kind, outcome.accepted) if outcome.accepted else None,
            retry=retry,
            failed=(
                (Destination(kind, outcome.failed), outcome.failed_reason or str(error))
                if outcome.failed
                else None
            ),
            now=iso(now),
        )
        report.sent += bool(outcome.accepted)
        report.retrying += retry is not None
        report.failed += bool(outcome.failed)

    def _too_old(self, claim: OutboxClaim, now: datetime) -> bool:
        return now - parse_iso(claim.age_from or claim.created_at) >= self.give_up_after

    def _next_try(self, claim: OutboxClaim, error: DeliveryError, now: datetime) -> str:
        delay = retry_delay(claim.attempts + 1, error.retry_after)
        return iso(now + timedelta(seconds=delay))

    def _failed(self, claim: OutboxClaim, error: str, report: DeliveryReport) -> None:
        self.store.outbox.mark_failed(claim.id, error)
        report.failed += 1
        log.error(
            "alert for %s to %s failed for good: %s",
            claim.nct_id or "ctwatch", claim.destination.describe(), self.store.conn.masked(error),
        )  # fmt: skip


def _muted_here(destination: Destination, mutes: Sequence[Mute]) -> dict[str, Mute]:
    """The trials muted in this Slack channel (by ID or by name), with their mute."""
    if destination.kind != "slack":
        return {}
    return {
        m.nct_id: m for m in mutes if same_channel(destination.target, m.channel_id, m.channel_name)
    }


def _muted(mute: Mute) -> str:
    who = f" by {mute.user_id}" if mute.user_id else ""
    return f"muted in this channel{who} until {mute.until}"


def _alert(
    claim: OutboxClaim, changes: tuple[FieldChange, ...], events: tuple[Event, ...] = ()
) -> Alert:
    queued = Queued(claim.id, claim.created_at)
    if claim.kind == "notice":
        payload = claim.payload or {}
        notice = Notice(str(payload.get("headline", "notice")), str(payload.get("body", "")))
        told = event_from_json(payload.get("event"))  # a time event (results due, stale)
        return Alert(
            claim.nct_id, claim.title, (), notice=notice, queued=queued,
            events=(told,) if told is not None else (),
        )  # fmt: skip
    if claim.kind in SEARCH_KINDS:  # the card was stored with the event: no lookups
        event, explained = read_payload(claim.payload or {})
        card = event.card
        return Alert(
            claim.nct_id, card.title or claim.title, explained, card.last_update_posted,
            queued=queued, search=event,
        )  # fmt: skip
    if claim.paths is not None:
        wanted = set(claim.paths)
        changes = tuple(c for c in changes if c.path in wanted)
    old, new = claim.previous_registry_version, claim.registry_version
    compare = (old, new) if old is not None and new is not None else None
    return Alert(
        claim.nct_id, claim.title, changes, claim.last_update_posted, queued=queued,
        compare=compare, change_set=claim.version_id, events=events,
    )  # fmt: skip
