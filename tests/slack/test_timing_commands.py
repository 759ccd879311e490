"""``/ctwatch digest`` and ``/ctwatch quiet`` over the signed endpoint, then delivery."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_cli
from tests.slack.test_slash import ENV, check, command, commands_config, endpoint
from tests.support.slack_double import SlackDouble
from watcher.store import Mute, Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


def timings(tmp_path: Path) -> list[tuple[str, str | None, str | None, str | None]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute(
            "SELECT channel_name, digest, timezone, quiet_hours FROM channel_timings"
        ).fetchall()


def test_a_channel_sets_its_digest_and_changes_wait_for_it(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack)
    check(config)  # baseline (and the database)
    with endpoint(config) as server:
        answer = command(server, slack, "digest daily 08:00 Europe/Paris")
        assert answer["text"] == (
            "Done: alerts reach this channel as a digest (daily 08:00, Europe/Paris)."
        )
        shown = command(server, slack, "digest")["text"]
        assert shown.startswith("Alerts reach this channel as a digest (daily 08:00")
    assert timings(tmp_path) == [("trial-alerts", "daily 08:00", "Europe/Paris", None)]
    listed = run_cli(config, "digest", env=ENV)
    assert "#trial-alerts: digest daily 08:00 (Europe/Paris)" in listed.stdout
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    check(config)
    assert slack.messages == []  # held for 08:00 Paris time
    sent = run_cli(config, "digest", "send", "--watch", "test", env=ENV)
    assert sent.exit_code == 0, sent.stderr
    (message,) = slack.messages
    assert message.text.startswith("ctwatch digest: 1 trial changed")


def test_bad_values_are_named_and_change_nothing(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack)
    check(config)
    with endpoint(config) as server:
        for text, words in [
            ("digest daily 25:00", "'25:00' is not a time of day"),
            ("digest daily 08:00 Mars/Base", "'Mars/Base' is not a known time zone"),
            ("digest 0 8 * * * *", "a cron expression has 5 fields"),
            ("quiet 20:00-20:00", "starts and ends at the same time"),
            ("digest <!channel> 08:00", "is not a schedule"),
        ]:
            reply = command(server, slack, text)["text"]
            assert words in reply, reply
            assert "Nothing was changed" in reply
            assert "<!channel>" not in reply  # escaped: no ping
    assert timings(tmp_path) == []


def test_quiet_hours_and_off(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack)
    check(config)
    with endpoint(config) as server:
        assert command(server, slack, "quiet 20:00-08:00")["text"] == (
            "Done: alerts reach this channel as each change is found, except during quiet "
            "hours (20:00-08:00, UTC)."
        )
        assert timings(tmp_path) == [("trial-alerts", None, "UTC", "20:00-08:00")]
        command(server, slack, "digest weekly mon 08:00")
        off = command(server, slack, "quiet off")["text"]
        assert (
            off == "Quiet hours off: alerts reach this channel as a digest (weekly mon 08:00, UTC)."
        )
        command(server, slack, "digest off")
    assert timings(tmp_path) == []  # nothing left to remember


def test_allow_list_refuses_changes_but_shows(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack, commands='allowed_channels = ["#oncology"]')
    check(config)
    with endpoint(config) as server:
        refused = command(server, slack, "digest daily 08:00")["text"]
        assert "is not enabled in this channel" in refused
        assert command(server, slack, "digest")["text"].startswith("Alerts reach this channel")
    assert timings(tmp_path) == []


def test_a_trial_muted_while_it_waited_is_left_out_of_the_digest(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    watch = 'slack = ["#trial-alerts"]\ndigest = "weekly mon 08:00"'
    config = commands_config(tmp_path, registry, slack, watch_extra=watch)
    check(config)
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    check(config)
    assert slack.messages == []  # held for Monday
    store = Store.open(tmp_path / "ctwatch.db")
    try:  # as the channel's Mute button records it
        store.mutes.set(
            Mute(slack.channel_id("#trial-alerts"), SEED_NCT, "2099-01-01T00:00:00Z",
                 channel_name="trial-alerts")
        )  # fmt: skip
    finally:
        store.close()
    sent = run_cli(config, "digest", "send", "--watch", "test", env=ENV)
    assert sent.exit_code == 0, sent.stderr
    (message,) = slack.messages
    assert SEED_NCT not in message.text
    assert message.text.startswith("ctwatch digest: no changes")
