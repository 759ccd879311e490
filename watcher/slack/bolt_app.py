"""Slack through Bolt: ``/ctwatch`` and the alert buttons, over HTTP or Socket Mode.

Why Bolt: it is Slack's own framework for what was written here by hand -
request signatures, the three-second acknowledgement, ``response_url``
follow-ups, interactive payloads - and it speaks Socket Mode, so a team needs
no public URL. The meaning stays in :mod:`watcher.slack.commands` and
:mod:`watcher.slack.actions`; this module only wires them to Bolt:

* Trust. In HTTP mode Bolt's ``RequestVerification`` middleware checks
  ``X-Slack-Signature`` (HMAC of the raw body) and a timestamp within five
  minutes before anything is parsed or stored. It is given the *current*
  signing secret per request (a config reload applies at once) and an
  injectable clock; a malformed timestamp or signature is a plain "no" (401),
  never an error. Socket Mode needs no signature: the connection itself was
  opened with the app-level token.
* Three seconds. Every listener runs on its own thread: it acknowledges at
  once (the command's immediate reply, or an empty ack for a click), then does
  the slow part - the registry lookup of ``watch``, ``chat.update`` after a
  click - and posts the follow-up to ``response_url``.
* Its own connections. Listeners use the :class:`StorePool` and a
  short-lived registry client per lookup, never the daemon's App, which a
  reload closes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from typing import Any
from urllib.error import URLError

from slack_bolt import Ack, App, BoltRequest, BoltResponse, Respond
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.middleware.request_verification import RequestVerification
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier

from watcher.config import Config
from watcher.core.text import one_line
from watcher.slack.actions import Actions, Click, Outcome
from watcher.slack.blocks import HISTORY_ACTION, MUTE_ACTION, UNWATCH_ACTION, WATCH_ACTION
from watcher.slack.client import slack_client
from watcher.slack.commands import (
    BadRequest,
    CommandRequest,
    Commands,
    Lookup,
    Reply,
    split_command,
)
from watcher.slack.search_commands import SearchPreviewer
from watcher.store import Store, StoreError
from watcher.store.pool import StorePool
from watcher.timeutil import Clock, utc_now

log = logging.getLogger(__name__)

FORM = "application/x-www-form-urlencoded"
STOP_WAIT = 5.0

CurrentConfig = Callable[[], Config]
LookupFactory = Callable[[Config], Lookup]
"""Builds a registry lookup for a config (the composition root supplies it)."""
PreviewFactory = Callable[[Config], SearchPreviewer]
"""Builds a search preview for a config (``/ctwatch watch <search URL>``)."""


class _Clock(SlackClock):
    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


class _Verifier(SignatureVerifier):
    """slack-sdk's verifier; a timestamp that is not a number or a non-ASCII signature is
    a failed check, not an exception."""

    def is_valid(self, body: str | bytes, timestamp: str | None, signature: str | None) -> bool:
        try:
            return super().is_valid(body, timestamp, signature)
        except (ValueError, TypeError):
            return False


class _Verification(RequestVerification):
    """Bolt's request verification, with the current secret and an injectable clock."""

    def __init__(self, secret: Callable[[], str], now: Callable[[], float]) -> None:
        super().__init__(signing_secret="")
        self._secret = secret
        self._now = now

    @property
    def verifier(self) -> SignatureVerifier:
        # no secret (a reload removed it mid-request): a random one nobody can sign with
        secret = self._secret() or secrets.token_hex(32)
        return _Verifier(secret, clock=_Clock(self._now))

    def _debug_log_error(self, signature: Any, timestamp: Any, body: Any) -> None:
        """Bolt's own log line would carry the body; :meth:`refusal` writes ours."""

    @staticmethod
    def refusal() -> BoltResponse:
        log.warning("refused a slash command: bad signature or stale timestamp")  # no body
        return BoltResponse(status=401, body="invalid signature")

    @staticmethod
    def _build_error_response() -> BoltResponse:
        return _Verification.refusal()


class _QuietStart(logging.Filter):
    """Drops Bolt's start-up notes that ``SLACK_BOT_TOKEN`` in the environment (the name
    the docs use) is not used: the token comes from the config, by design."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not message.startswith(("As you gave `client`", "As `installation_store`"))


def _bolt_logger() -> logging.Logger:
    """Bolt's logger: under ``slack_bolt`` (warnings and up, like the other libraries)."""
    logger = logging.getLogger("slack_bolt.ctwatch")
    if not any(isinstance(f, _QuietStart) for f in logger.filters):
        logger.addFilter(_QuietStart())
    return logger


