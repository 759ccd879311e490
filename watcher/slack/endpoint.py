"""The ``/ctwatch`` slash-command endpoint: ``POST /slack/commands``.

Why this shape:

* Trust first. Anyone who can reach the port can send a form, so nothing is
  parsed, stored or looked up before slack-sdk's ``SignatureVerifier`` has
  checked the ``X-Slack-Signature`` HMAC of the raw body and that
  ``X-Slack-Request-Timestamp`` is within five minutes (replays). A failed
  check is 401 and changes nothing. Bodies are capped at :data:`MAX_BODY`
  from ``Content-Length`` before a byte is read, and a slow client is cut off
  by a read time-out, so no request can pin memory or a thread.
* Three seconds. Slack shows an error if the answer takes longer, so the
  answer comes from the database at once; the registry lookup of ``watch``
  runs in a worker thread and its reply is POSTed to ``response_url``.
* Its own connections. The endpoint opens its own SQLite connection (WAL lets
  it write next to the daemon) and a short-lived registry client per lookup,
  so a config reload that closes the daemon's App never pulls a connection
  from under a command in flight. It reads the *current* config through a
  callable, so allow-list and secret edits apply without a restart.

stdlib ``ThreadingHTTPServer`` is enough for a few requests a day; put it on
127.0.0.1 behind a TLS reverse proxy (see the README). Secrets and bodies are
never logged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from watcher.config import Config
from watcher.redact import Redactor
from watcher.slack.commands import (
    BadRequest,
    CommandRequest,
    Commands,
    Lookup,
    Reply,
    split_command,
)
from watcher.store import Store

log = logging.getLogger(__name__)

COMMANDS_PATH = "/slack/commands"
MAX_BODY = 16 * 1024
MAX_FIELDS = 50
READ_TIMEOUT = 10.0
RESPONSE_URL_TIMEOUT = 10.0
STOP_WAIT = 5.0
MAX_DRAIN = 1024 * 1024
DRAIN_TIMEOUT = 1.0
FORM = "application/x-www-form-urlencoded"

CurrentConfig = Callable[[], Config]
LookupFactory = Callable[[Config], Lookup]
"""Builds a registry lookup for a config (the composition root supplies it)."""


@dataclass(frozen=True)
class HttpAnswer:
    """Status, content type and body of one response."""

    status: int
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def text(cls, status: int, message: str, *headers: tuple[str, str]) -> HttpAnswer:
        return cls(status, message.encode("utf-8"), headers=headers)


class _Clock(SlackClock):
    """slack-sdk's verifier clock, fed by an injectable ``time.time``-like callable."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def is_signed(secret: str, headers: Mapping[str, str], body: bytes, now: float) -> bool:
    """The signature matches the raw body and the timestamp is within five minutes."""
    verifier = SignatureVerifier(secret, clock=_Clock(lambda: now))
    try:
        return verifier.is_valid_request(body, dict(headers))
    except (ValueError, TypeError):  # a timestamp that is not a number, a non-ASCII signature
        return False


def post_reply(url: str, payload: Mapping[str, Any]) -> None:
    """POST a delayed reply to Slack's ``response_url`` (with a time-out)."""
    try:
        response = httpx.post(url, json=dict(payload), timeout=RESPONSE_URL_TIMEOUT)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        log.warning("could not post a command reply to Slack (%s)", exc.__class__.__name__)
        return
    if response.status_code >= 400:
        log.warning("Slack refused a command reply (HTTP %d)", response.status_code)


