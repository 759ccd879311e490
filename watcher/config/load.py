"""Reading a config file: TOML, ``${VAR}`` expansion, one clear line per mistake.

Every failure is one :class:`ConfigError` naming the file, the key and the bad
value (secrets are never echoed). ``${VAR}`` in any string expands from the
environment, so tokens and passwords stay out of the file; an unset variable
is an error that names it.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watcher.config.model import SECRET_KEYS, Config

DEFAULT_CONFIG = Path("config/ctwatch.toml")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REFERENCE_RE = re.compile(r"\$\{[^}]*\}?")  # anything that starts like a reference
MAX_CONFIG_BYTES = 4 * 1024 * 1024


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the user."""

    def __init__(self, source: Path | str, key: str, message: str) -> None:
        self.source = str(source)
        self.key = key
        self.message = message
        where = f"{self.source}: {key}: " if key else f"{self.source}: "
        super().__init__(where + message)


def resolve_config_path(option: str | os.PathLike[str] | None) -> Path:
    """``--config``, else ``$CTWATCH_CONFIG``, else ``./config/ctwatch.toml``."""
    if option:
        return Path(option)
    env = os.environ.get("CTWATCH_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def read_config_text(path: Path) -> str:
    """The file's text; ConfigError for a missing, unreadable or non-regular file.

    A FIFO or a device would block ``read`` forever (or never end), so only
    regular files (or links to them) are read, and at most MAX_CONFIG_BYTES.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ConfigError(path, "", "file not found") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(path, "", "is not a regular file")
    if info.st_size > MAX_CONFIG_BYTES:
        raise ConfigError(path, "", f"is over {MAX_CONFIG_BYTES // (1024 * 1024)} MB")
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError(path, "", "cannot read file (not UTF-8 text)") from None
    except OSError as exc:
        raise ConfigError(path, "", f"cannot read file ({exc.strerror or exc})") from None


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read, expand and validate ``path``; raise ConfigError on any problem."""
    env = os.environ if environ is None else environ
    text = read_config_text(path)
    try:
        raw = tomllib.loads(text)
        data = _expand(raw, (), env, path)
        config = Config.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(path, "", "is nested too deeply to be a ctwatch config") from None
    except ValidationError as exc:
        raise _first_error(path, exc, data) from None
    _check_cross_references(path, config)
    db_path = Path(config.database.path).expanduser()
    if not db_path.is_absolute():
        db_path = (path.parent / db_path).resolve()
    database = config.database.model_copy(update={"path": str(db_path)})
    return config.model_copy(update={"database": database})


def _expand(value: Any, key: tuple[str | int, ...], env: Mapping[str, str], path: Path) -> Any:
    if isinstance(value, str):
        for candidate in _REFERENCE_RE.findall(value):
            if not _ENV_RE.fullmatch(candidate):
                shown = candidate if len(candidate) <= 40 else candidate[:39] + "…"
                raise ConfigError(
                    path,
                    _dotted(key),
                    f"malformed environment reference {shown!r} "
                    "(write ${NAME}: letters, digits and _, not starting with a digit)",
                )

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
    secret = any(str(part) in SECRET_KEYS for part in loc)  # teams[0] is a secret too
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
    if (
        slack is not None
        and slack.commands is not None
        and slack.signing_secret is None
        and slack.app_token is None  # Socket Mode needs no signing secret
    ):
        raise ConfigError(path, "slack.signing_secret", "is required by [slack.commands]")
