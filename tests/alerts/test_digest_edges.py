"""Digests at their edges: urgent counted once, mutes, DST, edits, retries, two passes."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from watcher.alerts.delivery import Deliverer
from watcher.alerts.digests import Digester
from watcher.alerts.notifier import DeliveryError
from watcher.config.digest import parse_digest, parse_quiet_hours
from watcher.config.digest_keys import Timing
from watcher.core.destination import Destination
from watcher.store import Store
from watcher.store.rows import Mute, OutboxRow
from watcher.timeutil import iso

HOOK = Destination.parse("webhook:https://example.invalid/h")


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def notice(
    store: Store, now: datetime, level: str | None, nct: str, destination: Destination = HOOK
) -> None:
    payload: dict[str, object] = {"headline": "h", "body": "b"}
    if level is not None:
        payload["event"] = {"level": level}
    store.outbox.add([OutboxRow(destination, kind="notice", payload=payload, nct_id=nct)], iso(now))


def rows(path: Path) -> list[tuple[int, str, str, int]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT id, kind, status, urgent FROM outbox ORDER BY id").fetchall()


def test_an_urgent_alert_is_counted_as_already_sent_in_one_digest_only(tmp_path: Path) -> None:
    """Daemon down over the 08:00 slot; an urgent change comes at 10:00 with the missed digest.
    It is counted in that digest, and must not be counted again in the next day's."""
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 6, 7, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, "high")
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    digester.run()  # schedule starts counting on the 6th, 07:00
    clock.now = datetime(2026, 12, 6, 7, 30, tzinfo=UTC)
    notice(store, clock.now, "medium", "NCT00000001")  # held for the 6th's digest
    digester.run()
    clock.now = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)  # down over 6th 08:00 and 7th 08:00
    notice(store, clock.now, "high", "NCT00000002")  # urgent, created after the 7th's slot
    first = digester.run()
    (d1,) = first.digests
    _, already1 = store.digests.members(d1)
    clock.now = datetime(2026, 12, 7, 11, 0, tzinfo=UTC)
    notice(store, clock.now, "medium", "NCT00000003")
    digester.run()
    clock.now = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    second = digester.run()
    (d2,) = second.digests
    _, already2 = store.digests.members(d2)
    assert len(already1) == 1
    assert set(already1).isdisjoint(already2), (already1, already2)


def test_a_forced_digest_send_does_not_make_the_next_digest_recount_urgent(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, "high")
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    digester.run()
    clock.now += timedelta(minutes=10)
    notice(store, clock.now, "high", "NCT00000001")
    notice(store, clock.now, "low", "NCT00000002")
    digester.run()
    clock.now += timedelta(minutes=10)
    forced = digester.run(only=[HOOK], force=True)  # ctwatch digest send
    (d1,) = forced.digests
    clock.now += timedelta(minutes=10)
    notice(store, clock.now, "low", "NCT00000003")
    digester.run()
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    (d2,) = digester.run().digests
    assert store.digests.members(d1)[1]
    assert set(store.digests.members(d1)[1]).isdisjoint(store.digests.members(d2)[1])


def test_send_empty_digest_is_written_once_per_slot_by_two_passes(tmp_path: Path) -> None:
    """Two passes racing on the same slot (the state read before the bundle's transaction)."""
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, None, send_empty=True)
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    digester.run()
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    # both processes read state (last_slot None) before either bundles
    state = store.digests.start(HOOK, timing.key, iso(clock.now))
    slot = timing.digest.latest_slot(datetime.fromisoformat(state.since), clock.now)  # type: ignore[union-attr]
    assert slot is not None
    a = store.digests.bundle(
        HOOK, timing.key, slot=iso(slot), now=iso(clock.now), reason="digest", send_empty=True
    )
    b = store.digests.bundle(
        HOOK, timing.key, slot=iso(slot), now=iso(clock.now), reason="digest", send_empty=True
    )
    assert a is not None
    assert b is None, "the same slot was written twice"


def test_quiet_only_notice_of_a_time_event_is_not_lost_or_doubled(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 21, 0, tzinfo=UTC))
    timing = Timing(None, parse_quiet_hours("20:00-08:00"), None)
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    notice(store, clock.now, None, "NCT00000001")
    notice(store, clock.now, "low", "NCT00000002")
    digester.run()
    assert [r[2] for r in rows(tmp_path / "db")] == ["held", "held"]
    clock.now = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)
    made = digester.run()
    assert len(made.digests) == 1


