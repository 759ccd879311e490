"""``ctwatch digest``, ``digest preview`` and ``digest send``; bad timing keys exit 2."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study


def outbox(tmp_path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute("SELECT kind, status FROM outbox ORDER BY id").fetchall()


def held_change(tmp_path: Path, registry: RegistryDouble, timing: str) -> Path:
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra=timing)
    registry.put(seed_study())
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(seed_study(), status="SUSPENDED"))
    result = run_cli(config, "check")
    assert result.exit_code == 0, result.stderr
    assert "Suspended" not in result.stdout  # held for the digest, not printed now
    return config


def test_digest_lists_schedule_waiting_and_next_time(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = held_change(
        tmp_path, registry, 'digest = "weekly mon 08:00"\ntimezone = "Europe/Paris"'
    )
    result = run_cli(config, "digest")
    assert result.exit_code == 0, result.stderr
    assert "console: digest weekly mon 08:00 (Europe/Paris)" in result.stdout
    assert "1 alert waiting; next " in result.stdout
    assert " 08:00 CET" in result.stdout


def test_preview_shows_what_waits_and_changes_nothing(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = held_change(tmp_path, registry, 'digest = "weekly mon 08:00"')
    before = outbox(tmp_path)
    result = run_cli(config, "digest", "preview", "--watch", "test")
    assert result.exit_code == 0, result.stderr
    assert "ctwatch digest: 1 trial changed" in result.stdout
    assert "Overall Status: Recruiting → Suspended" in result.stdout
    assert outbox(tmp_path) == before == [("change", "held")]


def test_send_sends_now_once(tmp_path: Path, registry: RegistryDouble) -> None:
    config = held_change(tmp_path, registry, 'digest = "weekly mon 08:00"')
    result = run_cli(config, "digest", "send", "--watch", "test")
    assert result.exit_code == 0, result.stderr
    assert "ctwatch digest: 1 trial changed" in result.stdout
    assert "Overall Status: Recruiting → Suspended" in result.stdout
    assert outbox(tmp_path) == [("change", "digested"), ("digest", "sent")]
    again = run_cli(config, "digest", "send", "--watch", "test")
    assert again.exit_code == 0
    assert "nothing waiting" in again.stdout
    assert "Suspended" not in again.stdout


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("digest", "send", "--watch", "nope"), "--watch: no watch or search named 'nope'"),
        (("digest", "preview", "--watch", "plain"), "'plain' has no digest or quiet_hours"),
    ],
)
def test_send_and_preview_name_a_bad_watch(
    tmp_path: Path, registry: RegistryDouble, args: tuple[str, ...], words: str
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT], name="ctwatch.toml")
    config.write_text(
        config.read_text().replace('name = "test"', 'name = "plain"'), encoding="utf-8"
    )
    registry.put(seed_study())
    assert run_cli(config, "check").exit_code == 0
    result = run_cli(config, *args)
    assert result.exit_code == 2
    assert words in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("timing", "key", "words"),
    [
        ('digest = "daily 25:00"', "digest", "'25:00' is not a time of day"),
        ('digest = "weekly funday 08:00"', "digest", "'funday' is not a day"),
        ('digest = "0 8 * * * *"', "digest", "a cron expression has 5 fields"),
        ('digest = "daily 08:00"\ntimezone = "Mars/Base"', "timezone", "not a known time zone"),
        ('quiet_hours = "20:00-20:00"', "quiet_hours", "starts and ends at the same time"),
        ('urgent = "urgent"', "urgent", "is not a level"),
    ],
)
def test_bad_timing_keys_exit_2_naming_the_key(
    tmp_path: Path, registry: RegistryDouble, timing: str, key: str, words: str
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra=timing)
    result = run_cli(config, "config", "check")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert f".{key}: " in line
    assert words in line
    assert not (tmp_path / "ctwatch.db").exists()


def test_a_digests_table_must_name_the_watchs_own_destinations(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    extra = (
        'email = ["a@example.org"]\n[[watch.digests]]\nemail = ["b@example.org"]\ndigest = "hourly"'
    )
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra=extra)
    result = run_cli(config, "config", "check")
    assert result.exit_code == 2
    assert "b@example.org" in result.stderr
    assert "which this table does not send to" in result.stderr


def test_status_and_list_show_schedule_and_next_digest(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = held_change(tmp_path, registry, 'digest = "daily 08:00"\nquiet_hours = "20:00-08:00"')
    status = run_cli(config, "status")
    assert status.exit_code == 0, status.stderr
    assert "Digests and quiet hours" in status.stdout
    assert "console: digest daily 08:00 (UTC), quiet 20:00-08:00 (UTC) (1 alert waiting; next " in (
        status.stdout
    )
    as_json = run_cli(config, "status", "--json")
    (row,) = json.loads(as_json.stdout)["digests"]
    assert row["digest"] == "daily 08:00 (UTC)" and row["waiting"] == 1
    assert row["next_digest"].endswith("T08:00:00Z")
    listed = run_cli(config, "list")
    assert "  console: digest daily 08:00 (UTC), quiet 20:00-08:00 (UTC), next " in listed.stdout


def test_config_check_says_when_two_watches_time_one_destination_differently(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT], watch_extra='digest = "daily 08:00"')
    config.write_text(
        config.read_text()
        + '\n[[watch]]\nname = "other"\ntrials = ["NCT01234567"]\ndigest = "hourly"\n',
        encoding="utf-8",
    )
    result = run_cli(config, "config", "check")
    assert result.exit_code == 0, result.stderr
    assert (
        'warning: console: watch "other" sets another digest or quiet hours than '
        'watch "test"; the first one applies'
    ) in result.stdout
    assert "    console: digest daily 08:00 (UTC), next " in result.stdout


def test_the_docs_example_is_a_valid_config(tmp_path: Path, registry: RegistryDouble) -> None:
    page = (Path(__file__).parents[2] / "docs" / "digests.md").read_text(encoding="utf-8")
    example = page.split("```toml\n", 1)[1].split("```", 1)[0]
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    config.write_text(
        config.read_text().split("[[watch]]")[0]
        + '[email]\nhost = "127.0.0.1"\nsender = "ctwatch@example.org"\n'
        + '[slack]\ntoken = "xoxb-not-used"\n'
        + example,
        encoding="utf-8",
    )
    result = run_cli(config, "config", "check")
    assert result.exit_code == 0, result.stderr
    assert "#trial-alerts: digest daily 08:00 (Europe/Paris), quiet 20:00-08:00" in result.stdout
    assert "clinops@example.org: digest weekly mon 08:00 (Europe/Paris)" in result.stdout


def test_a_digest_for_two_watches_is_grouped_by_watch_highest_level_first(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    other = make_study("NCT01234567", "Another trial")
    config = write_config(
        tmp_path, registry.url, [SEED_NCT], watch_extra='digest = "weekly mon 08:00"'
    )
    config.write_text(
        config.read_text()
        + '\n[[watch]]\nname = "second"\ntrials = ["NCT01234567"]\ndigest = "weekly mon 08:00"\n',
        encoding="utf-8",
    )
    registry.put(seed_study())
    registry.put(other)
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(seed_study(), status="ACTIVE_NOT_RECRUITING"))
    registry.put(changed(other, status="TERMINATED", why_stopped="Funding"))
    assert run_cli(config, "check").exit_code == 0
    result = run_cli(config, "digest", "preview", "--watch", "test")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "ctwatch digest: 2 trials changed · 1 high · 1 medium" in out
    second, first = out.index("── watch “second” ──"), out.index("── watch “test” ──")
    assert second < first  # the group with the termination (high) comes first
    assert out.index("NCT01234567") < out.index("NCT06850103")