class SlashServer:
    """Serves ``POST /slack/commands`` from a background thread; ``start``/``stop``."""

    def __init__(
        self,
        current: CurrentConfig,
        lookup: LookupFactory,
        *,
        address: tuple[str, int] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._current = current
        self._lookup = lookup
        self._address = address
        self._clock = clock
        self._stores: dict[str, Store] = {}
        self._stores_lock = threading.Lock()
        self._workers: set[threading.Thread] = set()
        self._workers_lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle ---------------------------------------------------------

    def start(self) -> SlashServer:
        """Bind (OSError when the address is taken) and serve from a thread."""
        address = self._address or _listen_address(self._current())
        server = _Server(self, address)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="slash-commands",
            daemon=True,
        )
        self._thread.start()
        log.info("answering Slack slash commands on %s", self.url)
        return self

    def stop(self) -> None:
        """Stop accepting, give running follow-ups a few seconds, close the database."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join()
        deadline = time.monotonic() + STOP_WAIT
        with self._workers_lock:
            workers = list(self._workers)
        for worker in workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._stores_lock:
            stores, self._stores = list(self._stores.values()), {}
        for store in stores:
            store.close()

    def __enter__(self) -> SlashServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """``http://HOST:PORT/slack/commands`` as bound (the real port when 0 was asked)."""
        if self._server is None:
            raise RuntimeError("the slash-command server is not running")
        host = self._server.host
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{self._server.server_port}{COMMANDS_PATH}"

    # ---- requests (called from handler threads) --------------------------------

    def respond(
        self, path: str, headers: Mapping[str, str], read: Callable[[int], bytes]
    ) -> HttpAnswer:
        """One POST: route, size, signature, then the command. ``headers`` lower-cased."""
        if path != COMMANDS_PATH:
            return HttpAnswer.text(404, "not found")
        if "transfer-encoding" in headers:
            return HttpAnswer.text(411, "Content-Length required")
        raw_length = headers.get("content-length")
        if raw_length is None:
            return HttpAnswer.text(411, "Content-Length required")
        if not raw_length.strip().isdigit():
            return HttpAnswer.text(400, "bad Content-Length")
        length = int(raw_length)
        if length > MAX_BODY:
            return HttpAnswer.text(413, f"request body over {MAX_BODY} bytes")
        body = read(length)
        if len(body) != length:
            return HttpAnswer.text(400, "request body shorter than Content-Length")
        config = self._current()
        slack = config.slack
        if slack is None or slack.signing_secret is None or slack.commands is None:
            return HttpAnswer.text(503, "slash commands are not configured")
        if not is_signed(slack.signing_secret.get_secret_value(), headers, body, self._clock()):
            log.warning("refused a slash command: bad signature or stale timestamp")
            return HttpAnswer.text(401, "invalid signature")
        return self._command(config, headers, body)

    def _command(self, config: Config, headers: Mapping[str, str], body: bytes) -> HttpAnswer:
        """A verified request: decode the form, run the command, answer in JSON."""
        if headers.get("content-type", "").split(";")[0].strip().lower() != FORM:
            return HttpAnswer.text(415, f"expected {FORM}")
        try:
            form = parse_qsl(
                body.decode("utf-8"), keep_blank_values=True, max_num_fields=MAX_FIELDS
            )
            request = CommandRequest.from_form(dict(form))
        except (UnicodeDecodeError, ValueError) as exc:
            message = str(exc) if isinstance(exc, BadRequest) else "malformed form body"
            return HttpAnswer.text(400, message)
        verb = split_command(request.text)[0][:20]
        log.info(
            "slash command %r from %s in %s", verb, request.user_id, request.channel_id
        )  # never the whole text: it is user input
        commands = Commands(config, self._store(config), self._lookup(config))
        answer = commands.handle(request)
        if answer.later is not None:
            self._follow_up(request.response_url, answer.later)
        return _json(answer.reply)

    def _store(self, config: Config) -> Store:
        """One connection per database path, open until ``stop`` (never pulled mid-command)."""
        path = config.database.path
        with self._stores_lock:
            store = self._stores.get(path)
            if store is None:
                masked = Redactor(config.secrets())
                timeout = config.database.busy_timeout.total_seconds()
                store = self._stores[path] = Store.open(path, masked, timeout)
        return store

    def _follow_up(self, response_url: str, work: Callable[[], Reply]) -> None:
        """Run ``work`` in a thread and post its reply to ``response_url``."""

        def run() -> None:
            try:
                reply = work()
            except Exception:  # the user must hear something, whatever went wrong
                log.exception("a slash command failed after it was acknowledged")
                reply = Reply("Sorry, something went wrong; nothing may have been saved.")
            if response_url:
                post_reply(response_url, reply.payload())
            else:
                log.warning("a slash command came without a response_url; its reply is lost")
            with self._workers_lock:
                self._workers.discard(threading.current_thread())

        worker = threading.Thread(target=run, name="slash-follow-up", daemon=True)
        with self._workers_lock:
            self._workers.add(worker)
        worker.start()