SLACK = Destination.parse("slack:C0123456")


class Recorder:
    """A notifier that records what it is asked to send (the review's probe)."""

    digest_over: int | None = None

    def __init__(self) -> None:
        self.sent: list[object] = []
        self.digests: list[object] = []

    def send(self, destination: Destination, alert: object) -> None:
        self.sent.append(alert)

    def send_digest(self, destination: Destination, digest: object) -> None:
        self.digests.append(digest)


def test_a_slack_mute_also_keeps_a_trial_out_of_the_channels_digest(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, None)
    digester = Digester(store, lambda: {SLACK: timing}, clock=clock)
    recorder = Recorder()
    deliverer = Deliverer(store, {"slack": recorder}, clock=clock, digester=digester)
    deliverer.deliver()
    clock.now += timedelta(minutes=5)
    for nct in ("NCT00000001", "NCT00000002"):
        notice(store, clock.now, "low", nct, SLACK)
    deliverer.deliver()  # held for 08:00
    store.mutes.set(Mute("C0123456", "NCT00000001", iso(clock.now + timedelta(days=7))))
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    deliverer.deliver()
    (digest,) = recorder.digests
    told = {a.nct_id for a in digest.members}  # type: ignore[attr-defined]
    assert "NCT00000001" not in told, "a muted trial's alert went out in the digest"


def test_a_digest_that_fails_for_good_leaves_its_changes_recoverable(tmp_path: Path) -> None:
    """The digest row fails permanently, then `ctwatch outbox retry --failed` requeues it:
    it must go out again, with its members."""

    class Refuses(Recorder):
        fail = True

        def send_digest(self, destination: Destination, digest: object) -> None:
            if self.fail:
                raise DeliveryError("410 gone", permanent=True)
            super().send_digest(destination, digest)

    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, None)
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    notifier = Refuses()
    deliverer = Deliverer(store, {"webhook": notifier}, clock=clock, digester=digester)
    deliverer.deliver()
    clock.now += timedelta(minutes=5)
    notice(store, clock.now, "low", "NCT00000001")
    notice(store, clock.now, "low", "NCT00000002")
    deliverer.deliver()
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    deliverer.deliver()
    ids = [p.id for p in store.outbox.unsent(("failed",))]
    assert store.outbox.requeue(ids, iso(clock.now)) == 1
    notifier.fail = False
    deliverer.deliver(force=True)
    (digest,) = notifier.digests
    assert len(digest.members) == 2  # type: ignore[attr-defined]


def test_returning_to_an_earlier_schedule_never_sends_a_slot_from_before_it_was_loaded(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 1, 6, 0, tzinfo=UTC))
    eight = Timing(parse_digest("daily 08:00"), None, None, send_empty=True)
    nine = Timing(parse_digest("daily 09:00"), None, None, send_empty=True)
    current = {HOOK: eight}
    digester = Digester(store, lambda: current, clock=clock)
    digester.run()
    clock.now = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert len(digester.run().digests) == 1  # 1 Dec 08:00
    clock.now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    current[HOOK] = nine  # edited to 09:00
    digester.run()
    clock.now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)  # (09:00 digests went meanwhile)
    current[HOOK] = eight  # edited back to 08:00 at noon on the 7th
    made = digester.run()
    assert made.digests == [], "a slot from before the schedule was loaded again was sent"


def test_daily_digest_at_an_ambiguous_local_time_goes_once_on_the_fall_back_day() -> None:
    schedule = parse_digest("daily 01:30", "America/New_York")
    since = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    slots = []
    moment = since
    for _ in range(3):
        moment = schedule.next_after(moment)
        slots.append(moment)
    local_days = [s.astimezone(schedule_zone()).date() for s in slots]
    assert len(set(local_days)) == 3, slots


def test_daily_digest_at_a_skipped_local_time_still_goes_on_the_spring_forward_day() -> None:
    schedule = parse_digest("daily 02:30", "America/New_York")
    since = datetime(2026, 3, 7, 12, 0, tzinfo=UTC)
    slots = []
    moment = since
    for _ in range(3):
        moment = schedule.next_after(moment)
        slots.append(moment)
    local_days = [s.astimezone(schedule_zone()).date().isoformat() for s in slots]
    assert local_days == ["2026-03-08", "2026-03-09", "2026-03-10"], local_days


