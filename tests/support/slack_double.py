"""An in-process HTTP double of the Slack Web API, for tests of the Slack notifier.

Why real HTTP and not a patched ``WebClient``: what matters is what slack-sdk's own
client code does on the wire -- how it encodes ``chat.postMessage``, how it turns a
``{"ok": false}`` or an HTTP 5xx into ``SlackApiError``, and how its retry handlers
react to 429 + ``Retry-After`` and 500/503. Serving HTTP on ``127.0.0.1`` lets the
real ``slack_sdk.WebClient(base_url=double.url)`` run unchanged.

What it imitates:

- ``POST /api/chat.postMessage`` with a JSON body and ``Authorization: Bearer``
  (what slack-sdk sends) or a form body with ``token``; auth (``not_authed``,
  ``invalid_auth``), channels (``channel_not_found``, ``not_in_channel``), Block Kit
  limits (``invalid_blocks`` with ``response_metadata.messages``), ``no_text`` and
  ``msg_too_long``; success answers carry an increasing ``ts``;
- ``POST /api/chat.update`` (of a message it accepted, in that channel);
- ``POST /api/auth.test``, and ``POST /api/apps.connections.open`` for an
  app-level token (``xapp-…``): it answers ``connections_url()``, a Socket
  Mode double's WebSocket URL; any other method answers ``unknown_method``;
- ``POST /response/<name>``, a slash command's ``response_url`` (``responses``,
  ``wait_for_responses``);
- canned faults (``fail_next``) for chat.postMessage: HTTP 5xx, 429 with
  ``Retry-After``, or an ``{"ok": false, "error": ...}`` answer.

Like Slack, API errors are HTTP 200 with ``"ok": false``; only faults use other
statuses.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit

from tests.support.slack_blockkit import MAX_MESSAGE_TEXT, block_errors
from tests.support.slack_wire import (
    ApiError,
    Request,
    Response,
    decode_call,
    format_ts,
    json_response,
    text_response,
)
from watcher.testing.loopback import TEXT, LoopbackDouble, LoopbackHandler

__all__ = ["PostedMessage", "SlackDouble", "block_errors"]

log = logging.getLogger(__name__)

API_PREFIX = "/api/"
RESPONSE_PREFIX = "/response/"
BOT_USER_ID = "U0BOT"
BOT_ID = "B0BOT"
TEAM_ID = "T0TEST"
TEAM_NAME = "Test"

_TEXT = TEXT
_CHANNEL_ID_RE = re.compile(r"[CGD][A-Z0-9]{2,}")
_FIRST_TS = 1_700_000_000_000_100  # microseconds: "1700000000.000100"
_TS_STEP = 100


@dataclass(frozen=True)
class PostedMessage:
    """One accepted ``chat.postMessage``."""

    channel: str  # as sent, e.g. "#trial-alerts" or "C0123"
    text: str
    blocks: list[dict[str, Any]]
    payload: dict[str, Any]  # the whole decoded request body (form: blocks decoded)
    token: str
    ts: str = field(default="", compare=False)  # where it is, for chat.update
    channel_id: str = field(default="", compare=False)


@dataclass
class _Fault:
    response: Response
    remaining: int


def _channel_key(channel: str) -> str:
    return channel.removeprefix("#").lower()


# -- Block Kit checks ------------------------------------------------------------


class SlackDouble(LoopbackDouble):
    """A Slack Web API double served over HTTP on 127.0.0.1.

    Use it as a context manager and point ``slack_sdk.WebClient(base_url=double.url)``
    at it. Channel names get made-up IDs (see ``channel_id``); an entry that already
    looks like an ID (``C0123``) is its own ID. One lock guards all state, so tests
    may queue faults and read what was recorded while the server answers.
    """

    def __init__(
        self,
        *,
        tokens: Iterable[str] = ("xoxb-test-token",),
        channels: Iterable[str] = ("#trial-alerts", "#oncology"),
        member_of: Iterable[str] | None = None,
        app_tokens: Iterable[str] = ("xapp-1-test-app-token",),
    ) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self._tokens = frozenset(tokens)
        self._ids: dict[str, str] = {}  # channel ID -> the ID (IDs are matched exactly)
        self._names: dict[str, str] = {}  # channel name without "#", lowercased -> ID
        for index, channel in enumerate(channels, start=1):
            if _CHANNEL_ID_RE.fullmatch(channel):
                self._ids[channel] = channel
            else:
                channel_id = f"C0TEST{index:04d}"
                self._ids[channel_id] = channel_id
                self._names[_channel_key(channel)] = channel_id
        if member_of is None:
            self._members = frozenset(self._ids)
        else:
            members: set[str] = set()
            for channel in member_of:
                resolved = self._resolve(channel)
                if resolved is None:
                    raise ValueError(f"member_of names an unknown channel: {channel!r}")
                members.add(resolved)
            self._members = frozenset(members)
        self._faults: list[_Fault] = []
        self._messages: list[PostedMessage] = []
        self._calls: list[tuple[str, int]] = []
        self._responses: list[dict[str, Any]] = []
        self._updates: list[PostedMessage] = []
        self._next_ts = _FIRST_TS
        self._app_tokens = frozenset(app_tokens)
        self.connections_url: Callable[[], str] | None = None
        """What ``apps.connections.open`` hands out (a Socket Mode double's ``new_url``;
        an empty string makes it answer ``[]``, JSON of the wrong shape)."""

    # -- lifecycle -------------------------------------------------------------

    label = "slack double"

    def handler_class(self) -> type[LoopbackHandler]:
        return _Handler

    @property
    def url(self) -> str:
        """What ``WebClient(base_url=...)`` takes: ``http://127.0.0.1:PORT/api/``."""
        return f"{self.origin()}{API_PREFIX}"

    def response_url(self, name: str = "1") -> str:
        """A slash command ``response_url``: ``http://127.0.0.1:PORT/response/<name>``."""
        return f"{self.origin()}{RESPONSE_PREFIX}{name}"

    def channel_id(self, channel: str) -> str:
        """The ID a known channel name or ID answers with, e.g. in ``"channel"``."""
        channel_id = self._resolve(channel)
        if channel_id is None:
            raise KeyError(channel)
        return channel_id

    def _resolve(self, channel: str) -> str | None:
        if channel in self._ids:
            return channel
        return self._names.get(_channel_key(channel))

    # -- faults and records ------------------------------------------------------

    def fail_next(
        self,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
        raw_body: str | None = None,
        delay: float = 0.0,
    ) -> None:
        """Answer the next ``times`` chat.postMessage calls with a canned response.

        - ``raw_body="..."`` -> that body verbatim as application/json (e.g. a
          truncated one), with ``status``;
        - ``status=200, error="channel_not_found"`` -> ``{"ok": false, "error": ...}``;
        - ``status=429, retry_after=n`` -> HTTP 429, ``Retry-After: n`` and
          ``{"ok": false, "error": "ratelimited"}``;
        - ``status=500`` (502, 503, ...) -> that HTTP status with a short plain-text
          body, or ``{"ok": false, "error": error}`` when ``error`` is given.

        ``Retry-After`` is sent whenever ``retry_after`` is given; ``delay`` holds
        the answer back that many seconds (a hung server). Faults queue in order,
        are served before any validation (auth included) and are recorded in
        ``calls`` like any other answer.
        """
        if times < 1:
            raise ValueError("times must be at least 1")
        if not 200 <= status <= 599:
            raise ValueError(f"status must be an HTTP status from 200 to 599, not {status}")
        if status == 200 and error is None:
            raise ValueError("a status=200 fault needs an error, e.g. error='channel_not_found'")
        if retry_after is not None and retry_after < 0:
            raise ValueError("retry_after must not be negative")
        headers = () if retry_after is None else (("Retry-After", str(retry_after)),)
        if error is None and status == 429:
            error = "ratelimited"
        if raw_body is not None:
            response = Response(status, raw_body.encode(), "application/json", headers)
        elif error is not None:
            response = json_response(status, {"ok": False, "error": error}, headers)
        else:
            try:
                phrase = HTTPStatus(status).phrase
            except ValueError:
                phrase = "Error"
            response = Response(status, f"{status} {phrase}".encode(), _TEXT, headers)
        response = replace(response, delay=delay)
        with self._lock:
            self._faults.append(_Fault(response, times))

    @property
    def messages(self) -> list[PostedMessage]:
        """Accepted chat.postMessage calls, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def updates(self) -> list[PostedMessage]:
        """Accepted chat.update calls (the message as updated), oldest first."""
        with self._lock:
            return list(self._updates)

    @property
    def calls(self) -> list[tuple[str, int]]:
        """Every request as ``(method, HTTP status)``, failed ones included, oldest first.

        API calls are named by method (``"chat.postMessage"``); response_url posts
        as ``"response/<name>"``; any other path by the path itself.
        """
        with self._lock:
            return list(self._calls)

    @property
    def responses(self) -> list[dict[str, Any]]:
        """JSON bodies POSTed to ``/response/<name>``, oldest first."""
        with self._lock:
            return list(self._responses)

    def wait_for_responses(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``count`` response_url posts arrived; returns them all.

        Lets a test wait for a slash command's delayed reply (posted from a worker
        thread) without sleeping: it wakes on every answered request. Returns what
        arrived so far on time-out.
        """
        deadline = time.monotonic() + timeout
        with self._answered:
            while len(self._responses) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._answered.wait(remaining)
            return list(self._responses)

    def wait_for_calls(self, method: str, count: int = 1, timeout: float = 10.0) -> int:
        """Block until ``method`` was called ``count`` times (answered or held); the count."""
        deadline = time.monotonic() + timeout
        with self._answered:
            while (seen := sum(1 for name, _ in self._calls if name == method)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._answered.wait(remaining)
            return seen

    # -- request handling (called from server threads) -----------------------------

    def _dispatch(self, request: Request) -> Response:
        """Answer one request and record it before any byte is written."""
        path = request.path
        with self._lock:
            if path.startswith(API_PREFIX) and len(path) > len(API_PREFIX):
                name = unquote(path.removeprefix(API_PREFIX))
                response = self._api(name, request)
            elif path.startswith(RESPONSE_PREFIX) and len(path) > len(RESPONSE_PREFIX):
                name = f"response/{unquote(path.removeprefix(RESPONSE_PREFIX))}"
                response = self._response_url(request)
            else:
                name = path
                response = text_response(404, "Not Found")
            self._calls.append((name, response.status))
            self._answered.notify_all()
        return response

    def _api(self, method: str, request: Request) -> Response:
        if method == "chat.postMessage" and self._faults:
            fault = self._faults[0]
            fault.remaining -= 1
            if fault.remaining == 0:
                del self._faults[0]
            return fault.response
        try:
            args, token = decode_call(request)
            if method == "chat.postMessage":
                return json_response(200, self._post_message(args, token))
            if method == "chat.update":
                return json_response(200, self._update(args, token))
            if method == "auth.test":
                self._check_token(token)
                return json_response(200, self._auth_test())
            if method == "apps.connections.open":
                answer = self._connections_open(token)
                if not answer["url"]:  # JSON, but not the object Slack answers with
                    return Response(200, b"[]", "application/json")
                return json_response(200, answer)
            raise ApiError("unknown_method", req_method=method)
        except ApiError as exc:
            return json_response(200, {"ok": False, "error": exc.error, **exc.extra})

    def _check_token(self, token: str | None) -> str:
        if token is None:
            raise ApiError("not_authed")
        if token not in self._tokens:
            raise ApiError("invalid_auth")
        return token

    def _connections_open(self, token: str | None) -> dict[str, Any]:
        """Socket Mode: an app-level token gets a WebSocket URL (Slack's ``wss://…``)."""
        if token is None:
            raise ApiError("not_authed")
        if token not in self._app_tokens:
            wrong = "invalid_auth" if token.startswith("xapp-") else "not_allowed_token_type"
            raise ApiError(wrong)
        if self.connections_url is None:
            raise ApiError("internal_error")
        return {"ok": True, "url": self.connections_url()}

    def _update(self, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        """``chat.update``: only a message this double accepted, in its own channel."""
        token = self._check_token(token)
        channel = args.get("channel")
        channel_id = self._resolve(channel) if isinstance(channel, str) else None
        if channel_id is None:
            raise ApiError("channel_not_found")
        ts = args.get("ts")
        found = next((m for m in self._messages if m.ts == ts and m.channel_id == channel_id), None)
        if found is None:
            raise ApiError("message_not_found")
        blocks = args.get("blocks")
        if blocks is not None and (errors := block_errors(blocks)):
            raise ApiError("invalid_blocks", response_metadata={"messages": errors})
        text = str(args.get("text") or "")
        if not text and not blocks:
            raise ApiError("no_text")
        updated = PostedMessage(
            str(channel), text, list(blocks or []), args, token, ts=str(ts), channel_id=channel_id
        )
        self._updates.append(updated)
        return {"ok": True, "channel": channel_id, "ts": ts, "text": text}

    def _auth_test(self) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://test.slack.com/",
            "team": TEAM_NAME,
            "user": "ctwatch",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _post_message(self, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        token = self._check_token(token)
        channel = args.get("channel")
        channel_id = self._resolve(channel) if isinstance(channel, str) else None
        if channel_id is None:
            raise ApiError("channel_not_found")
        if channel_id not in self._members:
            raise ApiError("not_in_channel")
        blocks = args.get("blocks")
        if blocks is not None:
            errors = block_errors(blocks)
            if errors:
                raise ApiError("invalid_blocks", response_metadata={"messages": errors})
        text = args.get("text")
        if text is not None and not isinstance(text, str):
            text = str(text)
        has_content = bool(text) or bool(blocks) or bool(args.get("attachments"))
        if not has_content and not args.get("markdown_text"):
            raise ApiError("no_text")
        if text is not None and len(text) > MAX_MESSAGE_TEXT:
            raise ApiError("msg_too_long")
        ts = format_ts(self._next_ts)
        self._next_ts += _TS_STEP
        self._messages.append(
            PostedMessage(
                channel=channel if isinstance(channel, str) else "",
                text=text or "",
                blocks=list(blocks or []),
                payload=args,
                token=token,
                ts=ts,
                channel_id=channel_id,
            )
        )
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "text": text or "",
            "ts": ts,
        }
        if blocks:
            message["blocks"] = blocks
        if isinstance(args.get("thread_ts"), str):
            message["thread_ts"] = args["thread_ts"]
        return {"ok": True, "channel": channel_id, "ts": ts, "message": message}

    def _response_url(self, request: Request) -> Response:
        if request.verb != "POST":
            return text_response(405, "method_not_allowed")
        try:
            body = json.loads(request.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return text_response(400, "invalid_payload")
        if not isinstance(body, dict):
            return text_response(400, "invalid_payload")
        self._responses.append(body)
        return text_response(200, "ok")


class _Handler(LoopbackHandler):
    """HTTP plumbing only: every decision is made by ``SlackDouble._dispatch``."""

    server_version = "ctwatch-slack-double"

    def _serve(self, verb: str) -> None:
        body = self.read_body()
        if body is None:
            return
        split = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(verb, split.path, split.query, headers, body)
        response = self.owner()._dispatch(request)
        if response.delay:
            time.sleep(response.delay)
        self.reply(response.status, response.content_type, response.body, response.headers)

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")
