"""docs/architecture/adding-a-channel.md, proved: a channel added in this file only.

The walk-through says a new channel is one module (its notifier and its
:class:`ChannelKind`), its tests and one line in the registry. This test is
that module: an ntfy-style channel (``ntfy = ["https://ntfy.example/topic"]``,
the topic URL a secret, the alert POSTed as plain text) with a local receiver,
registered with :meth:`Channels.with_kind` instead of the line in
``watcher/channels.py``. Nothing outside this file knows the kind, yet the
config accepts and checks its key, routing queues its outbox rows, delivery
sends them through its notifier (and retries a transient failure), masks its
URL, and a config without the kind registered refuses the key.
"""

from __future__ import annotations

import importlib
import io
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import database_text, write_config
from tests.support.http_sink import Reply, Request, SinkDouble
from watcher.alerts.channel import ChannelDeps, ChannelKind, urls_of
from watcher.alerts.http_post import Mask, Unreachable, failure, post, resolve_url
from watcher.alerts.notifier import DeliveryError
from watcher.app import App
from watcher.channels import CHANNELS
from watcher.config import Config, ConfigError, load_config
from watcher.config.destinations import by_reference
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert, console_text
from watcher.daemon.scheduler import ConfigSource
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, seed_study

TOPIC = "/ctwatch-alerts-5f2c"

# ---- the channel module (watcher/alerts/ntfy.py in the walk-through) -------------------


class NtfyNotifier:
    """POSTs each alert as plain text to its topic URL (looked up by reference)."""

    digest_over: int | None = None

    def __init__(self, urls: dict[Destination, str], timeout: float, mask: Mask) -> None:
        self._urls = urls
        self._timeout = timeout
        self._mask = mask

    def send(self, destination: Destination, alert: Alert) -> None:
        url = resolve_url(self._urls, destination)
        where = destination.describe()
        headers = {"Title": f"ctwatch: {alert.nct_id}", "Content-Type": "text/plain"}
        try:
            answer = post(url, console_text(alert).encode("utf-8"), headers, self._timeout)
        except Unreachable as exc:
            raise DeliveryError(self._mask(f"cannot reach {where} ({exc})")) from None
        if not answer.ok:
            raise failure(where, answer, self._mask)

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        for alert in digest.alerts:
            self.send(destination, alert)


def ntfy_notifier(config: Config, deps: ChannelDeps) -> NtfyNotifier:
    return NtfyNotifier(urls_of(config, "ntfy"), 10.0, deps.mask)


NTFY = ChannelKind("ntfy", ntfy_notifier, by_reference("ntfy"))

# ---- its double (tests/support in the walk-through) ------------------------------------


class NtfyDouble(SinkDouble):
    """An ntfy server with one topic: 200 and the message's id, 404 for any other path."""

    label = "ntfy double"

    def answer(self, request: Request) -> tuple[Reply, str]:
        if request.path != TOPIC:
            return Reply(404, b'{"error":"topic not found"}'), "unknown topic"
        return Reply(200, b'{"id":"m1","event":"message"}', "application/json"), "published"


# ---- the tests ---------------------------------------------------------------------------


@pytest.fixture
def ntfy() -> Iterator[NtfyDouble]:
    with NtfyDouble() as double:
        yield double


def ntfy_config(tmp_path: Path, registry: RegistryDouble, value: str) -> Path:
    return write_config(tmp_path, registry.url, [SEED_NCT], watch_extra=f"ntfy = {value}")


def test_a_channel_registered_in_a_test_is_routed_and_delivered(
    tmp_path: Path, registry: RegistryDouble, ntfy: NtfyDouble
) -> None:
    channels = CHANNELS.with_kind(NTFY)
    url = ntfy.origin() + TOPIC
    path = ntfy_config(tmp_path, registry, '["${NTFY_URL}"]')
    config = load_config(path, {"NTFY_URL": url}, channels=channels.config_keys())
    (destination,) = config.watch[0].destinations
    assert destination == Destination.reference("ntfy", url)
    assert destination.describe().startswith(f"ntfy 127.0.0.1:{ntfy.origin().rsplit(':')[-1]} (")

    app = App.build(config, out=io.StringIO(), sleep=lambda seconds: None, channels=channels)
    try:
        registry.put(seed_study())
        app.check()
        assert ntfy.received == []  # the baseline is silent here too
        registry.put(changed(seed_study(), status="COMPLETED"))
        ntfy.fail_next(503, f"overloaded, try later ({url})")  # an echoing server
        _, first = app.check()
        assert (first.sent, first.retrying) == (0, 1)
        _, second = app.check()  # a forced check tries again at once
        assert (second.sent, second.retrying, second.failed) == (1, 0, 0)
        assert [r for r, _ in app.test_alert()] == [destination]
    finally:
        app.close()

    published = [r for r in ntfy.received if r.note == "published"]
    assert len(published) == 2  # the change, then the test message
    assert published[0].headers["title"] == f"ctwatch: {SEED_NCT}"
    assert SEED_NCT in published[0].body.decode() and "Completed" in published[0].body.decode()
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        rows = conn.execute("SELECT destination, status, attempts, last_error FROM outbox")
        assert [(d, s, n) for d, s, n, _ in rows] == [(destination.key, "sent", 2)]
    assert url not in database_text(tmp_path / "ctwatch.db")
    assert TOPIC not in database_text(tmp_path / "ctwatch.db")


