"""Delivery: the outbox worker's decisions (retry, give up, permanent) and its leases."""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.support.slack_double import SlackDouble
from tests.support.slack_setup import ENV, baseline_then_change, slack_config
from watcher.alerts.delivery import Deliverer, retry_delay
from watcher.alerts.notifier import DeliveryError
from watcher.alerts.routing import build_routes
from watcher.app import App
from watcher.config import load_config
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.core.snapshot import take_snapshot
from watcher.store import ChangeRow, OutboxRow, Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study
from watcher.timeutil import iso


def test_killed_sender_rows_go_out_at_once_on_the_next_run(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    """A sender that died mid-send leaves its lease behind; the next run ignores it at once."""
    config_path = slack_config(tmp_path, registry, slack, [SEED_NCT])
    baseline_then_change(config_path, registry, status="SUSPENDED")
    config = load_config(config_path, ENV)
    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    sink = io.StringIO()
    app = App.build(config, out=sink, clock=lambda: now)
    app.pipeline.run_cycle(config.trials, build_routes(config))
    (destination,) = app.store.outbox.due_destinations(iso(now), force=True)
    claims = app.store.outbox.claim(destination, iso(now), "dead-host:4242:x", force=True)
    assert len(claims) == 1  # leased by a process that then dies before marking it
    app.close()
    later = App.build(config, out=sink, clock=lambda: now + timedelta(seconds=5))
    assert later.deliver().sent == 1  # no five-minute wait for an expired lease
    later.close()
    assert len(slack.messages) == 1


class ScriptedNotifier:
    """A Notifier that answers each send with the next scripted outcome (None = accepted)."""

    digest_over: int | None = None

    def __init__(self, *outcomes: DeliveryError | None) -> None:
        self.outcomes = list(outcomes)
        self.sent: list[tuple[Destination, str]] = []

    def send(self, destination: Destination, alert: Alert) -> None:
        outcome = self.outcomes.pop(0) if self.outcomes else None
        if outcome is not None:
            raise outcome
        self.sent.append((destination, alert.nct_id))

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        alerts = digest.alerts
        for alert in alerts:
            self.send(destination, alert)


T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
STATUS = "protocolSection.statusModule.overallStatus"


def at(moment: datetime) -> Callable[[], datetime]:
    """A clock stopped at ``moment``."""
    return lambda: moment


def store_with_alert(tmp_path: Path, destination: Destination) -> Store:
    store = Store.open(tmp_path / "ctwatch.db")
    store.versions.record_version(take_snapshot(SEED_NCT, seed_study()), [], [], iso(T0))
    snap = take_snapshot(SEED_NCT, changed(seed_study(), status="SUSPENDED"))
    row = ChangeRow(STATUS, "Overall Status", "changed", '"RECRUITING"', '"SUSPENDED"')
    store.versions.record_version(snap, [row], [OutboxRow(destination, None)], iso(T0))
    return store


def test_retry_delay_doubles_from_a_minute_to_six_hours_and_retry_after_wins() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 4)] == [60.0, 120.0, 240.0, 480.0]
    assert retry_delay(30) == 6 * 3600.0
    assert retry_delay(1, retry_after=900.0) == 900.0
    assert retry_delay(5, retry_after=1.0) == retry_delay(5)  # a shorter hint never hurries


def test_transient_failure_waits_then_is_sent_once(tmp_path: Path) -> None:
    store = store_with_alert(tmp_path, Destination.slack("#a"))
    notifier = ScriptedNotifier(DeliveryError("Slack server error (HTTP 503)"))
    deliverer = Deliverer(store, {"slack": notifier}, clock=lambda: T0)
    first = deliverer.deliver()
    assert (first.sent, first.retrying, first.failed) == (0, 1, 0)
    (problem,) = store.outbox.problems()
    assert problem.next_attempt_at == iso(T0 + timedelta(minutes=1))
    assert deliverer.deliver().sent == 0  # still backing off
    later = Deliverer(store, {"slack": notifier}, clock=lambda: T0 + timedelta(minutes=2))
    assert later.deliver().sent == 1
    assert later.deliver().sent == 0  # sent once, never again
    assert notifier.sent == [(Destination.slack("#a"), SEED_NCT)]
    store.close()


def test_permanent_failure_is_failed_at_once_with_its_reason(tmp_path: Path) -> None:
    store = store_with_alert(tmp_path, Destination.slack("#a"))
    notifier = ScriptedNotifier(DeliveryError("Slack #a: channel_not_found", permanent=True))
    report = Deliverer(store, {"slack": notifier}, clock=lambda: T0).deliver(force=True)
    assert (report.sent, report.retrying, report.failed) == (0, 0, 1)
    (problem,) = store.outbox.problems()
    assert (problem.status, problem.last_error) == ("failed", "Slack #a: channel_not_found")
    store.close()


def test_gives_up_by_age_not_by_count_of_tries(tmp_path: Path) -> None:
    store = store_with_alert(tmp_path, Destination.slack("#a"))
    outage = [DeliveryError("Slack server error (HTTP 503)")] * 200
    notifier = ScriptedNotifier(*outage)
    # a */5 cron forcing a try every five minutes through a two-hour outage
    for minute in range(0, 120, 5):
        Deliverer(store, {"slack": notifier}, clock=at(T0 + timedelta(minutes=minute))).deliver(
            force=True
        )
    (problem,) = store.outbox.problems()
    assert problem.status == "pending" and problem.attempts == 24  # still trying
    notifier.outcomes = []
    assert (
        Deliverer(store, {"slack": notifier}, clock=lambda: T0 + timedelta(hours=3))
        .deliver(force=True)
        .sent
        == 1
    )
    assert notifier.sent == [(Destination.slack("#a"), SEED_NCT)]
    store.close()


def test_an_alert_older_than_give_up_after_fails_with_its_age(tmp_path: Path) -> None:
    store = store_with_alert(tmp_path, Destination.slack("#a"))
    notifier = ScriptedNotifier(DeliveryError("Slack server error (HTTP 503)"))
    five_days = T0 + timedelta(days=5)
    report = Deliverer(store, {"slack": notifier}, clock=lambda: five_days).deliver(force=True)
    assert report.failed == 1
    (problem,) = store.outbox.problems()
    assert problem.status == "failed"
    assert problem.last_error == "gave up after 5d of failed tries: Slack server error (HTTP 503)"
    store.close()


def test_a_destination_no_longer_configured_fails_visibly(tmp_path: Path) -> None:
    store = store_with_alert(tmp_path, Destination.email(["team@example.org"]))
    report = Deliverer(store, {"slack": ScriptedNotifier()}, clock=lambda: T0).deliver()
    assert report.failed == 1
    (problem,) = store.outbox.problems()
    assert problem.last_error == "email team@example.org is no longer configured"
    store.close()
