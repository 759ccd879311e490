"""GET JSON from the registry's host: paced, retried, bounded, never fooled.

Why a layer of its own: every registry call (the v2 API and the history
endpoints of :mod:`watcher.registry.history`, through one shared instance) must
obey the same rules, and each rule answers a way the outside world misbehaves:

* about one request per second (the registry publishes no limit);
* retries with backoff on 429, 5xx, time-outs, dropped connections and
  bodies that are not the JSON we asked for; ``Retry-After`` honoured up to a
  minute, a longer wish ends the attempt (the next cycle tries again);
* a total deadline per request (a trickling server cannot stretch "30 s"
  into hours; the abandoned request's connection is shut down, so its
  thread ends too), a cap on the body (a gzip bomb is an error, not a
  ``MemoryError``; an over-large page makes the caller ask for less);
* redirects followed only within the registry's own host;
* a User-Agent that names ctwatch *and* keeps httpx's product token: the
  registry's edge refuses httpx clients whose User-Agent lacks it (HTTP 403).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from watcher import __version__
from watcher.core.jsoncodec import JsonError, loads
from watcher.deadline import Attempt, DeadlineExceeded, OpenSockets, call_with_deadline
from watcher.neterrors import network_reason
from watcher.registry.errors import (
    RegistryRejected,
    RegistryUnavailable,
    RequestTooLong,
    ResponseTooLarge,
)
from watcher.timeutil import parse_retry_after
from watcher.tls import verified_context

log = logging.getLogger(__name__)

MAX_IN_PLACE_WAIT = 60.0  # a longer Retry-After fails the request; the next cycle retries
MAX_REDIRECTS = 5
CHUNK = 64 * 1024


def user_agent(contact: str | None = None, override: str | None = None) -> str:
    """``ctwatch/… (…; contact: …) python-httpx/…`` unless ``override`` is set.

    The ``python-httpx/<version>`` token is kept on purpose: the registry's
    edge answers 403 to an httpx client whose User-Agent lacks it.
    """
    if override:
        return override
    contact_part = f"; contact: {contact}" if contact else ""
    return (
        f"ctwatch/{__version__} (ClinicalTrials.gov change monitor{contact_part}) "
        f"python-httpx/{httpx.__version__}"
    )


@dataclass(frozen=True)
class HttpPolicy:
    """How patiently and politely to talk to the registry (from ``[registry]``)."""

    timeout: float = 30.0
    """Longest silence while connecting or reading."""
    deadline: float = 120.0
    """Longest whole request, body included."""
    pace: float = 1.0
    retries: int = 4
    backoff: float = 2.0
    max_body: int = 64 * 1024 * 1024
    user_agent: str = ""
    retry_unreachable: bool = True
    """Retry a name that does not resolve or a refused connection. The daemon does (a
    network blip passes); ``ctwatch check`` does not: offline, a person is waiting."""


@dataclass
class Stats:
    """Traffic counters, for the cycle log and the benchmark."""

    requests: int = 0
    bytes_received: int = 0


@dataclass(frozen=True)
class _Answer:
    status: int
    content_type: str
    retry_after: str | None
    body: bytes | bytearray


UNREACHABLE = ("host name not resolved", "connection refused")
"""Failures that another try seconds later rarely cures (see ``retry_unreachable``)."""


class _Retryable(RegistryUnavailable):
    """A failure worth another try, with the server's wait hint if any."""

    def __init__(
        self, message: str, retry_after: float | None = None, status: int | None = None
    ) -> None:
        super().__init__(message, status)
        self.retry_after = retry_after


