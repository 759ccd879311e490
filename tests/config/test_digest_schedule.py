"""Digest schedules and quiet hours: forms, refusals, and daylight-saving days."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from watcher.config.digest import parse_digest, parse_quiet_hours

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")


def local(tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=tz)


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        (
            "hourly",
            datetime(2026, 12, 7, 10, 15, tzinfo=UTC),
            datetime(2026, 12, 7, 11, 0, tzinfo=UTC),
        ),
        (
            "daily 08:00",
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
            datetime(2026, 12, 8, 8, 0, tzinfo=UTC),
        ),
        (
            "weekly mon 08:00",
            datetime(2026, 12, 7, 9, 0, tzinfo=UTC),
            datetime(2026, 12, 14, 8, 0, tzinfo=UTC),
        ),
        (
            "weekly Monday 08:00",
            datetime(2026, 12, 6, 9, 0, tzinfo=UTC),
            datetime(2026, 12, 7, 8, 0, tzinfo=UTC),
        ),
        # crontab weekdays: 1 is Monday (not APScheduler's Tuesday)
        (
            "30 7 * * 1",
            datetime(2026, 12, 6, 0, 0, tzinfo=UTC),
            datetime(2026, 12, 7, 7, 30, tzinfo=UTC),
        ),
    ],
)
def test_forms_fire_when_written(text: str, after: datetime, expected: datetime) -> None:
    assert parse_digest(text, "UTC").next_after(after) == expected


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("daily 25:00", "'25:00' is not a time of day"),
        ("daily 8am", "'8am' is not a time of day"),
        ("weekly funday 08:00", "'funday' is not a day"),
        ("0 8 * * * *", "a cron expression has 5 fields"),
        ("daily", "write 'daily HH:MM'"),
        ("61 8 * * *", "is not a cron expression"),
        ("", "is empty"),
    ],
)
def test_bad_schedules_are_named(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_digest(text, "UTC")


def test_unknown_timezone_is_named() -> None:
    with pytest.raises(ValueError, match="'Mars/Olympus' is not a known time zone"):
        parse_digest("daily 08:00", "Mars/Olympus")


@pytest.mark.parametrize(
    ("tz", "first_day"),
    [
        (PARIS, datetime(2026, 3, 27)),  # clocks go forward on Sunday 29 March 2026
        (PARIS, datetime(2026, 10, 23)),  # and back on Sunday 25 October 2026
        (NEW_YORK, datetime(2026, 3, 6)),  # forward on 8 March 2026
        (NEW_YORK, datetime(2026, 10, 30)),  # back on 1 November 2026
    ],
)
def test_daily_digest_once_per_local_day_across_dst(tz: ZoneInfo, first_day: datetime) -> None:
    schedule = parse_digest("daily 08:00", str(tz))
    moment = first_day.replace(tzinfo=tz)
    days = []
    for _ in range(6):
        moment = schedule.next_after(moment)
        assert moment.astimezone(tz).time() == time(8, 0)
        days.append(moment.astimezone(tz).date())
    assert len(set(days)) == 6
    assert [b - a for a, b in itertools.pairwise(days)] == [timedelta(days=1)] * 5
    # the UTC gap across the change day is 23 or 25 hours, never a second digest that day
    moment = first_day.replace(tzinfo=tz)
    fires = []
    for _ in range(6):
        moment = schedule.next_after(moment)
        fires.append(moment.astimezone(UTC))  # aware arithmetic in one zone is wall-clock
    gaps = {(b - a) for a, b in itertools.pairwise(fires)}
    assert gaps - {timedelta(hours=24)} <= {timedelta(hours=23), timedelta(hours=25)}
    assert gaps != {timedelta(hours=24)}  # the window really spans a change


def test_latest_slot_covers_a_missed_period_once() -> None:
    schedule = parse_digest("daily 08:00", "UTC")
    loaded = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    # down from the 2nd to the 5th: one slot, the latest, stands for all the missed ones
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    assert schedule.latest_slot(loaded, now) == datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    # nothing from before the schedule was first loaded
    assert schedule.latest_slot(loaded, datetime(2026, 12, 2, 7, 59, tzinfo=UTC)) is None
    # a slot exactly at `now` is due; the one already sent (since) is not again
    sent = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
    assert schedule.latest_slot(sent, datetime(2026, 12, 5, 23, 0, tzinfo=UTC)) is None
    assert schedule.latest_slot(sent, datetime(2026, 12, 6, 8, 0, tzinfo=UTC)) == datetime(
        2026, 12, 6, 8, 0, tzinfo=UTC
    )


def test_quiet_hours_cross_midnight_and_end_exclusive() -> None:
    quiet = parse_quiet_hours("20:00-08:00", "Europe/Paris")
    assert quiet.is_quiet(local(PARIS, 2026, 12, 7, 20, 0))
    assert quiet.is_quiet(local(PARIS, 2026, 12, 7, 23, 59))
    assert quiet.is_quiet(local(PARIS, 2026, 12, 8, 7, 59))
    assert not quiet.is_quiet(local(PARIS, 2026, 12, 8, 8, 0))
    assert not quiet.is_quiet(local(PARIS, 2026, 12, 7, 19, 59))
    assert quiet.ends_at(local(PARIS, 2026, 12, 7, 22, 0)) == local(PARIS, 2026, 12, 8, 8, 0)
    assert quiet.ends_at(local(PARIS, 2026, 12, 8, 3, 0)) == local(PARIS, 2026, 12, 8, 8, 0)
    noon = local(PARIS, 2026, 12, 8, 12, 0)
    assert quiet.ends_at(noon) == noon


def test_daytime_quiet_hours() -> None:
    quiet = parse_quiet_hours("12:00-13:30", "UTC")
    assert quiet.is_quiet(datetime(2026, 12, 7, 12, 0, tzinfo=UTC))
    assert not quiet.is_quiet(datetime(2026, 12, 7, 13, 30, tzinfo=UTC))
    assert quiet.ends_at(datetime(2026, 12, 7, 12, 5, tzinfo=UTC)) == datetime(
        2026, 12, 7, 13, 30, tzinfo=UTC
    )


def test_quiet_window_ending_on_a_dst_night() -> None:
    # 01:00-02:30 in Paris on 29 March 2026: 02:30 does not exist (02:00 -> 03:00)
    quiet = parse_quiet_hours("01:00-02:30", "Europe/Paris")
    inside = local(PARIS, 2026, 3, 29, 1, 30)
    end = quiet.ends_at(inside)
    assert end > inside
    assert not quiet.is_quiet(end + timedelta(hours=1))


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("20:00-20:00", "starts and ends at the same time"),
        ("20:00", "is not a quiet window"),
        ("20:00-24:00", "'24:00' is not a time of day"),
    ],
)
def test_bad_quiet_hours_are_named(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_quiet_hours(text, "UTC")
