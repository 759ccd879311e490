"""A deadline that gives up also ends the request: no thread keeps reading, no socket
stays open. Real sockets against a server that trickles its answer one byte at a time.

Without the shutdown, every abandoned request leaves a worker thread reading
(and a socket open on both ends) for as long as the server trickles; the
daemon keeps its registry client across cycles, so they pile up, one a cycle.
"""

from __future__ import annotations

import io
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient

from tests.conftest import write_config
from tests.support.trickle import TrickleServer
from watcher.alerts.http_post import Unreachable, post
from watcher.alerts.notifier import DeliveryError
from watcher.app import App
from watcher.config import Config, SlackConfig
from watcher.daemon.scheduler import ConfigSource, Daemon
from watcher.slack.notifier import SlackNotifier

SLOW_JSON = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + b'{"ok":' * 2000
SLOW_HEAD = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"." * 10_000  # a head that never ends
CYCLES = 50


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def still_reading(name: str, before: set[threading.Thread], within: float = 2.0) -> int:
    """How many threads called ``name``, started since ``before``, are alive after being
    given ``within`` seconds in all to end (a shut-down read ends in milliseconds; an
    abandoned one reading a trickle would go on for minutes)."""
    started = [t for t in threading.enumerate() if t.name == name and t not in before]
    deadline = time.monotonic() + within
    for thread in started:
        thread.join(max(0.0, deadline - time.monotonic()))
    return sum(1 for t in started if t.is_alive())


def test_fifty_daemon_cycles_against_a_trickling_registry_leave_no_threads_or_sockets(
    tmp_path: Path,
) -> None:
    with TrickleServer(SLOW_JSON, interval=0.02) as slow:
        path = write_config(tmp_path, f"{slow.origin}/api/v2", ["NCT06850103"], incremental=True)
        source = ConfigSource(path)
        loaded = source.read_if_changed()
        assert loaded is not None
        # config durations are whole seconds; a tenth keeps fifty cycles quick
        fast = loaded.registry.model_copy(update={"deadline": timedelta(seconds=0.1), "retries": 0})
        config = loaded.model_copy(update={"registry": fast})

        def build(cfg: Config, sleep: Callable[[float], None]) -> App:
            return App.build(cfg, out=io.StringIO(), sleep=sleep)

        daemon = Daemon(source, config, build)
        try:
            daemon.run_cycle()  # warm up: the database, the pools
            before = set(threading.enumerate())
            fds_before = open_fds()
            for _ in range(CYCLES):
                daemon.run_cycle()
            reading = still_reading("registry-request", before)
            threads_after, fds_after = threading.active_count(), open_fds()
        finally:
            daemon.app.close()
        assert slow.connections >= CYCLES  # every cycle did ask, and gave up
    assert reading == 0  # fifty would be the pile-up
    assert threads_after - len(before) <= 2  # the trickling server's last one, at most
    assert fds_after - fds_before <= 6  # fifty abandoned connections would be 100 more


def test_abandoned_slack_posts_end_their_threads_and_sockets() -> None:
    with TrickleServer(SLOW_JSON, interval=0.02) as slow:
        client = WebClient(token="xoxb-test-token", base_url=f"{slow.origin}/api/", timeout=5)
        client.retry_handlers = []
        section = SlackConfig.model_validate({"token": "xoxb-test-token"}).model_copy(
            update={"timeout": timedelta(milliseconds=100), "retries": 0}
        )  # config durations are whole seconds; a tenth keeps the test short
        notifier = SlackNotifier(client, section)
        before, fds_before = set(threading.enumerate()), open_fds()
        for _ in range(20):
            with pytest.raises(DeliveryError, match="did not answer in full"):
                notifier.post("#trial-alerts", "text", [])
        reading, fds_after = still_reading("slack-post", before), open_fds()
    assert reading == 0
    assert fds_after - fds_before <= 6


def test_abandoned_webhook_and_teams_posts_end_their_threads_and_sockets() -> None:
    with TrickleServer(SLOW_HEAD, interval=0.02) as slow:
        before, fds_before = set(threading.enumerate()), open_fds()
        for _ in range(20):
            # the deadline gives up ("no complete answer"), unless a starved machine held
            # the server's next byte past httpx's own read timeout first ("timed out")
            with pytest.raises(Unreachable, match=r"no complete answer|timed out"):
                post(f"{slow.origin}/hook", b"{}", {"Content-Type": "application/json"}, 0.1)
        reading, fds_after = still_reading("post", before), open_fds()
    assert reading == 0
    assert fds_after - fds_before <= 6
