"""A webhook receiver over HTTP on 127.0.0.1 that checks signatures like a real one.

Why the ``standardwebhooks`` package here: a receiver an integrator writes
will verify with that library (or one of its siblings), so the tests prove
ctwatch's requests pass *its* check — headers, timestamp tolerance and the
``v1,`` HMAC — not a check written alongside the sender.

It records every request's ``webhook-id`` (answered, refused or dropped), so
a test can see that a retry carries the same id, and it deduplicates like a
careful receiver: an id seen before is answered 200 and not delivered twice.
Unsigned receivers (``secret=None``) accept any JSON body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.http_sink import Reply, Request, SinkDouble


@dataclass(frozen=True)
class Delivery:
    """One accepted event: its id and the decoded body."""

    webhook_id: str
    payload: dict[str, Any]


class WebhookReceiver(SinkDouble):
    """Verifies, deduplicates and records webhook events."""

    label = "webhook receiver"

    def __init__(self, secret: str | None = None, path: str = "/hooks/ctwatch") -> None:
        super().__init__()
        self._verifier = Webhook(secret) if secret is not None else None
        self.path = path
        self._deliveries: list[Delivery] = []

    def url(self, path: str | None = None) -> str:
        return f"{self.origin()}{path or self.path}"

    @property
    def deliveries(self) -> list[Delivery]:
        """Accepted events, each id once, oldest first."""
        with self._lock:
            return list(self._deliveries)

    @property
    def ids(self) -> list[str]:
        """The ``webhook-id`` of every request that arrived, in order (retries included)."""
        return [r.headers.get("webhook-id", "") for r in self.received]

    def answer(self, request: Request) -> tuple[Reply, str]:
        if request.path != self.path:
            return Reply(404, b"no such hook"), "unknown path"
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            return Reply(415, b"expected application/json"), "not JSON"
        try:
            if self._verifier is not None:
                payload = self._verifier.verify(request.body, dict(request.headers))
            else:
                payload = json.loads(request.body)
        except WebhookVerificationError as exc:
            return Reply(401, f"invalid signature: {exc}".encode()), "refused"
        except ValueError:
            return Reply(400, b"body is not JSON"), "not JSON"
        webhook_id = request.headers.get("webhook-id", "")
        if any(d.webhook_id == webhook_id for d in self._deliveries):
            return Reply(200, b"duplicate"), "duplicate"
        self._deliveries.append(Delivery(webhook_id, payload))
        return Reply(204), "verified" if self._verifier is not None else "unsigned"
