"""The channel registry: every kind is complete, and each delivers through its double.

A registered kind must have a test double (:mod:`tests.alerts.channel_doubles`),
a settings section that is really a Config section, and its destination key;
then a real change, found by a real cycle against the registry double, must
reach the kind's double through the notifier the registry built.
"""

from __future__ import annotations

import io
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.alerts.channel_doubles import DOUBLES
from tests.conftest import write_config
from watcher.alerts.channel import ChannelKind, Channels
from watcher.alerts.console import CONSOLE
from watcher.app import App, default_notifiers
from watcher.channels import CHANNELS
from watcher.config import Config, load_config
from watcher.config.destinations import DestinationKeys
from watcher.core.destination import Destination
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study


def test_every_registered_kind_has_a_test_double() -> None:
    assert sorted(CHANNELS.names) == sorted(DOUBLES)


def test_each_kind_names_a_real_config_section_and_its_own_key() -> None:
    for kind in CHANNELS:
        if kind.section is not None:
            assert kind.section in Config.model_fields, kind.kind
    for name, key in DestinationKeys.channel_keys().items():
        owner = [k for k in CHANNELS if k.kind == name]
        assert owner and owner[0].key is key, f"[[watch]] key {name!r} has no channel kind"


def test_a_kind_registered_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="registered twice"):
        CHANNELS.with_kind(ChannelKind("console", CONSOLE.notifier))


@pytest.mark.parametrize("name", ["trials", "url", "fields", "Discord", "google-chat", ""])
def test_a_kind_named_like_a_table_key_or_unstorable_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="cannot name a channel kind"):
        CHANNELS.with_kind(ChannelKind(name, CONSOLE.notifier))


def test_only_enabled_kinds_get_a_notifier(tmp_path: Path) -> None:
    """Console, Teams and webhooks always exist; Slack and email only with their section."""
    notifiers = default_notifiers(Config(), io.StringIO())
    assert sorted(notifiers) == ["console", "teams", "webhook"]
    assert default_notifiers(Config(), io.StringIO(), channels=Channels((CONSOLE,))).keys() == {
        "console"
    }


def test_destinations_of_any_kind_round_trip_through_their_key() -> None:
    hook = Destination.reference("ntfy", "https://ntfy.example.org:8443/ctwatch-alerts")
    assert hook.key == f"ntfy:{hook.target}"
    assert Destination.parse(hook.key) == hook
    assert hook.describe() == f"ntfy ntfy.example.org:8443 ({hook.target[-12:]})"
    mail = Destination.email(["b@example.org", "a@example.org"])
    assert Destination.parse(mail.key) == mail
    assert mail.describe() == "email a@example.org, b@example.org"
    assert Destination.parse("console:").describe() == "console"
    assert Destination.parse("slack:#alerts").describe() == "Slack #alerts"
    assert Destination.teams("https://x.example/flow?sig=s").describe().startswith("Teams x.exa")
    for bad in ("no-colon", "Slack:#x", ":x", "9kind:x"):
        with pytest.raises(ValueError, match="unknown destination"):
            Destination.parse(bad)


@pytest.mark.parametrize("kind", CHANNELS.names)
def test_each_kind_delivers_a_change_through_its_double(
    kind: str, tmp_path: Path, registry: RegistryDouble
) -> None:
    out = io.StringIO()
    with ExitStack() as stack:
        wired = DOUBLES[kind](stack, out)
        path = write_config(
            tmp_path, registry.url, [SEED_NCT], extra=wired.section, watch_extra=wired.watch_keys
        )
        config = load_config(path, wired.env, channels=CHANNELS.config_keys())
        assert {d.kind for d in config.watch[0].destinations} == {kind}
        app = App.build(config, out=out, sleep=lambda seconds: None)
        try:
            registry.put(seed_study())
            app.check()
            assert wired.received() == []  # the first sight is a silent baseline
            registry.put(changed(seed_study(), status="COMPLETED"))
            _, delivery = app.check()
        finally:
            app.close()
        assert (delivery.sent, delivery.failed, delivery.retrying) == (1, 0, 0)
        received = wired.received()
        assert len(received) == 1
        assert SEED_NCT in received[0]
