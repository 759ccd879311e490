"""ClinicalTrials.gov API v2 client: batched, paged, paced, retried.

Why this shape: the registry publishes no rate limit, so ctwatch asks for many
trials per request (``filter.ids`` with up to 1,000 IDs, ``pageSize=1000``),
spaces requests about a second apart, and backs off on 429/5xx/time-outs,
honouring ``Retry-After``. A 200 whose body is not the expected JSON (an HTML
error page, a truncated body) is treated as a failure, never as data: treating
it as "the trial has no fields" would alert on every field at once.

Errors are described in :mod:`watcher.registry.errors`.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type, stop_after_attempt

from watcher import __version__
from watcher.core import record as rec
from watcher.neterrors import network_reason
from watcher.registry.errors import (
    RegistryError,
    RegistryRejected,
    RegistryUnavailable,
    RequestTooLong,
)
from watcher.timeutil import parse_retry_after

log = logging.getLogger(__name__)

MAX_PAGE_SIZE = 1000
MAX_RETRY_AFTER = 300.0  # the longest wait one request sits through; the cycle retries later


class _Retryable(RegistryUnavailable):
    """A failure worth another try, with the server's wait hint if any."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass
class FetchResult:
    """What one fetch returned, keyed by the IDs that were asked for."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def all_failed(self) -> bool:
        return bool(self.failed) and not self.records and not self.missing

    @property
    def requested(self) -> list[str]:
        """Every ID this result speaks for."""
        return [*self.records, *self.missing, *self.failed]


def user_agent(contact: str | None = None) -> str:
    """A descriptive User-Agent, so the registry's operators know who calls."""
    base = f"ctwatch/{__version__} (ClinicalTrials.gov change monitor; httpx/{httpx.__version__}"
    return base + (f"; contact: {contact})" if contact else ")")


@dataclass
class _Stats:
    requests: int = 0
    bytes_received: int = 0


