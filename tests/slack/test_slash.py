"""`/ctwatch` slash commands: the signed endpoint over real HTTP, subscriptions end to end."""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import queue
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import run_cli, write_config
from tests.support.paths import REPO
from tests.support.slack_double import SlackDouble
from watcher.app import App, build_services
from watcher.config import Config, load_config
from watcher.daemon.scheduler import ConfigSource, Daemon
from watcher.slack.commands import parse_ids
from watcher.store import Store, Subscription
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study
from watcher.web.asgi import COMMANDS_PATH
from watcher.web.limits import MAX_BODY

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-test-token"
ENV = {"SLACK_BOT_TOKEN": TOKEN, "SLACK_SIGNING_SECRET": SECRET}
OTHER = "NCT01234567"
UNKNOWN = "NCT09999999"
NOW = 1_790_000_000.0
SEED_TITLE = "SCRT-CAPEOX-Serplulimab for MSS/pMMR Rectal Cancer With Oligometastases"


@pytest.fixture
def slack() -> Iterator[SlackDouble]:
    with SlackDouble(channels=("#trial-alerts", "#oncology", "#lab")) as double:
        yield double


def commands_config(
    tmp_path: Path,
    registry: RegistryDouble,
    slack: SlackDouble,
    *,
    trials: tuple[str, ...] = (SEED_NCT,),
    watch_extra: str = 'slack = ["#trial-alerts"]',
    commands: str = "",
    listen: str = "127.0.0.1:0",
) -> Path:
    extra = f"""
[schedule]
every = "1h"

[slack]
token = "${{SLACK_BOT_TOKEN}}"
api_url = "{slack.url}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
retries = 0
timeout = "5s"

[slack.commands]
listen = "{listen}"
{commands}
"""
    return write_config(tmp_path, registry.url, list(trials), extra=extra, watch_extra=watch_extra)


@dataclass(frozen=True)
class SlashServer:
    """Where the web server answers slash commands (HTTP mode)."""

    url: str


@contextmanager
def serving(current: Callable[[], Config], clock: Callable[[], float]) -> Iterator[SlashServer]:
    services = build_services(current, clock=clock).start()
    try:
        assert services.web is not None
        yield SlashServer(services.web.origin + COMMANDS_PATH)
    finally:
        services.stop()


