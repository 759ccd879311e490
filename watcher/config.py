"""TOML configuration -> a validated, frozen ``Config``.

Why so strict: a typo in a monitoring config (``slak = [...]``, an NCT ID with
seven digits) silently watches nothing, and the user reads the silence as "no
change". So unknown keys are errors, every NCT ID is checked, destinations must
have their section, and every failure is one :class:`ConfigError` naming the
file, the key and the bad value (secrets are never echoed).

``${VAR}`` in any string expands from the environment, so tokens and passwords
stay out of the file; an unset variable is an error that names it.
"""

from __future__ import annotations

import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from watcher.fields import field_table

DEFAULT_CONFIG = Path("config/ctwatch.toml")
NCT_RE = re.compile(r"^NCT[0-9]{8}$")  # ASCII digits only: \d also matches "０"
_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{6,}$")
_EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_SECRET_KEYS = {"token", "password", "username", "signing_secret"}


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the user."""

    def __init__(self, source: Path | str, key: str, message: str) -> None:
        self.source = str(source)
        self.key = key
        self.message = message
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(where + message)


def parse_duration(text: str) -> int:
    """``"90s" | "30m" | "6h" | "1d"`` -> seconds; ValueError otherwise."""
    match = _DURATION_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 30m, 6h or 1d)")
    return int(match.group(1)) * _UNITS[match.group(2)]


def normalise_nct_id(text: str) -> str:
    """Upper-case and check an NCT ID; ValueError names the bad value."""
    value = text.strip().upper()
    if not NCT_RE.match(value):
        raise ValueError(f"{text!r} is not an NCT ID (NCT followed by 8 digits)")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegistryConfig(_Strict):
    """Where and how politely to read ClinicalTrials.gov."""

    url: str = "https://clinicaltrials.gov/api/v2"
    timeout: str = "30s"
    pace: float = Field(default=1.0, ge=0, description="minimum seconds between requests")
    retries: int = Field(default=4, ge=0, le=20)
    backoff: float = Field(default=2.0, ge=0, description="first retry wait, in seconds")
    contact: str | None = None
    batch_size: int = Field(default=1000, ge=1, le=1000)
    incremental: bool = True
    registry_wide_over: int = Field(default=5000, ge=1)
    full_sweep: str = "7d"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value.rstrip("/")

    @field_validator("timeout", "full_sweep")
    @classmethod
    def _durations(cls, value: str) -> str:
        parse_duration(value)
        return value

    @property
    def timeout_seconds(self) -> int:
        return parse_duration(self.timeout)


class DatabaseConfig(_Strict):
    """Where the SQLite memory lives (relative paths: next to the config file)."""

    path: str = "data/ctwatch.db"


class ScheduleConfig(_Strict):
    """How often ``ctwatch run`` checks: ``every`` or ``cron`` (+ ``timezone``)."""

    every: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    jitter: str | None = None

    @field_validator("every", "jitter")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

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
        from watcher.crontab import cron_trigger  # noqa: PLC0415 - imports apscheduler

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
    def interval_seconds(self) -> int | None:
        """The fixed interval, or None for a cron schedule."""
        if self.cron is not None:
            return None
        return parse_duration(self.every or "6h")


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` -> ``(host, port)``; ValueError otherwise."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"{text!r} is not a host:port address (e.g. 127.0.0.1:8080)")
    return host, int(port)


class SlackCommandsConfig(_Strict):
    """The ``/ctwatch`` slash-command endpoint."""

    listen: str = "127.0.0.1:8080"
    allowed_channels: tuple[str, ...] = ()

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_listen(value)
        return value

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
    digest_over: int = Field(default=10, ge=1)
    timeout: str = "30s"
    retries: int = Field(default=2, ge=0, le=10, description="quick in-place retries per post")
    signing_secret: SecretStr | None = None
    commands: SlackCommandsConfig | None = None

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        if not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value if value.endswith("/") else value + "/"

    @field_validator("token", "signing_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().strip():
            raise ValueError("is empty")
        return value

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        parse_duration(value)
        return value


class EmailConfig(_Strict):
    """SMTP submission settings."""

    host: str
    port: int = Field(default=587, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "starttls"
    username: SecretStr | None = None
    password: SecretStr | None = None
    sender: str
    timeout: str = "30s"

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: str) -> str:
        parse_duration(value)
        return value


class WatchConfig(_Strict):
    """A named list of trials and where their alerts go."""

    name: str = Field(min_length=1)
    trials: tuple[str, ...] = Field(min_length=1)
    slack: tuple[str, ...] = ()
    email: tuple[str, ...] = ()
    fields: tuple[str, ...] | None = None

    @field_validator("trials", mode="before")
    @classmethod
    def _trials(cls, value: Any) -> Any:
        if isinstance(value, list | tuple):
            seen: dict[str, None] = {}
            for item in value:
                if not isinstance(item, str):
                    raise ValueError(f"{item!r} is not an NCT ID (NCT followed by 8 digits)")
                seen[normalise_nct_id(item)] = None
            return tuple(seen)
        return value

    @field_validator("slack")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Names are normalised to ``#name`` (lower case) so that ``trial-alerts`` and
        ``#Trial-Alerts`` in two watches are one channel and get one message."""
        out = []
        for channel in value:
            if not channel.strip() or any(c.isspace() for c in channel):
                raise ValueError(f"{channel!r} is not a Slack channel (e.g. #alerts or C0123)")
            is_id = _CHANNEL_ID_RE.match(channel) is not None
            out.append(channel if is_id else "#" + channel.removeprefix("#").lower())
        return tuple(dict.fromkeys(out))

    @field_validator("email")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            if not _EMAIL_RE.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("is empty (leave it out to alert on every field)")
        table = field_table()
        out = []
        for name in value:
            info = table.resolve(name)
            if info is None:
                raise ValueError(f"{name!r} is not a ClinicalTrials.gov field (piece) name")
            out.append(info.piece)
        return tuple(out)

    @property
    def field_paths(self) -> tuple[str, ...] | None:
        """The dotted paths the ``fields`` filter selects, or None for all."""
        if self.fields is None:
            return None
        table = field_table()
        return tuple(table.by_piece[p].path for p in self.fields)


