"""Routing: who hears about which trial, with which fields, in how many messages."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_config
from watcher.alerts.routing import build_routes, outbox_rows, same_channel
from watcher.config import Config, load_config
from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.store import OutboxRow, Subscription
from watcher.testing.samples import SEED_NCT

OTHER = "NCT01234567"


def slack_config(tmp_path: Path, watch_extra: str, trials: tuple[str, ...] = (SEED_NCT,)) -> Config:
    """A config with a Slack section and one watch (no server is contacted)."""
    path = write_config(
        tmp_path,
        "http://127.0.0.1:9/api/v2",
        list(trials),
        extra='[slack]\ntoken = "xoxb-test"\n',
        watch_extra=watch_extra,
    )
    return load_config(path, {})


def test_routing_merges_a_subscription_into_the_config_destination(tmp_path: Path) -> None:
    config = slack_config(tmp_path, 'slack = ["#trial-alerts"]\nfields = ["OverallStatus"]')
    subs = [
        Subscription("C0ALERTS", SEED_NCT, "Trial-Alerts"),  # the config's channel, by name
        Subscription("C0LAB", SEED_NCT, "lab"),
        Subscription("C0LAB", OTHER, "lab"),
    ]
    routes = build_routes(config, subs)
    seed = routes[SEED_NCT]
    assert [r.destination for r in seed] == [
        Destination.slack("#trial-alerts"),
        Destination.slack("#trial-alerts"),  # merged: one outbox row, every field
        Destination.slack("C0LAB"),
    ]
    assert seed[1].field_paths is None
    assert [r.destination.target for r in routes[OTHER]] == ["C0LAB"]
    assert same_channel("C0LAB", "C0LAB", None) and same_channel("lab", "C0X", "lab")
    assert not same_channel("#lab", "C0X", None)


STATUS = "protocolSection.statusModule.overallStatus"
WHY = "protocolSection.statusModule.whyStopped"
POSTED = "protocolSection.statusModule.lastUpdatePostDateStruct.date"
CHANGES = [
    FieldChange(STATUS, "Overall Status", "changed", "RECRUITING", "TERMINATED"),
    FieldChange(WHY, "Why Stopped", "added", None, "Funding"),
    FieldChange(POSTED, "Last Update Posted", "changed", "2025-12-01", "2026-01-15"),
]


def two_watches(tmp_path: Path, first: str, second: str) -> Config:
    text = f"""
[slack]
token = "xoxb-test"

[email]
host = "127.0.0.1"
sender = "ctwatch@example.org"

[[watch]]
name = "a"
trials = ["{SEED_NCT}"]
{first}

[[watch]]
name = "b"
trials = ["{SEED_NCT}", "{OTHER}"]
{second}
"""
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, {})


def test_shared_channel_is_one_row_listing_the_union_of_field_filters(tmp_path: Path) -> None:
    config = two_watches(
        tmp_path,
        'slack = ["#alerts"]\nfields = ["OverallStatus"]',
        'slack = ["alerts"]\nfields = ["WhyStopped"]',
    )
    rows = outbox_rows(CHANGES, build_routes(config)[SEED_NCT])
    assert rows == [OutboxRow(Destination.slack("#alerts"), (STATUS, WHY))]


def test_a_watch_without_filter_makes_the_shared_row_list_everything(tmp_path: Path) -> None:
    config = two_watches(
        tmp_path, 'slack = ["#alerts"]\nfields = ["OverallStatus"]', 'slack = ["#alerts"]'
    )
    assert outbox_rows(CHANGES, build_routes(config)[SEED_NCT]) == [
        OutboxRow(Destination.slack("#alerts"), None)
    ]


def test_each_destination_gets_its_own_row_and_filters_can_silence_one(tmp_path: Path) -> None:
    config = two_watches(
        tmp_path,
        'slack = ["#alerts"]\nfields = ["EnrollmentCount"]',
        'slack = ["#other"]\nemail = ["b@example.org", "a@example.org"]',
    )
    routes = build_routes(config)
    rows = outbox_rows(CHANGES, routes[SEED_NCT])
    assert rows == [  # #alerts asked only for enrollment, which did not change: no row
        OutboxRow(Destination.slack("#other"), None),
        OutboxRow(Destination("email", ("a@example.org", "b@example.org")), None),
    ]
    assert [r.destination for r in routes[OTHER]] == [
        Destination.slack("#other"),
        Destination.email(["a@example.org", "b@example.org"]),
    ]


def test_a_watch_without_destinations_prints_to_the_console(tmp_path: Path) -> None:
    config = two_watches(tmp_path, "", 'slack = ["#alerts"]')
    assert outbox_rows(CHANGES, build_routes(config)[SEED_NCT]) == [
        OutboxRow(Destination.console(), None),
        OutboxRow(Destination.slack("#alerts"), None),
    ]