class RegistryClient:
    """Reads studies from the API v2. One instance per process; close it."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 30.0,
        pace: float = 1.0,
        retries: int = 5,
        backoff: float = 2.0,
        contact: str | None = None,
        batch_size: int = MAX_PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/",
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": user_agent(contact), "Accept": "application/json"},
            transport=transport,
            follow_redirects=True,
        )
        self._pace = pace
        self._retries = retries
        self._backoff = backoff
        self._clock = clock
        self._sleep = sleep
        self._last_request: float | None = None
        self.stats = _Stats()
        self.batch_size = min(max(batch_size, 1), MAX_PAGE_SIZE)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- public calls --------------------------------------------------------

    def data_timestamp(self) -> str:
        """``dataTimestamp`` from ``/version``: when the registry data last changed."""
        body = self._get_json("version", {})
        stamp = body.get("dataTimestamp")
        if not isinstance(stamp, str):
            raise RegistryUnavailable("registry /version answered without a dataTimestamp")
        return stamp

    def fetch_studies(
        self,
        nct_ids: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        advanced: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> FetchResult:
        """Fetch the given trials in batches; unknown IDs land in ``missing``.

        A batch that fails after retries marks its IDs in ``failed`` and the
        other batches go on. ``fields``/``advanced`` pass through to the API.
        """
        result = FetchResult()
        for batch in self.iter_batches(
            nct_ids, fields=fields, advanced=advanced, on_progress=on_progress
        ):
            result.records.update(batch.records)
            result.missing.extend(batch.missing)
            result.failed.update(batch.failed)
        return result

    def iter_batches(
        self,
        nct_ids: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        advanced: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> Iterator[FetchResult]:
        """Like :meth:`fetch_studies`, one result per batch, so callers can
        record and drop each batch: memory stays at one batch of records."""
        pending = list(dict.fromkeys(nct_ids))
        while pending:
            batch, pending = pending[: self.batch_size], pending[self.batch_size :]
            try:
                found = self._fetch_batch(batch, fields, advanced, on_progress)
            except RequestTooLong:
                if len(batch) == 1:
                    yield FetchResult(
                        failed={batch[0]: "registry rejected the request as too long"}
                    )
                    continue
                self.batch_size = max(1, len(batch) // 2)
                log.info("registry: request too long; batch size now %d", self.batch_size)
                pending = batch + pending
                continue
            except RegistryError as exc:
                yield FetchResult(failed=dict.fromkeys(batch, str(exc)))
                continue
            yield FetchResult(records=found, missing=[n for n in batch if n not in found])

    # ---- internals -----------------------------------------------------------

    def list_studies(self, fields: Sequence[str], advanced: str) -> list[dict[str, Any]]:
        """Every study matching ``advanced`` (registry-wide), all pages.

        Used with ``fields=NCTId,LastUpdatePostDate`` to learn what the registry
        posted since a day, whatever the watch list's length.
        """
        params = {
            "filter.advanced": advanced,
            "fields": ",".join(fields),
            "pageSize": str(MAX_PAGE_SIZE),
        }
        studies: list[dict[str, Any]] = []
        for page in self._pages(params):
            studies.extend(s for s in page if isinstance(s, dict))
        return studies

    def _fetch_batch(
        self,
        batch: list[str],
        fields: Sequence[str] | None,
        advanced: str | None,
        on_progress: Callable[[int], None] | None,
    ) -> dict[str, dict[str, Any]]:
        params: dict[str, str] = {
            "filter.ids": ",".join(batch),
            "pageSize": str(min(MAX_PAGE_SIZE, max(len(batch), 1))),
        }
        if fields:
            params["fields"] = ",".join(fields)
        if advanced:
            params["filter.advanced"] = advanced
        wanted = set(batch)
        found: dict[str, dict[str, Any]] = {}
        for page in self._pages(params):
            for study in page:
                key = requested_id(study, wanted)
                if key is not None:
                    found[key] = study
            if on_progress is not None:
                on_progress(len(page))
        return found

    def _pages(self, params: dict[str, str]) -> Iterator[list[Any]]:
        """Each page's ``studies``, following ``nextPageToken`` with the same parameters."""
        token: str | None = None
        while True:
            page_params = dict(params, pageToken=token) if token else params
            body = self._get_json("studies", page_params)
            studies = body.get("studies")
            if not isinstance(studies, list):
                raise RegistryUnavailable("registry answered without a 'studies' list")
            yield studies
            next_token = body.get("nextPageToken")
            if not next_token:
                return
            token = str(next_token)

    def _get_json(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        retrying = Retrying(
            stop=stop_after_attempt(self._retries + 1),
            wait=self._wait,
            retry=retry_if_exception_type(_Retryable),
            sleep=self._sleep,
            reraise=True,
            before_sleep=_log_retry,
        )
        try:
            body: dict[str, Any] = retrying(self._attempt, path, params)
        except _Retryable as exc:
            raise RegistryUnavailable(str(exc)) from None
        return body

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, _Retryable) and exc.retry_after is not None:
            return min(exc.retry_after, MAX_RETRY_AFTER)
        base = self._backoff * (2 ** (state.attempt_number - 1))
        return float(min(base, 60.0) * (0.5 + random.random() / 2))

    def _attempt(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        self._keep_pace()
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise _Retryable(f"the registry at {self.base_url} timed out") from None
        except httpx.TransportError as exc:
            reason = network_reason(exc)
            raise _Retryable(f"cannot reach the registry at {self.base_url} ({reason})") from None
        self.stats.requests += 1
        self.stats.bytes_received += len(response.content)
        return _parse(response)

    def _keep_pace(self) -> None:
        now = self._clock()
        if self._last_request is not None and self._pace > 0:
            wait = self._last_request + self._pace - now
            if wait > 0:
                self._sleep(wait)
                now = self._clock()
        self._last_request = now


def _parse(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if status == 429 or status >= 500:
        raise _Retryable(
            f"registry answered HTTP {status}",
            parse_retry_after(response.headers.get("retry-after"), cap=MAX_RETRY_AFTER),
        )
    if status in (414, 431):
        raise RequestTooLong(f"registry answered HTTP {status} (request too long)")
    if status >= 400:
        text = " ".join(response.text.split())[:200]
        if status == 400 and ("too long" in text.lower() or "length" in text.lower()):
            raise RequestTooLong(f"registry answered HTTP 400: {text}")
        raise RegistryRejected(f"registry answered HTTP {status}: {text}")
    ctype = response.headers.get("content-type", "")
    if "json" not in ctype:
        raise _Retryable(f"registry answered {status} with {ctype or 'no content type'}, not JSON")
    try:
        body = json.loads(response.content)
    except ValueError:
        raise _Retryable("registry answered with a truncated or invalid JSON body") from None
    if not isinstance(body, dict):
        raise _Retryable("registry answered JSON of an unexpected shape")
    return body


def requested_id(study: Any, wanted: set[str]) -> str | None:
    """Which requested ID a returned study answers (its own ID or an alias)."""
    if not isinstance(study, dict):
        return None
    nct = rec.nct_id(study)
    if nct in wanted:
        return nct
    for alias in rec.aliases(study):
        if alias.upper() in wanted:
            return alias.upper()
    return None


def _log_retry(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    log.warning("registry: %s; retry %d in %.1fs", exc, state.attempt_number, wait)
