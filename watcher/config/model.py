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
        "teams",
        "webhook",
        "app_token",
        "feed_token",
    }
)
"""Keys whose values are never repeated in an error (a key anywhere on the path counts)."""
URL_PART_MIN = 8
"""A URL's path and query are masked on their own too when at least this long."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryConfig(_Strict):
    """Where and how politely to read ClinicalTrials.gov."""

    url: str = "https://clinicaltrials.gov/api/v2"
    timeout: Duration = timedelta(seconds=30)
    deadline: Duration = timedelta(seconds=120)
    pace: float = Field(
        default=1.0, ge=0, le=60, allow_inf_nan=False, description="seconds between requests"
    )
    retries: int = Field(default=4, ge=0, le=20)
    backoff: float = Field(
        default=2.0, ge=0, le=600, allow_inf_nan=False, description="first retry wait, seconds"
    )
    contact: str | None = None
    user_agent: str | None = None
    batch_size: int = Field(default=1000, ge=1, le=1000)
    incremental: bool = True
    registry_wide_over: int = Field(default=5000, ge=1, le=100_000_000)
    full_sweep: Duration = timedelta(days=7)
    lookback: Duration = timedelta(days=3)
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
    busy_timeout: Duration = timedelta(seconds=30)
    """How long a write waits for another program's transaction on the file."""
    readable_records: bool = True
    """Keep each trial's current record as JSON text for the ``latest`` view (it costs
    about the record's size per trial; turn it off for whole-registry watch lists)."""


class ScheduleConfig(_Strict):
    """How often ``ctwatch run`` checks: ``every`` or ``cron`` (+ ``timezone``)."""

    every: Duration | None = None
    cron: str | None = None
    timezone: str = "UTC"
    jitter: Duration | None = None

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
    allowed_channels: tuple[str, ...] = ()

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
    api_url: str = "https://slack.com/api/"
    digest_over: int = Field(default=10, ge=1, le=1000)
    timeout: Duration = timedelta(seconds=30)
    retries: int = Field(default=2, ge=0, le=10, description="quick in-place retries per post")
    signing_secret: SecretStr | None = None
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
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: SecretStr | None = None
    password: SecretStr | None = None
    sender: str
    timeout: Duration = timedelta(seconds=30)

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


class AlertsConfig(_Strict):
    """Alerts about ctwatch's own trouble (the registry unreadable, a trial gone)."""

    trouble_after: int = Field(default=3, ge=1, le=1000)
    """Consecutive failed cycles before the destinations are told, once."""


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
        if self.server is not None and self.server.feed_token is not None:
            values.append(self.server.feed_token.get_secret_value())
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
