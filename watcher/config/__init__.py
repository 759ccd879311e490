"""TOML configuration -> a validated, frozen :class:`Config`.

``model`` holds the sections (``tables`` the watches and searches),
``types`` the values parsed once (durations, NCT IDs, channels), ``load``
the file reading and the error wording, and ``crontab`` the schedule
expressions both the config and the daemon use.
"""

from watcher.config.load import DEFAULT_CONFIG, ConfigError, load_config, resolve_config_path
from watcher.config.model import (
    Config,
    DatabaseConfig,
    EmailConfig,
    RegistryConfig,
    ScheduleConfig,
    SlackCommandsConfig,
    SlackConfig,
    TeamsConfig,
    WebhooksConfig,
)
from watcher.config.server import ServerConfig, Serving, serving
from watcher.config.tables import DEFAULT_MAX_TRIALS, SearchConfig, WatchConfig
from watcher.config.types import normalise_nct_id, parse_duration

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_MAX_TRIALS",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "EmailConfig",
    "RegistryConfig",
    "ScheduleConfig",
    "SearchConfig",
    "ServerConfig",
    "Serving",
    "SlackCommandsConfig",
    "SlackConfig",
    "TeamsConfig",
    "WatchConfig",
    "WebhooksConfig",
    "load_config",
    "normalise_nct_id",
    "parse_duration",
    "resolve_config_path",
    "serving",
]