@contextmanager
def endpoint(config: Path, clock: Callable[[], float] = lambda: NOW) -> Iterator[SlashServer]:
    loaded = load_config(config, ENV)
    with serving(lambda: loaded, clock) as server:
        yield server


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    """What Slack sends: ``v0=`` + HMAC-SHA256(secret, ``v0:{ts}:{body}``)."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def form(slack: SlackDouble, text: str, channel: str = "#trial-alerts", **fields: str) -> bytes:
    values = {
        "token": "deprecated-verification-token",
        "team_id": "T0TEST",
        "team_domain": "test",
        "channel_id": slack.channel_id(channel),
        "channel_name": channel.removeprefix("#"),
        "user_id": "U0ALICE",
        "user_name": "alice",
        "command": "/ctwatch",
        "text": text,
        "api_app_id": "A0CTWATCH",
        "response_url": slack.response_url("cmd"),
        "trigger_id": "1.2.3",
    }
    values.update(fields)
    return urlencode(values).encode()


def post(
    server: SlashServer,
    body: bytes,
    *,
    timestamp: float = NOW,
    secret: str = SECRET,
    signed_body: bytes | None = None,
) -> httpx.Response:
    ts = str(int(timestamp))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(signed_body or body, ts, secret),
    }
    return httpx.post(server.url, content=body, headers=headers, timeout=10)


def command(server: SlashServer, slack: SlackDouble, text: str, **kw: str) -> dict[str, Any]:
    """A signed command; its (ephemeral) JSON answer."""
    response = post(server, form(slack, text, **kw))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    assert data["response_type"] == "ephemeral"
    return data


def follow_up(slack: SlackDouble, count: int = 1) -> str:
    """The text of the ``count``-th reply posted to response_url (waits for it)."""
    responses = slack.wait_for_responses(count, timeout=15)
    assert len(responses) >= count, "no delayed reply arrived"
    text: str = responses[count - 1]["text"]
    return text


def subscriptions(tmp_path: Path) -> list[tuple[str, str, str | None, str | None]]:
    db = tmp_path / "ctwatch.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT channel_id, nct_id, channel_name, user_id FROM subscriptions ORDER BY nct_id"
        ).fetchall()


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    assert TOKEN not in result.stdout + result.stderr and SECRET not in result.stderr
    return result.stdout


# ---- the endpoint: trust, sizes, routes ---------------------------------------------


def test_signed_help_is_answered_ephemerally(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        for text in ("help", ""):
            reply = command(server, slack, text)
            assert "`/ctwatch watch NCT06850103 [NCT…]`" in reply["text"]
            assert "`/ctwatch status NCT…`" in reply["text"]


def test_bad_signature_is_401_and_changes_nothing(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        body = form(slack, f"watch {SEED_NCT}")
        assert post(server, body, secret="not-the-secret").status_code == 401
        tampered = post(server, body, signed_body=form(slack, "help"))
        assert tampered.status_code == 401 and tampered.text == "invalid signature"
        unsigned = httpx.post(server.url, content=body, headers={"Content-Type": "x"})
        assert unsigned.status_code == 401
        garbage = httpx.post(
            server.url,
            content=body,
            headers={b"X-Slack-Request-Timestamp": b"soon", b"X-Slack-Signature": "v0=ü".encode()},
        )
        assert garbage.status_code == 401
        ts = str(int(NOW))
        non_ascii = httpx.post(
            server.url,
            content=body,
            headers={
                b"X-Slack-Request-Timestamp": ts.encode(),
                b"X-Slack-Signature": "v0=ü".encode(),
            },
        )
        assert non_ascii.status_code == 401
    assert registry.requests == [] and slack.responses == []
    assert subscriptions(tmp_path) == []


def test_stale_timestamp_is_401(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        body = form(slack, "help")
        assert post(server, body, timestamp=NOW - 301).status_code == 401
        assert post(server, body, timestamp=NOW + 301).status_code == 401
        assert post(server, body, timestamp=NOW - 299).status_code == 200  # within five minutes


def test_oversized_and_malformed_requests(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        big = form(slack, "help " + "x" * MAX_BODY)
        assert post(server, big).status_code == 413
        assert httpx.get(server.url).status_code == 405
        assert httpx.get(server.url).headers["allow"] == "POST"
        assert (
            httpx.post(server.url.replace("/commands", "/events"), content=b"x").status_code == 404
        )
        port = int(server.url.split(":")[2].split("/")[0])

        def raw(head: str) -> str:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(head.encode())
                return conn.makefile("rb").readline().decode()

        assert " 411 " in raw("POST /slack/commands HTTP/1.1\r\nHost: x\r\n\r\n")
        assert " 400 " in raw("POST /slack/commands HTTP/1.1\r\nContent-Length: -5\r\n\r\n")
        # HTTP/1.1 requires Host (RFC 9112 §3.2: without it, 400 whatever the body)
        chunked = (
            "POST /slack/commands HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            "0\r\n\r\n"
        )
        assert " 411 " in raw(chunked)
        wrong_type = httpx.post(
            server.url,
            content=b"{}",
            headers={
                "Content-Type": "application/json",
                "X-Slack-Request-Timestamp": str(int(NOW)),
                "X-Slack-Signature": signature(b"{}", str(int(NOW))),
            },
        )
        assert wrong_type.status_code == 415  # signed, but not a slash command
    assert subscriptions(tmp_path) == []


# ---- commands -------------------------------------------------------------------------


def test_unknown_command_gets_help(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        reply = command(server, slack, "subscribe NCT06850103")
    assert reply["text"].startswith("I don't know the command `subscribe`.")
    assert "`/ctwatch watch NCT06850103 [NCT…]`" in reply["text"]


def test_malformed_ids_are_named_and_nothing_happens(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        reply = command(server, slack, "watch NCT123 nct06850103 <!channel>")
        assert reply["text"].startswith("`NCT123`, `&lt;!channel&gt;` are not NCT IDs")
        assert (
            "NCT followed by 8 digits" in reply["text"] and "Nothing was changed" in reply["text"]
        )
        assert "NCT0685010 is" not in command(server, slack, "unwatch NCT0685010")["text"]
        assert command(server, slack, "watch")["text"].startswith("Which trial?")
        assert (
            "`NCT0685010` is not an NCT ID" in command(server, slack, "status NCT0685010")["text"]
        )
    assert registry.requests == [] and slack.responses == []
    assert subscriptions(tmp_path) == []


def test_watch_looks_trials_up_and_replies_later(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Trial <!channel> & <https://evil.example|co>"))
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        ack = command(server, slack, f"watch {SEED_NCT} {UNKNOWN}, {OTHER}", channel="#lab")
        assert ack["text"] == f"Checking {SEED_NCT}, {UNKNOWN}, {OTHER} in the registry…"
        text = follow_up(slack)
    assert f"• *{SEED_NCT}* — {SEED_TITLE} (Recruiting) — now watched in this channel" in text
    assert f"• *{UNKNOWN}*: not found in the registry; not subscribed" in text
    assert "Trial &lt;!channel&gt; &amp; &lt;https://evil.example|co&gt; (Recruiting)" in text
    assert "<!channel>" not in text and "silent baseline" in text
    (lookup,) = registry.requests
    assert lookup.params["fields"] == "NCTId,BriefTitle,OverallStatus"
    lab = slack.channel_id("#lab")
    assert subscriptions(tmp_path) == [
        (lab, OTHER, "lab", "U0ALICE"),
        (lab, SEED_NCT, "lab", "U0ALICE"),
    ]


def test_watch_twice_is_idempotent_and_registry_outage_subscribes_nothing(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        command(server, slack, f"watch {SEED_NCT}", channel="#lab")
        follow_up(slack, 1)
        command(server, slack, f"watch {SEED_NCT}", channel="#lab")
        assert "already watched here" in follow_up(slack, 2)
        registry.fail_next(503, "down", times=10)
        command(server, slack, f"watch {OTHER}", channel="#lab")
        assert f"*{OTHER}*: the registry could not be read" in follow_up(slack, 3)
    assert [s[1] for s in subscriptions(tmp_path)] == [SEED_NCT]


def test_unwatch_removes_slack_subscriptions(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(make_study(OTHER, "Another trial"))
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        command(server, slack, f"watch {OTHER}", channel="#lab")
        follow_up(slack)
        reply = command(server, slack, f"unwatch {OTHER}", channel="#lab")
        assert reply["text"] == f"• *{OTHER}*: unwatched; this channel gets no more alerts for it"
        again = command(server, slack, f"unwatch {OTHER}", channel="#lab")
        assert again["text"] == f"• *{OTHER}*: this channel was not watching it"
    assert subscriptions(tmp_path) == []


def test_unwatch_cannot_remove_a_config_watch(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    with endpoint(commands_config(tmp_path, registry, slack)) as server:
        reply = command(server, slack, f"unwatch {SEED_NCT}")  # from #trial-alerts
        assert reply["text"] == (
            f"• *{SEED_NCT}*: the config file watches it here (watch “test”); Slack cannot "
            "remove that. Ask whoever runs ctwatch to remove it from the config file."
        )
        command(server, slack, f"watch {SEED_NCT}")  # subscribed both ways
        assert "already" not in follow_up(slack) and "also by the config file" in follow_up(slack)
        both = command(server, slack, f"unwatch {SEED_NCT}")
        assert both["text"].startswith(
            f"• *{SEED_NCT}*: Slack subscription removed, but the config file watches it here"
        )
    assert subscriptions(tmp_path) == []


def test_list_marks_config_and_slack(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial", status="COMPLETED"))
    config = commands_config(tmp_path, registry, slack)
    with endpoint(config) as server:
        empty = command(server, slack, "list", channel="#lab")
        assert empty["text"].startswith("This channel watches no trials yet.")
        command(server, slack, f"watch {OTHER}")  # #trial-alerts, which the config names
        follow_up(slack)
        check(config)
        listing = command(server, slack, "list")["text"]
    lines = listing.splitlines()
    assert lines[0] == "This channel watches 2 trials:"
    assert lines[1] == f"• *{SEED_NCT}* — {SEED_TITLE} (Recruiting) — config file (watch “test”)"
    assert lines[2].startswith(
        f"• *{OTHER}* — Another trial (Completed) — Slack (by <@U0ALICE>, 20"
    )


def test_status_reports_what_the_store_knows(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack)
    check(config)
    registry.put(changed(seed_study(), status="ACTIVE_NOT_RECRUITING", last_update="2026-01-15"))
    check(config)
    with endpoint(config) as server:
        text = command(server, slack, f"status {SEED_NCT} {UNKNOWN}", channel="#lab")["text"]
    first, second = text.split("\n\n")
    assert first.startswith(f"*{SEED_NCT}* — {SEED_TITLE}\nOverall status: Active, not recruiting")
    assert "Last update posted: 2026-01-15 · Last change seen: 20" in first
    assert "   Overall Status: Recruiting → Active, not recruiting" in first
    assert second == f"*{UNKNOWN}*: not checked yet (watch it, and the next check records it)"


def test_allow_list_refuses_other_channels_politely(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    oncology = slack.channel_id("#oncology")
    config = commands_config(
        tmp_path, registry, slack, commands=f'allowed_channels = ["#lab", "{oncology}"]'
    )
    with endpoint(config) as server:
        refused = command(server, slack, f"watch {SEED_NCT}")
        assert refused["text"] == (
            "Sorry, `/ctwatch watch` is not enabled in this channel; ctwatch subscriptions can "
            f"be changed in #lab, <#{oncology}>. `list`, `status` and `help` work everywhere."
        )
        assert "not enabled" in command(server, slack, f"unwatch {SEED_NCT}")["text"]
        assert "config file (watch “test”)" in command(server, slack, "list")["text"]
        assert command(server, slack, f"watch {SEED_NCT}", channel="#lab")["text"].startswith(
            "Checking"
        )
        follow_up(slack)
        assert command(server, slack, f"watch {SEED_NCT}", channel="#oncology")["text"].startswith(
            "Checking"
        )
        follow_up(slack, 2)
    assert {s[0] for s in subscriptions(tmp_path)} == {slack.channel_id("#lab"), oncology}


# ---- subscriptions end to end --------------------------------------------------------


def test_subscribe_baseline_then_alert_in_that_channel(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = commands_config(tmp_path, registry, slack, trials=(OTHER,))
    with endpoint(config) as server:
        command(server, slack, f"watch {SEED_NCT}", channel="#lab")
        assert "now watched in this channel" in follow_up(slack)
    assert "checked 2 · changed 0 · new 2" in check(config)  # the subscribed trial: a baseline
    assert slack.messages == []
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug supply"))
    assert "alerts sent 1" in check(config)
    (message,) = slack.messages
    assert message.channel == slack.channel_id("#lab")  # by channel ID, as Slack sent it
    assert message.text.startswith(f"{SEED_NCT} — {SEED_TITLE}: [HIGH] Overall status changed")
    assert "; Overall Status: Recruiting → Suspended" in message.text
    assert "alerts sent 0" in check(config)
    assert len(slack.messages) == 1


def test_subscribe_with_min_level_hears_only_high_events(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = commands_config(tmp_path, registry, slack, trials=(OTHER,))
    with endpoint(config) as server:
        bad = command(server, slack, f"watch {SEED_NCT} min_level=urgent", channel="#lab")
        assert "min_level: 'urgent' is not a level" in bad["text"]
        bad = command(server, slack, f"watch {SEED_NCT} events=stauts.*", channel="#lab")
        assert "matches no event type" in bad["text"]
        command(server, slack, f"watch {SEED_NCT} min_level=high", channel="#lab")
        assert "(events at high or higher only)" in follow_up(slack)
    store = Store.open(tmp_path / "ctwatch.db")
    (sub,) = store.subscriptions.list()
    store.close()
    assert (sub.min_level, sub.events) == ("high", ())
    check(config)  # the baseline
    registry.put(changed(seed_study(), status="ACTIVE_NOT_RECRUITING", last_update="2026-01-15"))
    assert "alerts sent 0" in check(config)  # medium: recorded, not sent
    registry.put(changed(seed_study(), status="SUSPENDED", last_update="2026-01-16"))
    assert "alerts sent 1" in check(config)
    (message,) = slack.messages
    assert "[HIGH] Overall status changed from Active, not recruiting to Suspended" in message.text


def test_channel_subscribed_both_ways_gets_one_alert(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    config = commands_config(tmp_path, registry, slack)  # test: SEED -> #trial-alerts
    with endpoint(config) as server:
        command(server, slack, f"watch {SEED_NCT}")  # from #trial-alerts, by ID
        follow_up(slack)
    check(config)
    registry.put(changed(seed_study(), status="COMPLETED", last_update="2026-02-01"))
    assert "alerts sent 1" in check(config)
    (message,) = slack.messages
    assert message.channel == "#trial-alerts"


def test_status_shows_subscriptions_from_both_sources(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = commands_config(tmp_path, registry, slack)
    with endpoint(config) as server:
        command(server, slack, f"watch {OTHER}", channel="#lab")
        follow_up(slack)
        command(server, slack, f"watch {SEED_NCT}")
        follow_up(slack, 2)
    check(config)
    data = json.loads(run_cli(config, "status", "--json", env=ENV).stdout)
    assert [t["nct_id"] for t in data["trials"]] == [SEED_NCT, OTHER]
    assert data["trials"][1]["title"] == "Another trial"
    alerts, lab = data["subscriptions"]
    assert alerts["channel"] == "#trial-alerts"
    assert alerts["channel_id"] == slack.channel_id("#trial-alerts")
    assert [(t["nct_id"], t["source"]) for t in alerts["trials"]] == [
        (SEED_NCT, "config"),
        (SEED_NCT, "slack"),
    ]
    assert alerts["trials"][0]["watch"] == "test"
    assert alerts["trials"][1]["user_id"] == "U0ALICE"
    assert lab["channel"] == "#lab" and lab["trials"][0]["nct_id"] == OTHER
    assert lab["trials"][0]["via"].startswith("Slack (by U0ALICE, 20")
    table = run_cli(config, "status", env=ENV).stdout
    assert "Slack channels (ctwatch status --json lists each trial)" in table
    alerts_id = slack.channel_id("#trial-alerts")
    assert (  # one line per channel, with counts (the same trial from both sources: once)
        f"  #trial-alerts ({alerts_id}): 1 trial: 1 from watch “test”, 1 added in Slack"
    ) in table
    assert f"  #lab ({slack.channel_id('#lab')}): 1 trial: 1 added in Slack" in table


def test_subscriptions_are_ignored_without_a_slack_section(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    registry.put(make_study(OTHER, "Another trial"))
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    store = Store.open(tmp_path / "ctwatch.db")
    store.subscriptions.add(
        [Subscription("C0LAB", OTHER, "lab", created_at="2026-01-01T00:00:00Z")]
    )
    store.close()
    result = run_cli(config, "check")
    assert "checked 1 · changed 0 · new 1" in result.stdout
    assert "1 Slack subscription ignored: the config has no [slack] section" in result.stderr


def test_endpoint_follows_the_daemons_config_after_a_reload(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble
) -> None:
    path = commands_config(tmp_path, registry, slack)
    os.environ.update(ENV)
    try:
        source = ConfigSource(path)
        first = source.read_if_changed()
        assert first is not None

        def build(cfg: Config, sleep: Callable[[float], None]) -> App:
            return App.build(cfg, out=io.StringIO(), sleep=sleep)

        daemon = Daemon(source, first, build)
        with serving(lambda: daemon.config, lambda: NOW) as server:
            assert command(server, slack, f"watch {SEED_NCT}")["text"].startswith("Checking")
            follow_up(slack)
            path.write_text(
                path.read_text().replace(
                    "[slack.commands]", '[slack.commands]\nallowed_channels = ["#lab"]'
                )
            )
            assert daemon.reload() is True
            assert "not enabled" in command(server, slack, f"watch {SEED_NCT}")["text"]
        daemon.app.close()
    finally:
        for key in ENV:
            os.environ.pop(key, None)


# ---- routing and parsing --------------------------------------------------------------


def test_parse_ids() -> None:
    assert parse_ids(" nct06850103,NCT01234567  NCT06850103 x ") == (
        [SEED_NCT, OTHER],
        ["x"],
    )


# ---- the commands as processes --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start(config: Path, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    """Start ``ctwatch ARGS``; its stderr lines arrive on the queue, then None at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "watcher", "--config", str(config), "--log-level", "info", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=config.parent,
        env={**os.environ, **ENV},
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def read_until(lines: queue.Queue[str | None], needle: str | None, timeout: float = 20) -> str:
    """Collect stderr until a line contains ``needle`` (None: until the process closed it)."""
    seen = ""
    deadline = time.monotonic() + timeout
    while True:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen += line
        if needle is not None and needle in line:
            break
    if needle is not None:
        assert needle in seen, seen
    return seen


