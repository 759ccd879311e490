"""The Slack Web API client: slack-sdk's WebClient with bounded in-place retries.

Why slack-sdk's retry handlers plus our outbox: short hiccups (a 503, a 429
asking to wait a second) are absorbed inside one send; anything longer is
handed back to the caller, and the outbox retries later with backoff, so a
long ``Retry-After`` never stalls a cycle.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.http_retry import RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from watcher.config import SlackConfig
from watcher.timeutil import parse_retry_after


def _retry_after(response: HttpResponse | None) -> float | None:
    if response is None:
        return None
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            return parse_retry_after(values[0])
    return None


class ShortRateLimitHandler(RetryHandler):
    """Retries a 429 in place only when Slack asks for a short wait."""

    def __init__(self, retries: int, max_wait: float, sleep: Callable[[float], None]) -> None:
        super().__init__(max_retry_count=retries)
        self._max_wait = max_wait
        self._sleep = sleep

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        wait = _retry_after(response)
        return (
            response is not None and response.status_code == 429 and (wait or 1.0) <= self._max_wait
        )

    def prepare_for_next_attempt(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        state.next_attempt_requested = True
        self._sleep(_retry_after(response) or 1.0)
        state.increment_current_attempt()


def slack_client(
    config: SlackConfig,
    *,
    retry_interval: float = 1.0,
    max_rate_wait: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
) -> WebClient:
    """A WebClient for ``config`` with bounded in-place retries."""
    client = WebClient(
        token=config.token.get_secret_value(),
        base_url=config.api_url,
        timeout=int(config.timeout.total_seconds()),
    )
    interval = FixedValueRetryIntervalCalculator(retry_interval)
    retries = config.retries
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=min(retries, 1), interval_calculator=interval),
        ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        ShortRateLimitHandler(retries, max_rate_wait, sleep),
    ]
    return client