def _json(reply: Reply) -> HttpAnswer:
    body = json.dumps(reply.payload(), ensure_ascii=False).encode("utf-8")
    return HttpAnswer(200, body, "application/json; charset=utf-8")


def _listen_address(config: Config) -> tuple[str, int]:
    slack = config.slack
    if slack is None or slack.commands is None:
        raise ValueError("no [slack.commands] section")
    return slack.commands.address


def commands_problem(config: Config) -> str | None:
    """Why this config cannot serve slash commands, or None when it can."""
    slack = config.slack
    if slack is None or slack.commands is None or slack.signing_secret is None:
        return (
            "slash commands need [slack] with signing_secret and a [slack.commands] section "
            "(see the README, 'Subscribe from Slack')"
        )
    return None


class _Server(ThreadingHTTPServer):
    """ThreadingHTTPServer that knows its SlashServer; IPv6 when the host is."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, slash: SlashServer, address: tuple[str, int]) -> None:
        self.slash = slash
        self.host = address[0]
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("slash commands: error serving %s", client_address, exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    """HTTP plumbing only; :meth:`SlashServer.respond` decides. One request per connection."""

    server_version = "ctwatch"
    sys_version = ""
    timeout = READ_TIMEOUT

    def _slash(self) -> SlashServer:
        assert isinstance(self.server, _Server)
        return self.server.slash

    def _send(self, answer: HttpAnswer, *, body: bool = True) -> None:
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self.send_header("Connection", "close")
        for name, value in answer.headers:
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(answer.body)
        self.close_connection = True

    def do_POST(self) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        path = urlsplit(self.path).path
        try:
            answer = self._slash().respond(path, headers, self._read_body)
        except TimeoutError:
            answer = HttpAnswer.text(408, "request body too slow")
        except Exception:
            log.exception("slash commands: internal error")
            answer = HttpAnswer.text(500, "internal error")
        self._send(answer)
        if answer.status == 413:
            self._drain()

    def _read_body(self, length: int) -> bytes:
        """Up to ``length`` bytes within READ_TIMEOUT overall (a trickling client is cut off)."""
        deadline = time.monotonic() + READ_TIMEOUT
        chunks: list[bytes] = []
        left = length
        while left > 0:
            if time.monotonic() > deadline:
                raise TimeoutError
            chunk = self.rfile.read1(left)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def _drain(self) -> None:
        """Read (a bounded part of) an unread body after answering, then close.

        Closing a socket with unread input makes the kernel send a reset, which
        can destroy the 413 before the client reads it; a brief lingering read
        lets the answer arrive without ever holding more than a small buffer.
        """
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            self.connection.settimeout(DRAIN_TIMEOUT)
            left = MAX_DRAIN
            while left > 0:
                chunk = self.rfile.read1(min(left, 65536))
                if not chunk:
                    break
                left -= len(chunk)

    def _not_allowed(self, *, body: bool = True) -> None:
        path = urlsplit(self.path).path
        if path == COMMANDS_PATH:
            answer = HttpAnswer.text(405, "only POST is allowed", ("Allow", "POST"))
            self._send(answer, body=body)
        else:
            self._send(HttpAnswer.text(404, "not found"), body=body)

    def do_HEAD(self) -> None:
        self._not_allowed(body=False)

    do_GET = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _not_allowed

    def log_message(self, format: str, *args: Any) -> None:
        """Per-request lines go to the debug log, never to stderr directly."""
        log.debug("slash commands: %s", format % args)
