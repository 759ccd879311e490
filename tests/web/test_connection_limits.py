"""Idle sockets cannot silence Slack, and "503 above 64" is what the server does.

Real sockets on 127.0.0.1: a few hundred connections that never send a
request, then a signed slash command; and 64 requests held in flight by a
small ASGI app, then one more.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from tests.conftest import write_config
from tests.support.slack_double import SlackDouble
from watcher.app import build_services
from watcher.config import load_config
from watcher.testing.registry_double import RegistryDouble
from watcher.web.asgi import COMMANDS_PATH
from watcher.web.limits import DEFAULT_LIMITS
from watcher.web.server import WebServer

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
ENV = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": SECRET}
IDLE = 200


def slack_commands_config(tmp_path: Path, registry: RegistryDouble, slack: SlackDouble) -> Path:
    extra = f"""
[slack]
token = "${{SLACK_BOT_TOKEN}}"
api_url = "{slack.url}"
signing_secret = "${{SLACK_SIGNING_SECRET}}"
retries = 0

[slack.commands]
listen = "127.0.0.1:0"
"""
    return write_config(tmp_path, registry.url, ["NCT06850103"], extra=extra)


def signed_help(slack: SlackDouble) -> tuple[bytes, dict[str, str]]:
    body = urlencode({
        "team_id": "T0TEST", "channel_id": slack.channel_id("#trial-alerts"),
        "channel_name": "trial-alerts", "user_id": "U0ALICE", "command": "/ctwatch",
        "text": "help", "response_url": slack.response_url("cmd"), "trigger_id": "1.2.3",
    }).encode()  # fmt: skip
    ts = str(int(time.time()))
    digest = hmac.new(SECRET.encode(), f"v0:{ts}:".encode() + body, hashlib.sha256)
    return body, {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
    }


@contextmanager
def idle_sockets(origin: str, count: int) -> Iterator[list[socket.socket]]:
    host, port = origin.removeprefix("http://").rsplit(":", 1)
    with ExitStack() as stack:
        sockets = [
            stack.enter_context(socket.create_connection((host, int(port)), timeout=5))
            for _ in range(count)
        ]
        yield sockets


def test_two_hundred_idle_sockets_do_not_block_a_signed_slack_request(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with SlackDouble(channels=("#trial-alerts",)) as slack:
        loaded = load_config(slack_commands_config(tmp_path, registry, slack), ENV)
        services = build_services(lambda: loaded).start()
        try:
            assert services.web is not None
            origin = services.web.origin
            with idle_sockets(origin, IDLE) as idle:
                idle[-1].sendall(b"GET /healthz HTTP/1.1\r\n")  # and one slow head
                body, headers = signed_help(slack)
                started = time.monotonic()
                answer = httpx.post(origin + COMMANDS_PATH, content=body, headers=headers,
                                    timeout=3)  # fmt: skip
                took = time.monotonic() - started
        finally:
            services.stop()
    assert answer.status_code == 200, answer.text
    assert "/ctwatch watch" in answer.json()["text"]
    assert took < 3


class Holding:
    """An ASGI app that keeps every request in flight until released."""

    def __init__(self) -> None:
        self.entered = threading.Semaphore(0)
        self.release = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.entered.release()
        await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})


@pytest.mark.parametrize("limit", [DEFAULT_LIMITS.max_requests])
def test_the_server_answers_503_above_max_requests_in_flight_not_before(limit: int) -> None:
    assert limit == 64  # the number the documentation gives
    app = Holding()
    with WebServer(app, ("127.0.0.1", 0)) as server, ThreadPoolExecutor(limit) as pool:
        held = [pool.submit(httpx.get, f"{server.origin}/x", timeout=10) for _ in range(limit)]
        try:
            for _ in range(limit):
                assert app.entered.acquire(timeout=10), "a request never reached the app"
            one_more = httpx.get(f"{server.origin}/x", timeout=5)
        finally:
            app.release.set()
        answers = [f.result() for f in held]
    assert [a.status_code for a in answers] == [200] * limit
    assert one_more.status_code == 503
    assert one_more.headers["retry-after"] == "1"