def signed_request(url: str, body: bytes) -> httpx.Response:
    ts = str(int(time.time()))
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(body, ts),
    }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def stop(proc: subprocess.Popen[str]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("verb", ["serve", "run"])
def test_serve_and_run_answer_signed_requests_and_stop_on_sigterm(
    tmp_path: Path, registry: RegistryDouble, slack: SlackDouble, verb: str
) -> None:
    registry.put(seed_study())
    port = free_port()
    config = commands_config(tmp_path, registry, slack, listen=f"127.0.0.1:{port}")
    url = f"http://127.0.0.1:{port}/slack/commands"
    proc, lines = start(config, verb)
    try:
        stderr = read_until(lines, f"answering Slack slash commands on {url}")
        listed = signed_request(url, form(slack, "list"))
        assert listed.status_code == 200
        assert "config file (watch “test”)" in listed.json()["text"]
        forged = httpx.post(url, content=form(slack, "list"), headers={"X-Slack-Signature": "v0=0"})
        assert forged.status_code == 401
        assert stop(proc) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    stderr += read_until(lines, None)
    assert "Traceback" not in stderr and SECRET not in stderr
    assert "refused a slash command: bad signature or stale timestamp" in stderr


def test_serve_without_commands_config_exits_2(tmp_path: Path, registry: RegistryDouble) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    result = run_cli(config, "serve")
    assert result.exit_code == 2
    assert "slash commands need [slack] with signing_secret and a [slack.commands] section" in (
        result.stderr
    )


def test_example_config_documents_the_endpoint(tmp_path: Path) -> None:
    repo = REPO
    keys = (
        "[slack]",
        "token",
        "signing_secret",
        "[slack.commands]",
        "listen",
        "allowed_channels",
        "[server]",
    )
    lines = []
    for line in (repo / "config" / "ctwatch.toml").read_text().splitlines():
        body = line.removeprefix("# ")
        lines.append(body if line.startswith("# ") and body.startswith(keys) else line)
    path = tmp_path / "ctwatch.toml"
    path.write_text("\n".join(lines))
    config = load_config(path, ENV)  # the commented [slack] example, switched on, is valid
    assert config.slack is not None and config.slack.commands is not None
    assert config.slack.commands.address == ("127.0.0.1", 8080)
    assert config.slack.commands.allowed_channels == ("#trial-alerts", "C0123ABCD")
    assert config.slack.signing_secret is not None
    assert config.slack.signing_secret.get_secret_value() == SECRET
    assert config.server is not None and config.server.listen == "127.0.0.1:8080"
    assert config.slack.app_token is None  # documented, still commented out
    assert "(docs/setup/slack-http.md)" in (repo / "config" / "ctwatch.toml").read_text()
    page = (repo / "docs" / "setup" / "slack-http.md").read_text()  # the page the comment names
    assert "## Set up HTTP mode" in page and "https://your-host/slack/commands" in page
