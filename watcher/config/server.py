"""``[server]``: the one web server (Slack HTTP mode, feeds, ``/metrics``, ``/healthz``).

Why its own module: what the process serves is decided in one place from the
whole config - the address (``[server] listen``, or the older
``[slack.commands] listen`` it replaces), whether Slack comes in over HTTP or
over an outbound Socket Mode connection, whether feeds are on - so ``run``,
``serve``, the notifier (buttons only when clicks can reach us) and the
docs agree.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, SecretStr, field_validator

from watcher.config.types import ListenAddress, check_http_url, parse_listen

if TYPE_CHECKING:
    from watcher.config.model import Config

DEFAULT_LISTEN = "127.0.0.1:8080"
MIN_FEED_TOKEN = 16
APP_TOKEN_PREFIX = "xapp-"  # noqa: S105 - the format's prefix, not a secret


class ServerConfig(BaseModel):
    """Where the web server listens and what guards the feeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: ListenAddress = DEFAULT_LISTEN
    """Where the web server of ``ctwatch run`` and ``ctwatch serve`` listens: Slack's HTTP
    mode, feeds, ``/metrics``, ``/healthz`` (keep it on loopback, behind a proxy)."""
    feed_token: SecretStr | None = None
    """``?token=`` for ``/feeds/…``; without it feeds are off (404)."""
    public_url: str | None = None
    """Where people reach this server, e.g. ``"https://ctwatch.example.org"``: alerts then
    link to each trial's page (``/trials/NCT…``) and a digest's "…and N more" to ``/changes``.
    A path prefix is fine; a query string or fragment is refused (links append a path)."""
    ui_token: SecretStr | None = None
    """The web UI's token (login form or ``Authorization: Bearer``). Required when ``listen``
    is not a loopback address (else the UI answers 403); once set, every UI request needs it.
    Make one with ``python3 -c 'import secrets; print(secrets.token_urlsafe(24))'``."""

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_http_url(value)
        if "?" in value or "#" in value:  # every link appends a path: it would land inside
            raise ValueError(
                f"{value!r} has a query or fragment; give the address only "
                "(e.g. https://ctwatch.example.org or https://example.org/ctwatch)"
            )
        if any(c.isspace() or not c.isprintable() for c in value):
            raise ValueError(f"{value!r} contains white space or a control character")
        return value.rstrip("/")

    @field_validator("feed_token", "ui_token")
    @classmethod
    def _token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < MIN_FEED_TOKEN:
            raise ValueError(
                f"is shorter than {MIN_FEED_TOKEN} characters; make one with "
                "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
            )
        return value


def loopback(listen: str) -> bool:
    """Whether ``host:port`` binds a loopback address only (``127.0.0.0/8``, ``::1``,
    ``localhost``): the UI may then be served without a token."""
    host, _ = parse_listen(listen)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def ui_token_missing(config: Config) -> str | None:
    """Why the web UI answers 403 (``listen`` not loopback and no ``ui_token``), or None."""
    listen, server = serving(config).listen, config.server
    if listen is None or (server is not None and server.ui_token is not None) or loopback(listen):
        return None
    return (
        f"the web UI is off: {serving(config).listen_key} ({listen}) is not a loopback "
        "address and server.ui_token is not set"
    )


def check_app_token(value: SecretStr | None) -> SecretStr | None:
    """An app-level token (``xapp-…``); the message never repeats the value."""
    if value is not None and not value.get_secret_value().startswith(APP_TOKEN_PREFIX):
        raise ValueError(
            f"must be an app-level token ({APP_TOKEN_PREFIX}…, with connections:write), "
            "not a bot token"
        )
    return value


@dataclass(frozen=True)
class Serving:
    """What one ``ctwatch run``/``serve`` process answers, and where."""

    listen: str | None
    """``host:port`` of the web server, or None when none is configured."""
    listen_key: str
    """The config key the address came from (for error messages)."""
    slack_http: bool
    """``/slack/commands`` and ``/slack/interactions`` verify and answer."""
    socket_mode: bool
    """An outbound Socket Mode connection carries commands and clicks."""
    feeds: bool

    @property
    def anything(self) -> bool:
        return self.listen is not None or self.socket_mode

    @property
    def interactive(self) -> bool:
        """Whether a button click can reach this ctwatch (so alerts may carry buttons)."""
        return self.slack_http or self.socket_mode


def serving(config: Config) -> Serving:
    """What ``config`` asks to serve (see docs/service/index.md)."""
    slack, server = config.slack, config.server
    commands = slack.commands if slack is not None else None
    if server is not None:
        listen, key = server.listen, "server.listen"
    elif commands is not None:
        listen, key = commands.listen, "slack.commands.listen"
    else:
        listen, key = None, "server.listen"
    return Serving(
        listen=listen,
        listen_key=key,
        slack_http=listen is not None and slack is not None and slack.signing_secret is not None,
        socket_mode=slack is not None and slack.app_token is not None,
        feeds=server is not None and server.feed_token is not None,
    )


def listen_conflict(config: Config) -> str | None:
    """Why ``[server] listen`` and ``[slack.commands] listen`` cannot both hold, or None."""
    server, slack = config.server, config.slack
    commands = slack.commands if slack is not None else None
    if server is None or commands is None or "listen" not in commands.model_fields_set:
        return None
    if parse_listen(commands.listen) == parse_listen(server.listen):
        return None
    return (
        f"server.listen ({server.listen!r}) and slack.commands.listen ({commands.listen!r}) "
        "differ: keep only server.listen (slack.commands.listen is its older name)"
    )
