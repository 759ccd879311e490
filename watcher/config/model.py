"""The shape of a valid configuration: one frozen pydantic model per section.

Why so strict: a typo in a monitoring config (``slak = [...]``, an NCT ID with
seven digits) silently watches nothing, and the user reads the silence as "no
change". So unknown keys are errors, every NCT ID is checked, and values are
parsed into their real types (durations as ``timedelta``) once, here.
"""

from __future__ import annotations

import zoneinfo
from base64 import b64encode
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from watcher.config.crontab import cron_trigger
from watcher.config.destinations import DestinationKeys
from watcher.config.events import EventsConfig
from watcher.config.server import ServerConfig, check_app_token, listen_conflict
from watcher.config.tables import SearchConfig, WatchConfig
from watcher.config.types import (
    WEBHOOK_SECRET_PREFIX,
    Duration,
    ListenAddress,
    check_http_url,
    check_no_control,
    check_webhook_secret,
    format_duration,
    parse_listen,
)
from watcher.core.destination import Destination
from watcher.redact import url_credentials

SECRET_KEYS = frozenset(
    {
        "token",
        "password",
        "username",
        "signing_secret",
        "secret",
        "app_token",
        "feed_token",
        *(name for name, key in DestinationKeys.channel_keys().items() if key.secret),
        "ui_token",
    }
)
"""Keys whose values are never repeated in an error (a key anywhere on the path counts;
destination keys whose values are secret URLs, ``teams`` and ``webhook``, included)."""
URL_PART_MIN = 8
"""A URL's path and query are masked on their own too when at least this long."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryConfig(_Strict):
    """Where and how politely to read ClinicalTrials.gov."""

    url: str = "https://clinicaltrials.gov/api/v2"
    """The registry's API v2 base URL."""
    timeout: Duration = timedelta(seconds=30)
    """The longest silence while connecting or reading."""
    deadline: Duration = timedelta(seconds=120)
    """The longest whole request, body included (a trickling server is cut off)."""
    pace: float = Field(
        default=1.0,
        ge=0,
        le=60,
        allow_inf_nan=False,
        description="The minimum seconds between requests (the registry asks for politeness).",
    )
    retries: int = Field(default=4, ge=0, le=20)
    """Retries on 429, 5xx, time-outs, connection errors and bodies that are not JSON."""
    backoff: float = Field(
        default=2.0,
        ge=0,
        le=600,
        allow_inf_nan=False,
        description="The first retry wait in seconds, doubling and jittered; a Retry-After "
        "up to 60 s wins (a longer wish ends the attempt: the next cycle tries again).",
    )
    contact: str | None = None
    """An e-mail address added to the User-Agent, so the registry can reach you."""
    user_agent: str | None = None
    """Replaces the User-Agent (``ctwatch/… (…) python-httpx/…``); keep a
    ``python-httpx/<version>`` token: the registry's edge refuses httpx clients without it
    (HTTP 403)."""
    batch_size: int = Field(default=1000, ge=1, le=1000)
    """NCT IDs per request (halved automatically on HTTP 414 or 431)."""
    incremental: bool = True
    """Probe the registry's data version and fetch only what was posted since the last
    complete cycle; ``false`` fetches every record every cycle."""
    registry_wide_over: int = Field(default=5000, ge=1, le=100_000_000)
    """Above this many watched trials, list the registry's daily changes instead of asking
    in ID batches."""
    full_sweep: Duration = timedelta(days=7)
    """How often every record is fetched, whatever the version probe says."""
    lookback: Duration = timedelta(days=3)
    """The incremental listing starts this long before the last processed refresh
    (records sometimes appear late, with an older post date)."""
    backfill: bool = False
    """Queue the registry history of every newly watched trial (imported by the daemon)."""
    backfill_per_cycle: int = Field(default=300, ge=1, le=100_000)
    """Registry requests the daemon may spend on queued history after each cycle."""

    @field_validator("contact", "user_agent")
    @classmethod
    def _header_text(cls, value: str | None) -> str | None:
        return None if value is None else check_no_control(value, "usable in a header")

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return check_http_url(value).rstrip("/")