class _DaemonExecutor(Executor):
    """One daemon thread per listener: a follow-up stuck on a slow server never keeps the
    process from exiting; :meth:`shutdown` waits a few seconds for those running."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()

        def run() -> None:
            try:
                if future.set_running_or_notify_cancel():
                    future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the future, as an Executor must
                future.set_exception(exc)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=run, name="slack-listener", daemon=True)
        with self._lock:
            self._threads.add(thread)
        thread.start()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        deadline = time.monotonic() + STOP_WAIT
        with self._lock:
            threads = list(self._threads)
        for thread in threads if wait else ():
            thread.join(max(0.0, deadline - time.monotonic()))


class SlackService:
    """The Bolt app for ``/ctwatch`` and the buttons; ``dispatch`` one request."""

    def __init__(
        self,
        current: CurrentConfig,
        lookup: LookupFactory,
        pool: StorePool,
        *,
        clock: Callable[[], float] = time.time,
        now: Clock = utc_now,
        client: WebClient | None = None,
        preview: PreviewFactory | None = None,
    ) -> None:
        config = current()
        if config.slack is None:
            raise ValueError("no [slack] section")
        self._current = current
        self._lookup = lookup
        self._preview = preview
        self._pool = pool
        self._now = now
        self._executor = _DaemonExecutor()
        self._teams: dict[str, str] = {}  # sha256 of a bot token -> its workspace
        self._teams_lock = threading.Lock()
        web = client or slack_client(config.slack)
        web.token = None  # each request's client gets the current token from authorize
        self._verification = _Verification(self._signing_secret, clock)
        self.bolt = App(
            name="ctwatch",
            logger=_bolt_logger(),
            client=web,
            authorize=self._authorizer(),
            request_verification_enabled=False,  # ours: Bolt's, with the current secret
            before_authorize=self._verification,
            ignoring_self_events_enabled=False,
            listener_executor=self._executor,
        )
        self.bolt.use(_forms_only)
        self.bolt.command(re.compile(r"^/"))(self._command_listener())
        self.bolt.action(MUTE_ACTION)(self._action_listener(Actions.mute))
        self.bolt.action(UNWATCH_ACTION)(self._action_listener(Actions.unwatch))
        self.bolt.action(WATCH_ACTION)(self._action_listener(Actions.watch))
        self.bolt.action(HISTORY_ACTION)(_ack_only)  # a link button: Slack opens the URL

    def dispatch(self, body: bytes, headers: dict[str, str]) -> BoltResponse:
        """One HTTP-mode request. The signature is checked on the raw bytes first: Bolt's
        own check comes after its request object has parsed the form and the JSON
        payload, and a stranger's garbage (``payload=null``) crashes that parser."""
        if not self._verification.verifier.is_valid_request(body, headers):
            return _Verification.refusal()  # and one log line
        try:
            request = BoltRequest(body=body.decode("utf-8"), headers=dict(headers.items()))
        except Exception:  # Bolt's parser trusts the payload's shape
            return BoltResponse(status=400, body="malformed request body")
        return self.bolt.dispatch(request)

    def close(self) -> None:
        """Give running follow-ups a few seconds."""
        self._executor.shutdown(wait=True)

    # ---- per request -------------------------------------------------------------

    def _signing_secret(self) -> str:
        slack = self._current().slack
        secret = slack.signing_secret if slack is not None else None
        return secret.get_secret_value() if secret is not None else ""

    def _authorizer(self) -> Callable[..., AuthorizeResult]:
        """The current bot token, with no call to Slack (Bolt reads argument names, so
        this is a plain function, not a method)."""

        def authorize(enterprise_id: str | None, team_id: str | None) -> AuthorizeResult:
            slack = self._current().slack
            token = slack.token.get_secret_value() if slack is not None else None
            return AuthorizeResult(enterprise_id=enterprise_id, team_id=team_id, bot_token=token)

        return authorize

    def _store(self, config: Config) -> Store:
        return self._pool.get(config.database, config.secrets())

    def _workspace(self, client: WebClient) -> Callable[[], str | None]:
        """The bot token's Slack team (``auth.test``, remembered per token), None when Slack
        cannot say just now."""

        def team() -> str | None:
            key = hashlib.sha256((client.token or "").encode()).hexdigest()  # not the token
            with self._teams_lock:
                known = self._teams.get(key)
            if known is not None:
                return known
            try:
                answer = client.auth_test()
            except SlackApiError as exc:
                error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
                log.warning("could not learn the Slack workspace (%s)", error or "Slack refused")
                return None
            except (URLError, OSError, ValueError) as exc:
                log.warning("could not learn the Slack workspace (%s)", exc.__class__.__name__)
                return None
            found = answer.get("team_id")
            if not isinstance(found, str) or not found:
                return None
            with self._teams_lock:
                self._teams[key] = found
            return found

        return team

    def _command_listener(self) -> Callable[..., None]:
        def command(ack: Ack, body: dict[str, Any], respond: Respond) -> None:
            try:
                request = CommandRequest.from_form(_strings(body))
            except BadRequest as exc:
                ack({"response_type": "ephemeral", "text": f"Sorry, a malformed request ({exc})."})
                return
            verb = split_command(request.text)[0][:20]
            log.info(
                "slash command %r from %s in %s", verb, request.user_id, request.channel_id
            )  # never the whole text: it is user input
            config = self._current()
            try:
                preview = self._preview(config) if self._preview is not None else None
                store, lookup = self._store(config), self._lookup(config)
                commands = Commands(config, store, lookup, self._now, preview)
                answer = commands.handle(request)
            except StoreError as exc:
                log.error("a slash command could not use the database: %s", exc)
                ack(Reply("Sorry, ctwatch cannot use its database just now; try again.").payload())
                return
            ack(answer.reply.payload())
            if answer.later is None:
                return
            try:
                reply = answer.later()
            except Exception:  # the user must hear something, whatever went wrong
                log.exception("a slash command failed after it was acknowledged")
                reply = Reply("Sorry, something went wrong; nothing may have been saved.")
            _respond(respond, request.response_url, reply.payload())

        return command

    def _action_listener(self, effect: Callable[[Actions, Click], Outcome]) -> Callable[..., None]:
        def action(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
            ack()
            try:
                click = Click.from_payload(body)
            except BadRequest as exc:
                log.warning("ignored a button click: %s", exc)
                return
            log.info("button %s for %s from %s in %s",
                     click.action_id, click.nct_id, click.user_id, click.channel_id)  # fmt: skip
            url = str(body.get("response_url") or "")
            payload = {"response_type": "ephemeral", "replace_original": False}
            try:
                config = self._current()
                store, lookup = self._store(config), self._lookup(config)
                workspace = self._workspace(client)
                actions = Actions(config, store, lookup, self._now, workspace)
                outcome = effect(actions, click)
            except Exception as exc:  # acknowledged already: the clicker must hear something
                log.error("button %s for %s failed: %s: %s", click.action_id, click.nct_id,
                          exc.__class__.__name__, one_line(str(exc), 300))  # fmt: skip
                log.debug("button failed", exc_info=True)
                text = "Sorry, that did not work (ctwatch logged why); nothing may have changed."
                _respond(respond, url, {**payload, "text": text})
                return
            _update(client, click, outcome)
            if outcome.reply:
                _respond(respond, url, {**payload, "text": outcome.reply})

        return action


def _forms_only(req: BoltRequest, next: Callable[[], BoltResponse]) -> BoltResponse:
    """Slack posts commands and clicks as forms; a signed request of another type is 415."""
    if req.mode == "socket_mode":
        return next()
    content_type = (req.headers.get("content-type") or [""])[0]
    if content_type.split(";")[0].strip().lower() != FORM:
        return BoltResponse(status=415, body=f"expected {FORM}")
    return next()


def _ack_only(ack: Ack) -> None:
    ack()


def _strings(body: Mapping[str, Any]) -> dict[str, str]:
    return {k: v for k, v in body.items() if isinstance(v, str)}


def _update(client: WebClient, click: Click, outcome: Outcome) -> None:
    """Say on the alert itself who did what (``chat.update``); a failure is only logged."""
    updated = outcome.updated(click)
    if updated is None or not click.message_ts:
        return
    text, blocks = updated
    try:
        client.chat_update(channel=click.channel_id, ts=click.message_ts, text=text, blocks=blocks)
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        log.warning("could not update the alert message (%s)", error or "Slack refused")
    except (URLError, OSError, ValueError) as exc:
        log.warning("could not update the alert message (%s)", exc.__class__.__name__)


def _respond(respond: Respond, url: str, payload: dict[str, Any]) -> None:
    """Post a reply to ``response_url`` (with a time-out); failures are only logged."""
    if not url:
        log.warning("a Slack request came without a response_url; its reply is lost")
        return
    try:
        response = respond(payload)
    except (URLError, OSError, ValueError) as exc:
        log.warning("could not post a reply to Slack (%s)", exc.__class__.__name__)
        return
    if response.status_code >= 400:
        log.warning("Slack refused a reply (HTTP %d)", response.status_code)