def schedule_zone() -> ZoneInfo:
    return ZoneInfo("America/New_York")


def test_a_long_downtime_of_a_minutely_cron_digest_is_sent_once(tmp_path: Path) -> None:
    schedule = parse_digest("* * * * *")
    since = datetime(2026, 1, 1, tzinfo=UTC)
    now = since + timedelta(days=80)  # 115,200 minutes
    slot = schedule.latest_slot(since, now)
    assert slot is not None
    assert schedule.latest_slot(slot, now) is None, "a second digest for the same downtime"


def test_a_daily_0130_digest_is_sent_once_on_the_fall_back_day(tmp_path: Path) -> None:
    """America/New_York falls back on 1 Nov 2026: 01:30 happens twice (EDT, then EST)."""
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 10, 30, 12, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 01:30", "America/New_York"), None, None, send_empty=True)
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    made: list[int] = []
    for _ in range(4 * 24 * 4):  # every 15 minutes for four days
        made += digester.run().digests
        clock.now += timedelta(minutes=15)
    with sqlite3.connect(tmp_path / "db") as conn:
        slots = [
            r[0]
            for r in conn.execute(
                "SELECT json_extract(payload, '$.slot') FROM outbox WHERE kind = 'digest'"
            )
        ]
    days = [datetime.fromisoformat(s).astimezone(schedule_zone()).date() for s in slots]
    assert len(days) == len(set(days)), slots


def test_an_urgent_alert_that_failed_for_good_is_not_counted_as_already_sent(
    tmp_path: Path,
) -> None:
    """Issue 24: a change told at once as urgent is counted as "already sent". One that was
    never told (its send failed for good) must not be: it would be in neither message."""

    class RefusesSingles(Recorder):
        def send(self, destination: Destination, alert: object) -> None:
            raise DeliveryError("400 bad request", permanent=True)

    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 6, 0, tzinfo=UTC))
    timing = Timing(parse_digest("daily 08:00"), None, "high")
    digester = Digester(store, lambda: {HOOK: timing}, clock=clock)
    notifier = RefusesSingles()
    deliverer = Deliverer(store, {"webhook": notifier}, clock=clock, digester=digester)
    deliverer.deliver()
    clock.now += timedelta(minutes=5)
    notice(store, clock.now, "high", "NCT00000001")  # urgent: goes at once, fails for good
    notice(store, clock.now, "low", "NCT00000002")
    deliverer.deliver()
    clock.now = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)
    deliverer.deliver()
    (digest,) = notifier.digests
    told = [a.nct_id for a in digest.already_sent]  # type: ignore[attr-defined]
    assert "NCT00000001" not in told, "a failed urgent alert is reported as already sent"


def test_editing_the_digest_time_at_night_does_not_send_during_quiet_hours(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "db")
    clock = Clock(datetime(2026, 12, 7, 18, 0, tzinfo=UTC))
    quiet = parse_quiet_hours("20:00-08:00")
    current = {HOOK: Timing(parse_digest("daily 08:00"), quiet, None)}
    digester = Digester(store, lambda: current, clock=clock)
    digester.run()
    notice(store, clock.now, "low", "NCT00000001")
    notice(store, clock.now, "low", "NCT00000002")
    digester.run()
    clock.now = datetime(2026, 12, 7, 23, 0, tzinfo=UTC)  # quiet
    current[HOOK] = Timing(parse_digest("daily 09:00"), quiet, None)  # config edited
    made = digester.run()
    assert made.digests == [] and made.released == 0, "sent at 23:00, inside quiet hours"


def test_a_daemon_down_across_the_fall_back_night_sends_one_digest_for_the_latest_slot() -> None:
    schedule = parse_digest("daily 01:30", "America/New_York")
    since = datetime(2026, 10, 31, 12, 0, tzinfo=UTC)
    now = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    slot = schedule.latest_slot(since, now)
    assert slot is not None
    assert slot.astimezone(schedule_zone()).date().isoformat() == "2026-11-04", slot
