"""A Socket Mode double: Slack's WebSocket side, on 127.0.0.1, for slack-sdk's own client.

How Slack does it, and so how this does: ``apps.connections.open`` (on the Web
API double, :attr:`SlackDouble.connections_url`) hands out a one-off URL with
a ticket; the client connects there and gets ``{"type": "hello"}``; Slack then
sends envelopes (``slash_commands``, ``interactive``) and the client answers
each with ``{"envelope_id": …, "payload": …}`` within three seconds. Slack
may ask a client to reconnect (``{"type": "disconnect"}``) or simply drop the
connection; both are here, so reconnection is tested against the real client.

A URL is good for one connection: a client that reconnects without asking
``apps.connections.open`` again is refused, as it would be by Slack.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import uuid
from types import TracebackType
from typing import Any

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

APP_ID = "A0CTWATCH"


class SocketModeDouble:
    """Serves Socket Mode connections; sends envelopes and records their acks."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._issued: set[str] = set()
        self._used: set[str] = set()
        self._current: ServerConnection | None = None
        self._acks: dict[str, dict[str, Any]] = {}
        self.connections = 0
        self.refused = 0
        self._server: Server = serve(
            self._handle,
            "127.0.0.1",
            0,
            compression=None,
            ping_interval=None,
            process_request=self._check_ticket,
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="socket-mode-double", daemon=True
        )

    def __enter__(self) -> SocketModeDouble:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)

    @property
    def port(self) -> int:
        return int(self._server.socket.getsockname()[1])

    def new_url(self) -> str:
        """A one-off WebSocket URL, as ``apps.connections.open`` returns it."""
        ticket = uuid.uuid4().hex
        with self._changed:
            self._issued.add(ticket)
        return f"ws://127.0.0.1:{self.port}/link/?ticket={ticket}&app_id={APP_ID}"

    # ---- the server side -------------------------------------------------------

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        ticket = request.path.partition("ticket=")[2].partition("&")[0]
        with self._changed:
            if ticket in self._issued and ticket not in self._used:
                self._used.add(ticket)
                return None
            self.refused += 1
        return Response(401, "Unauthorized", Headers(), b"invalid ticket")

    def _handle(self, connection: ServerConnection) -> None:
        hello = {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "socket-mode-double", "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        connection.send(json.dumps(hello))
        with self._changed:
            self._current = connection
            self.connections += 1
            self._changed.notify_all()
        with contextlib.suppress(ConnectionClosed):
            for message in connection:
                data = json.loads(message)
                if isinstance(data, dict) and "envelope_id" in data:
                    with self._changed:
                        self._acks[str(data["envelope_id"])] = data
                        self._changed.notify_all()

    # ---- what tests do -------------------------------------------------------------

    def wait_for_connections(self, count: int, timeout: float = 15.0) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: self.connections >= count, timeout)

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Send an envelope (``slash_commands``, ``interactive``) on the newest connection."""
        envelope_id = str(uuid.uuid4())
        envelope = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": payload,
            "accepts_response_payload": kind != "events_api",
        }
        with self._changed:
            connection = self._current
        assert connection is not None, "no client is connected"
        connection.send(json.dumps(envelope))
        return envelope_id

    def wait_for_ack(self, envelope_id: str, timeout: float = 15.0) -> dict[str, Any]:
        """The client's ack of an envelope (fails the test when none came in time)."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: envelope_id in self._acks, timeout)
            assert arrived, f"no ack for envelope {envelope_id}"
            return self._acks[envelope_id]

    def ask_to_reconnect(self) -> None:
        """Slack's ``disconnect`` message: the client should open a new connection."""
        with self._changed:
            connection = self._current
        assert connection is not None
        connection.send(json.dumps({"type": "disconnect", "reason": "refresh_requested"}))

    def drop(self) -> None:
        """Cut the newest connection without a closing handshake (a network failure)."""
        with self._changed:
            connection = self._current
        assert connection is not None
        with contextlib.suppress(OSError):
            connection.socket.shutdown(socket.SHUT_RDWR)
