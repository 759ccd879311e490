"""The registry double's traffic: the requests it answered, and the faults it was told to serve.

Apart from the double's data and matching (:mod:`watcher.testing.registry_double`)
because tests reach for these the most - ``requests``, ``wait_for_request``,
``fail_next`` - and they have nothing to do with what a study looks like.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from watcher.testing.loopback import TEXT


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double answered, kept so tests can assert on traffic.

    ``path`` excludes the query string, which is decoded into ``params`` (last
    value wins for a repeated name). ``bytes_sent`` counts the response body only.
    """

    method: str
    path: str
    params: dict[str, str]
    status: int
    bytes_sent: int
    user_agent: str = ""


@dataclass(frozen=True)
class Response:
    """One answer of the double, before it is written."""

    status: int
    body: bytes
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


@dataclass
class _Fault:
    response: Response
    path_prefix: str
    remaining: int
    when: Callable[[Mapping[str, str]], bool] | None = None


def text_answer(status: int, message: str) -> Response:
    """A plain-text answer (the registry's errors are ``text/plain``)."""
    return Response(status, message.encode("utf-8"), TEXT)


class TrafficRecorder:
    """Requests and faults of a double; the double calls :meth:`_traffic_init` first and
    holds ``_lock`` (the one given) around :meth:`_recorded` and :meth:`_take_fault`."""

    _lock: threading.Lock

    def _traffic_init(self, lock: threading.Lock, default_prefix: str) -> None:
        self._answered = threading.Condition(lock)
        self._default_prefix = default_prefix
        self._faults: list[_Fault] = []
        self._requests: list[RecordedRequest] = []
        self._bytes_sent = 0

    def fail_next(
        self,
        status: int,
        body: str | bytes = "",
        *,
        times: int = 1,
        content_type: str = "text/plain",
        headers: Mapping[str, str] | None = None,
        path_prefix: str | None = None,
        when: Callable[[Mapping[str, str]], bool] | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` requests under ``path_prefix`` (default: the studies
        endpoint) with a canned response.

        Faults queue in order and are served before normal handling, e.g.
        ``fail_next(429, "slow down", headers={"Retry-After": "0"})``,
        ``fail_next(200, "<html>…", content_type="text/html")`` or a truncated
        JSON body with ``content_type="application/json"``. Faulted requests are
        recorded like any other; only an over-long request line is answered 414
        before a fault is consumed, as a front proxy would. ``when`` limits the
        fault to requests whose parameters it accepts (say, only full fetches);
        ``delay`` holds the answer back that many seconds (a slow server).
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        raw = body.encode("utf-8") if isinstance(body, str) else body
        response = Response(status, raw, content_type, tuple((headers or {}).items()), delay)
        prefix = self._default_prefix if path_prefix is None else path_prefix
        with self._lock:
            self._faults.append(_Fault(response, prefix, times, when))

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request answered since the last ``reset_requests``, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def bytes_sent(self) -> int:
        """Response body bytes sent since the last ``reset_requests``."""
        with self._lock:
            return self._bytes_sent

    def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float, start: int = 0
    ) -> RecordedRequest | None:
        """Block until a request matching ``predicate`` has been answered.

        Only requests from index ``start`` on are considered. Lets a test wait on
        a separate process (``ctwatch run``) without sleeping: it wakes on every
        answered request. Returns None on time-out. ``predicate`` runs under the
        double's lock, so it must not call back into the double.
        """
        with self._answered:
            seen = start
            deadline = time.monotonic() + timeout
            while True:
                for request in self._requests[seen:]:
                    if predicate(request):
                        return request
                seen = len(self._requests)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self._answered.wait(remaining):
                    return next((r for r in self._requests[seen:] if predicate(r)), None)

    def reset_requests(self) -> None:
        """Forget recorded traffic (e.g. between a warm-up and a measured run)."""
        with self._lock:
            self._requests.clear()
            self._bytes_sent = 0

    def _recorded(self, request: RecordedRequest) -> None:
        """Keep an answered request and wake its waiters (the caller holds the lock)."""
        self._requests.append(request)
        self._bytes_sent += request.bytes_sent
        self._answered.notify_all()

    def _take_fault(self, path: str, params: Mapping[str, str]) -> Response | None:
        """The next queued fault for this request, if any (the caller holds the lock)."""
        for index, fault in enumerate(self._faults):
            if path.startswith(fault.path_prefix) and (fault.when is None or fault.when(params)):
                fault.remaining -= 1
                if fault.remaining == 0:
                    del self._faults[index]
                return fault.response
        return None