def test_without_the_kind_registered_its_key_is_unknown(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    path = ntfy_config(tmp_path, registry, '["${NTFY_URL}"]')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"NTFY_URL": "https://ntfy.example.org/topic"})
    assert caught.value.key == "watch[0].ntfy"
    assert "unknown key" in caught.value.message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ('"${NTFY_URL}"', 'must be a list, e.g. ntfy = ["…"]'),
        ('["http://ntfy.example.org/topic-s3cr3t"]', "'http://ntfy.example.org/…' must use https"),
        ("[7]", "should be text"),
    ],
)
def test_its_key_is_checked_like_a_built_in_one_and_never_echoed(
    tmp_path: Path, registry: RegistryDouble, value: str, message: str
) -> None:
    path = ntfy_config(tmp_path, registry, value)
    keys = CHANNELS.with_kind(NTFY).config_keys()
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"NTFY_URL": "https://ntfy.example.org/topic-s3cr3t"}, channels=keys)
    assert caught.value.key.startswith("watch[0].ntfy"), str(caught.value)
    assert message in caught.value.message
    assert "s3cr3t" not in str(caught.value)


def test_its_mistakes_are_listed_with_the_table_s_other_mistakes(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    path = ntfy_config(tmp_path, registry, '"${NTFY_URL}"\nslack = "#alerts"\nfeilds = ["x"]')
    keys = CHANNELS.with_kind(NTFY).config_keys()
    with pytest.raises(ConfigError) as caught:
        load_config(path, {"NTFY_URL": "https://ntfy.example.org/topic-s3cr3t"}, channels=keys)
    found = {p.key for p in caught.value.problems}
    assert {"watch[0].ntfy", "watch[0].slack", "watch[0].feilds"} <= found, str(caught.value)
    assert "s3cr3t" not in str(caught.value)


DOC = Path(__file__).resolve().parents[2] / "docs" / "architecture" / "adding-a-channel.md"


def test_the_walk_through_names_real_modules_and_names() -> None:
    """Every path the page names exists (but the one it adds), and its imports import."""
    text = DOC.read_text(encoding="utf-8")
    root = DOC.parents[2]
    paths = set(re.findall(r"`((?:watcher|tests)/[\w/]+\.py)`", text))
    assert "watcher/channels.py" in paths and "watcher/alerts/channel.py" in paths
    missing = [p for p in paths if not (root / p).exists() and "ntfy" not in p]
    assert missing == []
    imports = re.findall(r"^from (watcher[\w.]*) import (.+)$", text, re.MULTILINE)
    assert len(imports) >= 8
    for module, names in imports:
        if module == "watcher.alerts.ntfy":
            continue
        loaded = importlib.import_module(module)
        for name in names.split(","):
            assert hasattr(loaded, name.strip()), f"{module}.{name.strip()}"


def test_the_daemon_reloads_a_config_naming_a_registered_kind(
    tmp_path: Path, registry: RegistryDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ctwatch run`` re-reads the file with the registry's keys (ConfigSource's channels)."""
    monkeypatch.setenv("NTFY_URL", "https://ntfy.example.org/topic-a")
    path = ntfy_config(tmp_path, registry, '["${NTFY_URL}"]')
    source = ConfigSource(path, channels=CHANNELS.with_kind(NTFY).config_keys())
    config = source.read_if_changed()
    assert config is not None
    assert [d.kind for d in config.watch[0].destinations] == ["ntfy"]
    with pytest.raises(ConfigError, match="unknown key"):
        ConfigSource(path).read_if_changed()
