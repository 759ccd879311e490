"""/ctwatch digest with a cron whose last field has a step."""

from __future__ import annotations

from pathlib import Path

from watcher.config.digest import parse_digest
from watcher.slack.timing_commands import TimingCommands, TimingRequest
from watcher.store import Store


def test_a_cron_with_a_stepped_weekday_is_taken_as_a_schedule_not_a_time_zone(
    tmp_path: Path,
) -> None:
    parse_digest("0 8 * * */2", "UTC")  # the config accepts it
    store = Store.open(tmp_path / "db")
    reply = TimingCommands(store).handle(
        "/ctwatch", "digest", "0 8 * * */2", TimingRequest("C0123456", "trials")
    )
    assert reply.startswith("Done"), reply