class DatabaseConfig(_Strict):
    """Where the SQLite memory lives (relative paths: next to the config file)."""

    path: str = "data/ctwatch.db"
    """The SQLite file; a relative path resolves against the config file's folder."""
    busy_timeout: Duration = timedelta(seconds=30)
    """How long a write waits for another program's transaction on the file."""
    readable_records: Literal["json"] | bool = True
    """What of each trial's current record the ``latest`` view can read without ctwatch:
    ``true`` typed columns (status, phases, sponsor, enrollment, dates…; a few hundred
    bytes a trial), ``"json"`` those and the whole record as JSON text in ``record``
    (about the record's size per trial, as ``true`` meant before), ``false`` neither.
    Every version stays stored, compressed, whatever this says (``ctwatch show``).
    Example: ``readable_records = "json"``."""

    @field_validator("readable_records", mode="before")
    @classmethod
    def _records(cls, value: object) -> object:
        if isinstance(value, bool) or value == "json":
            return value
        raise ValueError(f'{value!r} is not true, false or "json"')


class ScheduleConfig(_Strict):
    """How often ``ctwatch run`` checks: ``every`` or ``cron`` (+ ``timezone``)."""

    every: Duration | None = None
    """The interval between checks (``"6h"`` when neither ``every`` nor ``cron`` is set)."""
    cron: str | None = None
    """A crontab expression instead of ``every``, e.g. ``"30 14 * * 1-5"``."""
    timezone: str = "UTC"
    """The time zone ``cron`` is read in (an IANA name such as ``"Europe/Paris"``)."""
    jitter: Duration | None = None
    """A random delay, up to this long, added to each scheduled run."""

    @field_validator("timezone")
    @classmethod
    def _tz(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known time zone") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            cron_trigger(value, "UTC")
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a cron expression ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleConfig:
        if self.every is not None and self.cron is not None:
            raise ValueError("set either 'every' or 'cron', not both")
        return self

    @property
    def interval(self) -> timedelta | None:
        """The fixed interval (default 6 h), or None for a cron schedule."""
        if self.cron is not None:
            return None
        return self.every or timedelta(hours=6)

    @property
    def interval_seconds(self) -> int | None:
        """:attr:`interval` in seconds."""
        interval = self.interval
        return None if interval is None else int(interval.total_seconds())

    def describe(self) -> str:
        """``every 6h`` or ``cron '30 14 * * 1-5' (UTC)``."""
        if self.cron is not None:
            return f"cron {self.cron!r} ({self.timezone})"
        return f"every {format_duration(self.interval or timedelta(hours=6))}"


class SlackCommandsConfig(_Strict):
    """The ``/ctwatch`` slash-command endpoint."""

    listen: ListenAddress = "127.0.0.1:8080"
    """The older name of ``[server] listen``: this section alone also starts the web
    server (Slack's HTTP mode); if both are set they must agree."""
    allowed_channels: tuple[str, ...] = ()
    """Channel names or IDs where ``watch`` and ``unwatch`` (commands and buttons) are
    allowed; empty: every channel."""

    @field_validator("allowed_channels")
    @classmethod
    def _allowed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for channel in value:
            if not channel.strip("#").strip() or any(c.isspace() for c in channel):
                raise ValueError(f"{channel!r} is not a Slack channel (e.g. #alerts or C0123)")
        return value

    @property
    def address(self) -> tuple[str, int]:
        return parse_listen(self.listen)


class SlackConfig(_Strict):
    """Slack Web API access (a bot token with ``chat:write``)."""

    token: SecretStr
    """The bot token (``xoxb-…``; scope ``chat:write``, and ``commands`` for ``/ctwatch``)."""
    api_url: str = "https://slack.com/api/"
    """The Web API base URL; every Slack call goes there, ``apps.connections.open`` too."""
    digest_over: int = Field(default=10, ge=1, le=1000)
    """More alerts than this for one channel in one check arrive as one digest message."""
    timeout: Duration = timedelta(seconds=30)
    """The longest Slack call; a post with its quick retries never takes longer than
    ``timeout × (retries + 1)``."""
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="Quick in-place retries of a post (5xx, a short 429) before the outbox "
        "takes over.",
    )
    signing_secret: SecretStr | None = None
    """The app's Signing Secret: Slack over HTTP; required by ``[slack.commands]`` unless
    ``app_token`` is set."""
    app_token: SecretStr | None = None
    """``xapp-…`` (connections:write): Socket Mode, an outbound connection, no public URL."""
    commands: SlackCommandsConfig | None = None

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        check_http_url(value)
        return value if value.endswith("/") else value + "/"

    @field_validator("token", "signing_secret", "app_token")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        return check_app_token(value)