class JsonGetter:
    """GETs JSON objects from one registry origin. One per process; close it."""

    def __init__(
        self,
        origin: str,
        policy: HttpPolicy,
        *,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.origin = httpx.URL(origin)
        # what messages show: credentials written into the URL stay out of them
        self.shown = self.origin.copy_with(username=None, password=None)
        self.policy = policy
        self._http = httpx.Client(
            timeout=httpx.Timeout(policy.timeout),
            headers={
                "User-Agent": policy.user_agent or user_agent(),
                "Accept": "application/json",
            },
            transport=transport,
            follow_redirects=False,
            verify=verified_context(),
        )
        self._clock = clock
        self._sleep = sleep
        self._sockets = OpenSockets()  # shut down when a deadline gives up on a request
        self._last_request: float | None = None
        self.stats = Stats()

    def close(self) -> None:
        self._http.close()

    def get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """The JSON object at ``url``; RegistryError subclasses when it cannot be had."""
        retrying = Retrying(
            stop=stop_after_attempt(self.policy.retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )
        try:
            body: dict[str, Any] = retrying(self._attempt, url, params)
        except _Retryable as exc:
            raise RegistryUnavailable(str(exc), exc.status) from None
        return body

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return exc.retry_after
        base = self.policy.backoff * (2 ** (state.attempt_number - 1))
        return float(min(base, 60.0) * (0.5 + random.random() / 2))

    def _attempt(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        self._keep_pace()
        where = f"the registry at {self.shown}"
        attempt = self._sockets.attempt()
        try:
            answer = call_with_deadline(
                lambda: self._exchange(url, params, attempt),
                self.policy.deadline,
                "registry-request",
                on_abandon=attempt.abandon,  # the abandoned read ends, not just our wait
            )
        except DeadlineExceeded:
            raise _Retryable(
                f"{where} did not answer in full within {self.policy.deadline:g} s"
            ) from None
        except httpx.TimeoutException:
            raise _Retryable(f"{where} timed out") from None
        except httpx.DecodingError:
            raise _Retryable(f"{where} sent a body that could not be decoded") from None
        except httpx.HTTPError as exc:
            reason = network_reason(exc)
            message = f"cannot reach {where} ({reason})"
            if not self.policy.retry_unreachable and reason in UNREACHABLE:
                raise RegistryUnavailable(message) from None
            raise _Retryable(message) from None
        self.stats.requests += 1
        self.stats.bytes_received += len(answer.body)
        return _parse(answer)

    def _exchange(self, url: str, params: dict[str, str] | None, attempt: Attempt) -> _Answer:
        """One request, following same-host redirects, reading at most ``max_body`` bytes."""
        target = httpx.URL(url)
        trace = {"trace": attempt.trace}
        for _ in range(MAX_REDIRECTS + 1):
            with self._http.stream("GET", target, params=params, extensions=trace) as response:
                if response.is_redirect:
                    target = self._same_host(response)
                    params = None  # the Location carries its own query
                    continue
                return _Answer(
                    response.status_code,
                    response.headers.get("content-type", ""),
                    response.headers.get("retry-after"),
                    self._read(response),
                )
        raise RegistryRejected(f"the registry redirected more than {MAX_REDIRECTS} times")

    def _same_host(self, response: httpx.Response) -> httpx.URL:
        location = response.headers.get("location", "")
        target = response.url.join(location)
        if (target.scheme, target.host, target.port) != (
            self.origin.scheme,
            self.origin.host,
            self.origin.port,
        ):
            raise RegistryRejected(
                f"the registry redirected to another host ({target.host or 'no host'}); "
                "not followed"
            )
        return target

    def _read(self, response: httpx.Response) -> bytearray:
        """The body, at most ``max_body`` bytes, grown in place (one copy in memory)."""
        limit = self.policy.max_body
        body = bytearray()
        for chunk in response.iter_bytes(CHUNK):
            if len(body) + len(chunk) > limit:
                raise ResponseTooLarge(f"the registry's answer is over {limit // (1024 * 1024)} MB")
            body += chunk
        return body

    def _keep_pace(self) -> None:
        now = self._clock()
        if self._last_request is not None and self.policy.pace > 0:
            wait = self._last_request + self.policy.pace - now
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
        self._last_request = now


def _parse(answer: _Answer) -> dict[str, Any]:
    status = answer.status
    if status == 429 or status >= 500:
        wait = parse_retry_after(answer.retry_after)
        if wait is not None and wait > MAX_IN_PLACE_WAIT:
            raise RegistryUnavailable(
                f"registry answered HTTP {status} and asked to wait {wait:.0f} s; "
                "the next cycle tries again",
                status,
            )
        raise _Retryable(f"registry answered HTTP {status}", wait, status)
    if status in (414, 431):
        raise RequestTooLong(f"registry answered HTTP {status} (request too long)", status)
    if status == 403:
        raise RegistryRejected(
            "refused by the registry (HTTP 403) — see registry.user_agent", status
        )
    if status >= 400:
        text = " ".join(answer.body.decode("utf-8", "replace").split())[:200]
        if status == 400 and ("too long" in text.lower() or "length" in text.lower()):
            raise RequestTooLong(f"registry answered HTTP 400: {text}", status)
        raise RegistryRejected(f"registry answered HTTP {status}: {text}", status)
    if status >= 300:
        raise RegistryRejected(f"registry answered HTTP {status} without a usable redirect", status)
    if "json" not in answer.content_type:
        ctype = answer.content_type or "no content type"
        raise _Retryable(f"registry answered {status} with {ctype}, not JSON", status=status)
    try:
        body = loads(answer.body)
    except JsonError:
        raise _Retryable(
            "registry answered with a truncated or invalid JSON body", status=status
        ) from None
    if not isinstance(body, dict):
        raise _Retryable("registry answered JSON of an unexpected shape", status=status)
    return body


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("registry: %s; retry %d in %.1fs", exc, state.attempt_number, wait)
