"""Registry clients built from ``[registry]``: the cycle's, and quick ones for people.

Why here and not in the composition root: every process that reads the
registry - a cycle, ``ctwatch search``, ``/ctwatch watch`` - builds its client
from the same settings (pace, deadline, User-Agent); a person waiting for an
answer gets a client that gives up after a couple of retries rather than
backing off for minutes, and a client of its own, which a config reload that
closes the daemon's never pulls from under it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from watcher.config import RegistryConfig
from watcher.registry.client import RegistryClient
from watcher.registry.http import HttpPolicy, user_agent

QUICK_RETRIES = 2
"""Retries of a request a person is waiting for (a slash command, ``ctwatch search``)."""


def registry_client(
    reg: RegistryConfig,
    *,
    transport: httpx.BaseTransport | None = None,
    sleep: Callable[[float], None] = time.sleep,
    retries: int | None = None,
    retry_unreachable: bool = True,
) -> RegistryClient:
    """A registry client for ``[registry]`` (``retries`` overrides the config's;
    ``retry_unreachable=False`` fails at once on an unknown name or a refused connection)."""
    policy = HttpPolicy(
        timeout=reg.timeout.total_seconds(),
        deadline=reg.deadline.total_seconds(),
        pace=reg.pace,
        retries=reg.retries if retries is None else retries,
        backoff=reg.backoff,
        user_agent=user_agent(reg.contact, reg.user_agent),
        retry_unreachable=retry_unreachable,
    )
    return RegistryClient(
        reg.url, policy, batch_size=reg.batch_size, transport=transport, sleep=sleep
    )


def quick_client(reg: RegistryConfig) -> RegistryClient:
    """A client that fails fast: a person is waiting for the answer."""
    return registry_client(reg, retries=min(reg.retries, QUICK_RETRIES), retry_unreachable=False)