class EmailConfig(_Strict):
    """SMTP submission settings."""

    host: str
    """The SMTP server's host name."""
    port: int = Field(default=587, ge=1, le=65535)
    """587 with ``starttls``, 465 with ``tls``, 25 with ``none``."""
    security: Literal["none", "starttls", "tls"] = "starttls"
    """How the connection is protected."""
    username: SecretStr | None = None
    """The SMTP login (optional)."""
    password: SecretStr | None = None
    """The SMTP password (optional)."""
    sender: str
    """The From address, e.g. ``"ctwatch <ctwatch@example.org>"``."""
    timeout: Duration = timedelta(seconds=30)
    """The longest whole SMTP transaction."""

    @field_validator("sender", "host")
    @classmethod
    def _one_line(cls, value: str) -> str:
        return check_no_control(value, "usable in a mail header")

    def login_forms(self) -> list[str]:
        """The credentials as they may come back in a server's echo: plain and base64
        (AUTH PLAIN sends ``\\0user\\0password``, AUTH LOGIN each part alone)."""
        user = self.username.get_secret_value() if self.username else ""
        password = self.password.get_secret_value() if self.password else ""
        plain = [part for part in (user, password) if part]
        if not plain:
            return []
        encoded = [f"\0{user}\0{password}", *plain]
        padded = [b64encode(part.encode()).decode() for part in encoded]
        return plain + padded + [form.rstrip("=") for form in padded]  # cut echoes lose "="


class TeamsConfig(_Strict):
    """Microsoft Teams through Power Automate Workflows webhooks (optional section).

    Nothing global is needed: each destination URL carries its own signature.
    """

    digest_over: int = Field(default=10, ge=1, le=1000)
    """More alerts than this for one Workflows URL in one go arrive as one digest card."""
    timeout: Duration = timedelta(seconds=30)
    """The longest whole POST, answer included."""


class WebhooksConfig(_Strict):
    """Signed JSON webhooks (Standard Webhooks); the section is optional."""

    secret: SecretStr | None = None
    """``whsec_…``: signs every request; without it requests go unsigned."""
    timeout: Duration = timedelta(seconds=30)
    """The longest whole POST, answer included."""

    @field_validator("secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            check_webhook_secret(value.get_secret_value())
        return value


class DeliveryConfig(_Strict):
    """How long an alert is retried before it is given up."""

    give_up_after: Duration = timedelta(days=5)
    """A pending alert is given up (marked failed) once it is this old, however many
    tries that took."""


class AlertsConfig(_Strict):
    """Alerts about ctwatch's own trouble (the registry unreadable, a trial gone)."""

    trouble_after: int = Field(default=3, ge=1, le=1000)
    """Consecutive failed cycles before every destination is told, once (and once more when
    checks work again); also failed checks of one trial, or of one search, before its
    destinations are told."""


class Config(_Strict):
    """The whole validated configuration."""

    registry: RegistryConfig = RegistryConfig()
    database: DatabaseConfig = DatabaseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    teams: TeamsConfig = TeamsConfig()
    webhooks: WebhooksConfig = WebhooksConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    alerts: AlertsConfig = AlertsConfig()
    events: EventsConfig = EventsConfig()
    server: ServerConfig | None = None
    watch: tuple[WatchConfig, ...] = ()
    search: tuple[SearchConfig, ...] = ()

    @model_validator(mode="after")
    def _one_address(self) -> Config:
        problem = listen_conflict(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    @property
    def trials(self) -> tuple[str, ...]:
        """Every watched NCT ID once, in config order."""
        if len(self.watch) == 1:  # each watch's own list has no repeats
            return self.watch[0].trials
        merged: dict[str, None] = {}
        for watch in self.watch:  # dict updates, not a generator: fast for 600,000 IDs
            merged.update(dict.fromkeys(watch.trials))
        return tuple(merged)

    def secrets(self) -> list[str]:
        """Every secret value in the config, for masks."""
        values = url_credentials(self.registry.url)
        if self.slack is not None:
            values.append(self.slack.token.get_secret_value())
            for optional in (self.slack.signing_secret, self.slack.app_token):
                if optional is not None:
                    values.append(optional.get_secret_value())
        if self.server is not None:
            for token in (self.server.feed_token, self.server.ui_token):
                if token is not None:
                    values.append(token.get_secret_value())
        if self.email is not None:
            values += self.email.login_forms()
        if self.webhooks.secret is not None:
            signing = self.webhooks.secret.get_secret_value()
            values += [signing, signing.removeprefix(WEBHOOK_SECRET_PREFIX)]  # the key alone too
        for url in self.destination_urls().values():
            values.append(url)
            rest = url.split("://", 1)[-1].partition("/")[2]  # path and query: echoed alone too
            if len(rest) >= URL_PART_MIN:
                values.append(rest)
        return values

    def destination_urls(self) -> dict[Destination, str]:
        """Every Teams and webhook destination with its URL: how notifiers resolve references."""
        tables = (*self.watch, *self.search)
        return dict(pair for table in tables for pair in table.url_destinations())
