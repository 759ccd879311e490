"""Socket Mode: Slack over an outbound WebSocket, so ``/ctwatch`` needs no public URL.

Why this shape:

* Bolt's ``SocketModeHandler`` with slack-sdk's built-in client (no extra
  dependency). It asks ``apps.connections.open`` - through the Bolt app's
  WebClient, so at ``[slack] api_url`` like every other Slack call - for a
  WebSocket URL, connects, acknowledges each envelope by its ``envelope_id``
  and reconnects by itself when the connection drops or Slack asks it to.
* The first connection is ours to retry: when ``apps.connections.open``
  fails (Slack down, a revoked token) the SDK gives up, so this watcher tries
  again with a doubling wait (at most five minutes) until it is stopped.
* Seen from outside. Every ``check_every`` seconds the watcher records
  whether the connection is up (``record``: the database, for ``ctwatch
  health`` in another process) and logs when it goes down or comes back.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from urllib.error import URLError

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk.errors import SlackApiError

from watcher.core.text import one_line
from watcher.neterrors import network_reason
from watcher.redact import Redactor

log = logging.getLogger(__name__)

"""The name its state is recorded under."""
CHECK_EVERY = 30.0
PING_INTERVAL = 5.0  # the SDK pings this often; a broken pipe is noticed in 5 pings
FIRST_RETRY = 1.0
MAX_RETRY = 300.0

Record = Callable[[bool, str | None], None]
"""Stores ``(up, why not)``; called from the watcher's thread."""


class SocketMode:
    """Keeps one Socket Mode connection for a Bolt app; ``start``/``stop``."""

    def __init__(
        self,
        bolt: App,
        app_token: str,
        record: Record,
        *,
        check_every: float = CHECK_EVERY,
        ping_interval: float = PING_INTERVAL,
    ) -> None:
        self._bolt = bolt
        self._app_token = app_token
        self._record = record
        self._check_every = check_every
        self._ping_interval = ping_interval
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._up: bool | None = None
        self._handler: SocketModeHandler | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> SocketMode:
        self._thread = threading.Thread(target=self._run, name="slack-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        handler, self._handler = self._handler, None
        if handler is not None:
            handler.close()  # type: ignore[no-untyped-call]

    @property
    def up(self) -> bool:
        return bool(self._up)

    def wait_until(self, up: bool, timeout: float) -> bool:
        """Block until the watcher has seen the connection ``up`` (or not); for tests."""
        with self._changed:
            return self._changed.wait_for(lambda: self._up is up, timeout)

    # ---- the watcher's thread ---------------------------------------------------

    def _run(self) -> None:
        delay = FIRST_RETRY
        while not self._stop.is_set():
            if self._handler is None:
                problem = self._connect()
                if problem is not None:
                    self._seen(False, problem)
                    self._stop.wait(delay)
                    delay = min(delay * 2, MAX_RETRY)
                    continue
                delay = FIRST_RETRY
            connected = self._handler is not None and self._handler.client.is_connected()
            self._seen(connected, None if connected else "reconnecting")
            self._stop.wait(self._check_every)

    def _connect(self) -> str | None:
        """Open the first connection; why it failed, or None."""
        handler = SocketModeHandler(
            self._bolt, self._app_token, ping_interval=self._ping_interval, concurrency=4
        )
        try:
            handler.connect()  # type: ignore[no-untyped-call]
        except SlackApiError as exc:
            data = exc.response.data if isinstance(exc.response.data, dict) else {}
            reason = f"apps.connections.open failed: {data.get('error') or 'HTTP error'}"
        except (URLError, OSError) as exc:
            reason = f"cannot reach Slack ({network_reason(exc)})"
        except Exception as exc:  # the SDK's own surprises must not end the watcher
            said = Redactor([self._app_token])(one_line(str(exc), 200))  # it may echo the URL
            reason = f"unexpected {exc.__class__.__name__}" + (f": {said}" if said else "")
        else:
            self._handler = handler
            return None
        handler.close()  # type: ignore[no-untyped-call]
        return reason

    def _seen(self, up: bool, problem: str | None) -> None:
        if up != self._up:
            if up:
                log.info("Slack Socket Mode connected")
            else:
                log.warning("Slack Socket Mode is not connected: %s", problem)
        try:
            self._record(up, problem)
        except Exception as exc:  # a busy database must not end the watcher
            log.warning("could not record the Socket Mode state (%s)", exc)
        with self._changed:
            self._up = up
            self._changed.notify_all()
