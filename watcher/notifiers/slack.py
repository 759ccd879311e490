"""Slack notifier: ``chat.postMessage`` through slack-sdk's WebClient.

Why slack-sdk's retry handlers plus our outbox: short hiccups (a 503, a 429
asking to wait a second) are absorbed inside one send; anything longer is
handed back as a transient DeliveryError and the outbox retries later with
backoff, so a long ``Retry-After`` never stalls a cycle. Errors that retrying
cannot fix (a revoked token, a missing channel) are permanent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RetryHandler, RetryState
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse

from watcher.config import SlackConfig, parse_duration
from watcher.notifiers import DeliveryError
from watcher.render import Alert
from watcher.slack_blocks import Block, alert_message, digest_message

PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "ekm_access_denied",
    }
)


def _retry_after(response: HttpResponse | None) -> float | None:
    if response is None:
        return None
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                return None
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
        timeout=parse_duration(config.timeout),
    )
    interval = FixedValueRetryIntervalCalculator(retry_interval)
    retries = config.retries
    client.retry_handlers = [
        ConnectionErrorRetryHandler(max_retry_count=min(retries, 1), interval_calculator=interval),
        ServerErrorRetryHandler(max_retry_count=retries, interval_calculator=interval),
        ShortRateLimitHandler(retries, max_rate_wait, sleep),
    ]
    return client


class SlackNotifier:
    """Posts alerts to Slack channels."""

    def __init__(self, client: WebClient, digest_over: int) -> None:
        self._client = client
        self.digest_over: int | None = digest_over

    def send(self, target: str, alert: Alert) -> None:
        self.post(target, *alert_message(alert))

    def send_digest(self, target: str, alerts: Sequence[Alert]) -> None:
        self.post(target, *digest_message(alerts))

    def post(self, channel: str, text: str, blocks: list[Block]) -> None:
        """``chat.postMessage``; returns only when Slack answered ``ok: true``."""
        try:
            response = self._client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )
        except SlackApiError as exc:
            raise _classify(channel, exc) from None
        except (URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise DeliveryError(f"cannot reach Slack ({reason.__class__.__name__})") from None
        except ValueError:  # a truncated or non-JSON body from Slack or a proxy
            raise DeliveryError("Slack answered with an unreadable body") from None
        if response.get("ok") is not True:
            raise DeliveryError(f"Slack did not confirm the post to {channel}")


def _classify(channel: str, exc: SlackApiError) -> DeliveryError:
    response = exc.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    if status == 429 or error == "ratelimited":
        wait = response.headers.get("Retry-After") or response.headers.get("retry-after")
        retry_after = float(wait) if wait and str(wait).replace(".", "", 1).isdigit() else None
        return DeliveryError(f"Slack rate limit for {channel}", retry_after=retry_after)
    if status >= 500:
        return DeliveryError(f"Slack server error (HTTP {status})")
    detail = ""
    messages = data.get("response_metadata", {}).get("messages") if data else None
    if messages:
        detail = f" ({'; '.join(str(m) for m in messages)[:300]})"
    return DeliveryError(f"Slack {channel}: {error}{detail}", permanent=error in PERMANENT)