class Config(_Strict):
    """The whole validated configuration."""

    registry: RegistryConfig = RegistryConfig()
    database: DatabaseConfig = DatabaseConfig()
    schedule: ScheduleConfig = ScheduleConfig()
    slack: SlackConfig | None = None
    email: EmailConfig | None = None
    watch: tuple[WatchConfig, ...] = Field(min_length=1)

    @property
    def trials(self) -> tuple[str, ...]:
        """Every watched NCT ID once, in config order."""
        return tuple(dict.fromkeys(t for w in self.watch for t in w.trials))


def resolve_config_path(option: str | os.PathLike[str] | None) -> Path:
    """``--config``, else ``$CTWATCH_CONFIG``, else ``./config/ctwatch.toml``."""
    if option:
        return Path(option)
    env = os.environ.get("CTWATCH_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate ``path``; raise ConfigError on any problem."""
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, "", f"cannot read file ({exc.__class__.__name__})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML ({exc})") from None
    data = _expand(raw, (), env, path)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise _first_error(path, exc, data) from None
    _check_cross_references(path, config)
    db_path = Path(config.database.path).expanduser()
    if not db_path.is_absolute():
        db_path = (path.parent / db_path).resolve()
    return config.model_copy(update={"database": DatabaseConfig(path=str(db_path))})


def _expand(value: Any, key: tuple[str | int, ...], env: Mapping[str, str], path: Path) -> Any:
    if isinstance(value, str):

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in env:
                raise ConfigError(path, _dotted(key), f"environment variable {name} is not set")
            return env[name]

        return _ENV_RE.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*key, k), env, path) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*key, i), env, path) for i, v in enumerate(value)]
    return value


def _dotted(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _lookup(data: Any, loc: tuple[str | int, ...]) -> tuple[bool, Any]:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return False, None
    return True, data


def _first_error(path: Path, exc: ValidationError, data: Any) -> ConfigError:
    """Turn pydantic's report into one line: key, bad value, reason."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if isinstance(p, str | int))
    key = _dotted(loc)
    kind = err["type"]
    if kind == "extra_forbidden":
        return ConfigError(path, key, "unknown key")
    if kind == "missing":
        return ConfigError(path, key, "required key is missing")
    message = str(err["msg"]).removeprefix("Value error, ")
    found, value = _lookup(data, loc)
    secret = bool(loc) and str(loc[-1]) in _SECRET_KEYS
    if found and not secret and repr(value) not in message:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        message = f"{message} (got {shown})"
    return ConfigError(path, key, message)


def _check_cross_references(path: Path, config: Config) -> None:
    names: set[str] = set()
    for i, watch in enumerate(config.watch):
        if watch.name in names:
            raise ConfigError(path, f"watch[{i}].name", f"duplicate watch name {watch.name!r}")
        names.add(watch.name)
        if watch.slack and config.slack is None:
            raise ConfigError(
                path, f"watch[{i}].slack", "names Slack channels but there is no [slack] section"
            )
        if watch.email and config.email is None:
            raise ConfigError(
                path, f"watch[{i}].email", "names email addresses but there is no [email] section"
            )
    slack = config.slack
    if slack is not None and slack.commands is not None and slack.signing_secret is None:
        raise ConfigError(path, "slack.signing_secret", "is required by [slack.commands]")
