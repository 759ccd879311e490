"""Clients trickling request bodies cannot silence Slack, ``/healthz`` or ``/metrics``.

Real sockets on 127.0.0.1: 64 connections each send a ``POST /slack/commands`` head
announcing 9000 bytes and then one byte; a request counts against the request cap only
once its body has arrived, so a signed slash command and the GET routes still answer.
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.slack_double import SlackDouble
from tests.web.test_connection_limits import ENV, idle_sockets, signed_help, slack_commands_config
from watcher.app import build_services
from watcher.config import load_config
from watcher.testing.registry_double import RegistryDouble
from watcher.web.limits import DEFAULT_LIMITS, RequestCap

SLOW = 64
HEAD = (
    b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n"
    b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9000\r\n\r\nt"
)


def _cap(services: object) -> RequestCap:
    """The server's request cap (reached through uvicorn's config: what the test waits on)."""
    server = services.web._server  # type: ignore[attr-defined]
    app = server.config.app
    assert isinstance(app, RequestCap)
    return app


def test_sixty_four_slow_bodies_do_not_silence_a_signed_slash_command(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    assert DEFAULT_LIMITS.max_requests == SLOW  # the whole cap, were bodies counted
    with SlackDouble(channels=("#trial-alerts",)) as slack:
        loaded = load_config(slack_commands_config(tmp_path, registry, slack), ENV)
        services = build_services(lambda: loaded).start()
        try:
            assert services.web is not None
            origin = services.web.origin
            cap = _cap(services)
            with idle_sockets(origin, SLOW) as held:
                for sock in held:
                    sock.sendall(HEAD)
                deadline = time.monotonic() + 10
                # wait on a condition (every head parsed and its request started), not a clock
                while (
                    getattr(cap, "reading", 0) + cap.in_flight < SLOW
                    and time.monotonic() < deadline
                ):
                    time.sleep(0.01)
                assert getattr(cap, "reading", 0) + cap.in_flight >= SLOW
                body, headers = signed_help(slack)
                started = time.monotonic()
                answer = httpx.post(
                    origin + "/slack/commands", content=body, headers=headers, timeout=3
                )
                elapsed = time.monotonic() - started
                health = httpx.get(origin + "/healthz", timeout=3)
                metrics = httpx.get(origin + "/metrics", timeout=3)
        finally:
            services.stop()
    assert answer.status_code == 200, (answer.status_code, answer.text)
    assert elapsed < 3
    assert health.status_code != 503 or "busy" not in health.text
    assert metrics.status_code == 200
