"""Routing: who hears about which trial, with which fields, in how many messages."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_config
from watcher.alerts.routing import build_routes, outbox_rows, same_channel, watched_trials
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


def test_routes_are_held_per_watch_not_per_trial(tmp_path: Path) -> None:
    many = tuple(f"NCT{20_000_000 + i:08d}" for i in range(1000))
    config = slack_config(tmp_path, 'slack = ["#trial-alerts"]', trials=many)
    subs = [
        Subscription("C0LAB", many[5], "lab"),
        Subscription("C0ALERTS", many[6], "trial-alerts"),
    ]
    routes = build_routes(config, subs)
    assert len(routes) == 1000 and list(routes)[:2] == list(many[:2])
    assert routes[many[0]] is routes[many[999]]  # one shared tuple for the whole watch
    assert [r.destination.target for r in routes[many[5]]] == ["#trial-alerts", "C0LAB"]
    assert [r.destination.target for r in routes[many[6]]] == ["#trial-alerts", "#trial-alerts"]
    assert routes.get("NCT09999999") is None
    assert routes.destinations() == [Destination.slack("#trial-alerts"), Destination.slack("C0LAB")]


def test_one_watchs_scope_is_its_own_list_until_something_else_is_routed(
    tmp_path: Path,
) -> None:
    """A single watch's list is the cycle's scope as it is (a whole-registry list is not
    copied); a subscription to a trial outside it makes the scope a new list, in order."""
    many = tuple(f"NCT{20_000_000 + i:08d}" for i in range(1000))
    config = slack_config(tmp_path, 'slack = ["#trial-alerts"]', trials=many)
    watch = config.watch[0].trials
    assert build_routes(config).trials() is watch
    assert watched_trials(config) is watch  # status does not copy a whole-registry list
    inside = [Subscription("C0LAB", many[5], "lab")]
    assert build_routes(config, inside).trials() is watch
    outside = [*inside, Subscription("C0LAB", "NCT09999999", "lab")]
    assert build_routes(config, outside).trials() == (*many, "NCT09999999")
    assert build_routes(config, outside).trials() == watched_trials(config, outside)


def test_a_trial_in_two_watches_gets_both_in_config_order(tmp_path: Path) -> None:
    config = two_watches(tmp_path, 'slack = ["#a"]', 'slack = ["#b"]\nemail = ["x@example.org"]')
    routes = build_routes(config, [Subscription("C0NEW", "NCT07777777", "new")])
    assert [(r.watch, r.destination.target) for r in routes[SEED_NCT]] == [
        ("a", "#a"),
        ("b", "#b"),
        ("b", "x@example.org"),
    ]
    assert [r.watch for r in routes[OTHER]] == ["b", "b"]
    assert list(routes) == [SEED_NCT, OTHER, "NCT07777777"] and len(routes) == 3
    subs = [Subscription("C0NEW", "NCT07777777", "new"), Subscription("C0X", OTHER, "x")]
    assert build_routes(config, subs).trials() == watched_trials(config, subs)
    assert watched_trials(config, subs) == (SEED_NCT, OTHER, "NCT07777777")
    assert [d.target for d in routes.destinations()] == ["#a", "#b", "x@example.org", "C0NEW"]


def file_config(folder: Path, trials: tuple[str, ...], watch_extra: str) -> Config:
    """The config of :func:`slack_config`, its IDs in a ``trials_file`` instead."""
    folder.mkdir()
    (folder / "ids.txt").write_text("".join(f"{n}\n" for n in trials), "utf-8")
    path = folder / "ctwatch.toml"
    path.write_text(
        '[registry]\nurl = "http://127.0.0.1:9/api/v2"\n[database]\npath = "x.db"\n'
        '[slack]\ntoken = "xoxb-test"\n'
        f'[[watch]]\nname = "test"\ntrials_file = "ids.txt"\n{watch_extra}\n',
        encoding="utf-8",
    )
    return load_config(path, {})


def test_a_trials_file_watch_routes_as_the_same_watch_written_out(tmp_path: Path) -> None:
    """One watch whose list is a ``trials_file`` is held as the list and a compact set of
    its IDs, not a dict of every ID; it routes exactly as the same watch as a TOML array:
    every trial, outsiders and odd strings, order, size, destinations, subscriptions."""
    many = tuple(f"NCT{20_000_000 + 7 * i:08d}" for i in range(500))
    extra = 'slack = ["#trial-alerts"]\nfields = ["OverallStatus"]'
    listed = file_config(tmp_path / "file", many, extra)
    written = slack_config(tmp_path, extra, trials=many)
    outside = ("NCT20000001", "NCT99999999", "nct20000000", "NCT2000000", "x", "NCT2000000٣")
    for subs in (
        [],
        [Subscription("C0LAB", many[3], "lab")],
        [Subscription("C0LAB", many[3], "lab"), Subscription("C0X", "NCT09999999", "x")],
    ):
        compact, plain = build_routes(listed, subs), build_routes(written, subs)
        assert type(compact._watches_of).__name__ == "OneWatch"
        assert compact.trials() == plain.trials() and compact.destinations()
        # a check that records nothing asks no other question: the set is never built
        assert "_members" not in vars(compact._watches_of)
        for nct in (*many, *outside, "NCT09999999"):
            assert compact.get(nct) == plain.get(nct), nct
            assert (nct in compact) == (nct in plain), nct
        assert list(compact) == list(plain) and len(compact) == len(plain)
        assert compact.trials() == plain.trials() == watched_trials(listed, subs)
        assert compact.destinations() == plain.destinations()
    assert build_routes(listed).trials() is listed.watch[0].trials  # the list, not a copy
