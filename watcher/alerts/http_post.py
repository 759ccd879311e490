"""One POST of JSON to a URL that is a secret: bounded, never redirected, never echoed.

Why shared: Teams Workflows and webhook receivers are both "POST a JSON body
to a URL the user gave us and read the status", and both URLs are secrets
(a Workflows URL carries its own ``sig=``). The hostile-world rules are
written once here:

* one total deadline per POST, answer included (a trickling receiver cannot
  hold a cycle), on top of httpx's per-read time-out;
* redirects are never followed (a 3xx is the caller's error to report): a
  redirect would carry the body, or the URL's secret, to another host;
* an error answer is read up to :data:`MAX_ANSWER` bytes, never decompressed,
  and only a short one-line reason is kept from it; a success answer is not
  read at all;
* the URL appears in no message: callers name the destination by its
  reference (:meth:`Destination.describe`) and mask the reason, which a
  receiver may have built by echoing the request.

The classification shared by both notifiers (429/408/5xx transient with
``Retry-After``, 3xx and other 4xx permanent) is :func:`failure`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from watcher import __version__
from watcher.alerts.notifier import DeliveryError
from watcher.core.destination import Destination
from watcher.core.text import one_line
from watcher.deadline import DeadlineExceeded, OpenSockets, call_with_deadline
from watcher.neterrors import network_reason
from watcher.timeutil import parse_retry_after
from watcher.tls import verified_context

if TYPE_CHECKING:  # httpx loads when a post is made: reading commands never need it
    import httpx

MAX_ANSWER = 64 * 1024
REASON_CHARS = 200
USER_AGENT = f"ctwatch/{__version__} (ClinicalTrials.gov change monitor)"
BASE_HEADERS = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}

Mask = Callable[[str], str]


@dataclass(frozen=True)
class Answer:
    """What a receiver said: its status, its wish to be left alone, and why (one line)."""

    status: int
    retry_after: float | None = None
    reason: str = ""
    """The receiver's words, unmasked and uncut: mask first, then cut (:func:`failure`),
    or a secret cut in half escapes the mask."""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Unreachable(Exception):
    """No HTTP answer: refused, reset, timed out, or not complete within the deadline."""


def resolve_url(urls: Mapping[Destination, str], destination: Destination) -> str:
    """The URL a destination stands for in the current config; permanent failure if gone.

    A URL removed from (or changed in) the config leaves its queued alerts
    behind under the old reference: they fail visibly, never reach a guess.
    """
    url = urls.get(destination)
    if url is None:
        raise DeliveryError(f"{destination.describe()} is no longer configured", permanent=True)
    return url


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Answer:
    """POST ``body``; the receiver's answer, or Unreachable (never a message with the URL)."""
    import httpx

    sent = {**BASE_HEADERS, **headers}
    attempt = OpenSockets().attempt()  # shut down if the deadline gives up: the thread ends
    trace = {"trace": attempt.trace}

    def exchange() -> Answer:
        with (
            httpx.Client(
                timeout=httpx.Timeout(timeout), follow_redirects=False, verify=verified_context()
            ) as client,
            client.stream("POST", url, content=body, headers=sent, extensions=trace) as response,
        ):
            retry_after = parse_retry_after(response.headers.get("retry-after"))
            if response.is_success:
                return Answer(response.status_code, retry_after)
            data = _read_capped(response)
            return Answer(response.status_code, retry_after, _reason(data, response.headers))

    try:
        return call_with_deadline(exchange, timeout, "post", on_abandon=attempt.abandon)
    except DeadlineExceeded:
        raise Unreachable(f"no complete answer within {timeout:g} s") from None
    except httpx.TimeoutException:
        raise Unreachable("timed out") from None
    except (httpx.HTTPError, OSError) as exc:
        raise Unreachable(network_reason(exc)) from None


def failure(where: str, answer: Answer, mask: Mask) -> DeliveryError:
    """A non-2xx answer as a DeliveryError: 408/429/5xx transient, the rest permanent."""
    status = answer.status
    said = f"{where} answered HTTP {status}"
    if answer.reason:
        said += f": {one_line(mask(answer.reason), REASON_CHARS)}"
    if status in (408, 429) or status >= 500:
        return DeliveryError(mask(said), retry_after=answer.retry_after)
    if status in (404, 410):
        return DeliveryError(
            mask(said) + " — the URL is gone (workflow or receiver deleted or changed): "
            "put the current URL in the config",
            permanent=True,
        )
    if status in (401, 403):
        return DeliveryError(
            mask(said) + " — the receiver refused ctwatch: check the URL's signature "
            "(Teams: copy the workflow URL again) or [webhooks] secret",
            permanent=True,
        )
    if 300 <= status < 400:
        return DeliveryError(
            f"{where} answered HTTP {status}, a redirect; not followed (check the URL)",
            permanent=True,
        )
    return DeliveryError(mask(said), permanent=True)


def _read_capped(response: httpx.Response) -> bytes:
    """At most MAX_ANSWER raw bytes; never decompressed (a gzip bomb stays small)."""
    if response.headers.get("content-encoding", "identity").lower() != "identity":
        return b"(a compressed body)"
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_raw():
        chunks.append(chunk)
        size += len(chunk)
        if size >= MAX_ANSWER:
            break
    return b"".join(chunks)[:MAX_ANSWER]


def _reason(data: bytes, headers: httpx.Headers) -> str:
    """The reason in an error body: a JSON error's code and message, else the text."""
    text = data.decode("utf-8", "replace")
    if "html" in headers.get("content-type", "").lower():
        return "an HTML page"
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        value = None
    if isinstance(value, dict):
        inner = value.get("error", value)
        if isinstance(inner, dict):
            bits = [inner.get("code"), inner.get("message")]
            found = ": ".join(str(b) for b in bits if isinstance(b, str | int) and str(b))
            text = found or text
        elif isinstance(inner, str):
            text = inner
    return text
