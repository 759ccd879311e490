"""Digests and quiet hours end to end: the registry double, the pipeline, a webhook receiver.

Each test moves an injected clock; nothing sleeps. The receiver deduplicates on
``webhook-id`` like a real Standard Webhooks consumer, and records every request
(retries included), so "sent once" and "same id on retry" are both visible.
"""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.hook_setup import hook_config
from tests.support.webhook_receiver import WebhookReceiver
from watcher.alerts.routing import build_routes
from watcher.app import App
from watcher.config import Config, load_config
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study
from watcher.timeutil import iso
from watcher.web.metrics import Reading
from watcher.web.metrics import registry as metrics_registry

ENV = {"HOOK_URL": ""}
T0 = datetime(2026, 12, 7, 6, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    """Unsigned: signatures carry the injected clock's time, which a verifier rejects."""
    with WebhookReceiver(None, path="/hooks/digest") as double:
        yield double


class Clock:
    """A clock the test moves."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def setup(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver, timing: str
) -> Config:
    watch = f'webhook = ["${{HOOK_URL}}"]\n{timing}'
    extra = '[webhooks]\ntimeout = "5s"\n'
    path = hook_config(tmp_path, registry, [SEED_NCT], watch, extra=extra)
    env = dict(ENV, HOOK_URL=receiver.url())
    return load_config(path, env)


def cycle(config: Config, clock: Clock, **app_args: object) -> App:
    app = App.build(config, out=io.StringIO(), clock=clock, **app_args)  # type: ignore[arg-type]
    app.check()
    return app


def statuses(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute("SELECT kind, status FROM outbox ORDER BY id").fetchall()


def scrape(tmp_path: Path, now: datetime) -> tuple[float, float]:
    """``ctwatch_digests_sent_total`` and ``ctwatch_alerts_waiting`` as /metrics reports them."""
    store = Store.open(tmp_path / "ctwatch.db")
    try:
        totals = store.stats.totals(iso(now))
    finally:
        store.close()
    text = generate_latest(metrics_registry(lambda: Reading(totals, 1, now))).decode()
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    return samples["ctwatch_digests_sent_total"], samples["ctwatch_alerts_waiting"]


def held_change(config: Config, registry: RegistryDouble) -> Clock:
    """A silent baseline at 06:00, then a status change seen at 07:00 (held): the clock."""
    clock = Clock(T0)
    registry.put(seed_study())
    cycle(config, clock).close()
    publish(registry, status="SUSPENDED")
    clock.now = T0 + timedelta(hours=1)
    cycle(config, clock).close()
    return clock


def publish(registry: RegistryDouble, **edits: str) -> None:
    registry.put(changed(seed_study(), **edits))


def test_daily_digest_holds_changes_and_sends_them_once_at_its_time(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"')
    clock = Clock(T0)
    registry.put(seed_study())
    cycle(config, clock).close()  # silent baseline
    publish(registry, status="SUSPENDED")
    clock.now = T0 + timedelta(hours=1)  # 07:00
    cycle(config, clock).close()
    assert receiver.deliveries == []
    assert statuses(tmp_path) == [("change", "held")]
    assert scrape(tmp_path, clock.now) == (0.0, 1.0)
    clock.now = datetime(2026, 12, 7, 7, 59, tzinfo=UTC)
    cycle(config, clock).close()
    assert receiver.deliveries == []
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    cycle(config, clock).close()
    assert len(receiver.deliveries) == 1
    assert statuses(tmp_path) == [("change", "digested"), ("digest", "sent")]
    assert scrape(tmp_path, clock.now) == (1.0, 0.0)
    clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    cycle(config, clock).close()
    assert len(receiver.ids) == 1  # nothing more: the slot went once


def test_a_daemon_down_at_the_slot_sends_the_missed_digest_once_on_start(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"')
    clock = held_change(config, registry)
    # down for three days: three 08:00 slots pass; one digest covers them
    clock.now = T0 + timedelta(days=3, hours=6)
    asked = len(registry.requests)
    app = App.build(config, out=io.StringIO(), clock=clock)
    app.deliver()
    app.deliver()
    app.close()
    assert len(receiver.ids) == 1
    assert len(registry.requests) == asked  # deciding and sending asked the registry nothing


def test_nothing_is_sent_for_an_empty_period_unless_asked(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"')
    clock = Clock(T0)
    registry.put(seed_study())
    cycle(config, clock).close()
    clock.now = T0 + timedelta(days=1)
    cycle(config, clock).close()
    assert receiver.ids == []
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"\nsend_empty = true')
    clock.now = T0 + timedelta(days=2, hours=3)  # 09:00 on the 9th: the 08:00 slot is due
    cycle(config, clock).close()
    assert len(receiver.ids) == 1


def test_a_crash_after_the_digest_is_written_neither_loses_nor_repeats_it(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"')
    clock = held_change(config, registry)
    clock.now = datetime(2026, 12, 7, 8, 1, tzinfo=UTC)
    app = App.build(config, out=io.StringIO(), clock=clock)
    assert app.deliverer.digester is not None
    made = app.deliverer.digester.run()  # the digest row is written; then the process dies
    assert len(made.digests) == 1
    app.close()
    receiver.fail_next(1)  # and the first send after restart meets a 503
    for minutes in (2, 10):
        clock.now = datetime(2026, 12, 7, 8, minutes, tzinfo=UTC)
        later = App.build(config, out=io.StringIO(), clock=clock)
        later.deliver()
        later.close()
    assert len(receiver.deliveries) == 1  # told once
    assert len(set(receiver.ids)) == 1  # the retry carried the same webhook-id
    assert len(receiver.ids) == 2


def test_quiet_hours_hold_alerts_until_the_window_ends_then_send_one_message(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'quiet_hours = "20:00-08:00"')
    clock = Clock(datetime(2026, 12, 7, 19, 0, tzinfo=UTC))
    registry.put(seed_study())
    cycle(config, clock).close()
    publish(registry, status="SUSPENDED")
    clock.now = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)
    cycle(config, clock).close()
    publish(registry, status="TERMINATED", why_stopped="Sponsor decision")
    clock.now = datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    cycle(config, clock).close()
    assert receiver.ids == []
    clock.now = datetime(2026, 12, 8, 7, 59, tzinfo=UTC)
    cycle(config, clock).close()
    assert receiver.ids == []
    clock.now = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # the end is exclusive: it goes now
    cycle(config, clock).close()
    assert len(receiver.deliveries) == 1
    assert statuses(tmp_path)[-1] == ("digest", "sent")
    # outside quiet hours an alert goes at once, as before
    publish(registry, status="RECRUITING")
    clock.now = datetime(2026, 12, 8, 12, 0, tzinfo=UTC)
    cycle(config, clock).close()
    assert len(receiver.deliveries) == 2


def test_urgent_changes_go_at_once_and_the_digest_counts_them(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "daily 08:00"\nurgent = "high"')
    clock = Clock(T0)
    registry.put(seed_study())
    cycle(config, clock).close()
    publish(registry, status="TERMINATED", why_stopped="Safety")
    clock.now = T0 + timedelta(minutes=30)
    cycle(config, clock).close()  # status.changed to TERMINATED: a high event
    assert len(receiver.deliveries) == 1  # at once, though the destination digests
    publish(registry, status="TERMINATED", why_stopped="Safety", last_update="2026-12-07")
    clock.now = T0 + timedelta(hours=1)
    cycle(config, clock).close()  # an ordinary change: held
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    app = App.build(config, out=io.StringIO(), clock=clock)
    assert app.deliverer.digester is not None
    digest = app.deliverer.digester.run()
    (digest_id,) = digest.digests
    members, already = app.store.digests.members(digest_id)
    assert len(members) == 1
    assert len(already) == 1  # the urgent one is counted, not repeated
    app.deliver()
    app.close()
    assert len(receiver.deliveries) == 2


def test_a_schedule_removed_from_the_config_releases_what_waited(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, 'digest = "weekly mon 08:00"')
    clock = Clock(datetime(2026, 12, 8, 6, 0, tzinfo=UTC))
    registry.put(seed_study())
    cycle(config, clock).close()
    publish(registry, status="SUSPENDED")
    clock.now += timedelta(hours=1)
    cycle(config, clock).close()
    assert receiver.ids == []
    immediate = setup(tmp_path, registry, receiver, "")
    clock.now += timedelta(hours=1)
    cycle(immediate, clock).close()
    assert len(receiver.deliveries) == 1


def test_routes_are_unchanged_for_immediate_destinations(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = setup(tmp_path, registry, receiver, "")
    clock = Clock(T0)
    registry.put(seed_study())
    app = cycle(config, clock)
    publish(registry, status="SUSPENDED")
    app.pipeline.run_cycle(config.trials, build_routes(config))
    app.deliver()
    app.close()
    assert len(receiver.deliveries) == 1
    assert statuses(tmp_path) == [("change", "sent")]


@pytest.mark.parametrize(
    "start",
    [
        datetime(2026, 3, 27, 0, 0, tzinfo=UTC),  # Paris springs forward on 29 March
        datetime(2026, 10, 23, 0, 0, tzinfo=UTC),  # and falls back on 25 October
    ],
)
def test_a_daily_digest_goes_once_per_local_day_across_a_clock_change(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver, start: datetime
) -> None:
    timing = 'digest = "daily 08:00"\ntimezone = "Europe/Paris"\nsend_empty = true'
    config = setup(tmp_path, registry, receiver, timing)
    clock = Clock(start)
    registry.put(seed_study())
    cycle(config, clock).close()
    app = App.build(config, out=io.StringIO(), clock=clock)
    for _ in range(5 * 24 * 4):  # every 15 minutes for five days
        clock.now += timedelta(minutes=15)
        app.deliver()
    app.close()
    paris = ZoneInfo("Europe/Paris")
    sent = [
        datetime.fromisoformat(d.payload["data"]["slot"]).astimezone(paris)
        for d in receiver.deliveries
    ]
    assert [s.hour for s in sent] == [8] * 5
    assert len({s.date() for s in sent}) == 5  # one per local day, the change day too
