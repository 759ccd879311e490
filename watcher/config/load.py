"""Reading a config file: TOML, ``${VAR}`` expansion, one clear line per mistake.

Every failure is a :class:`ConfigError` listing each mistake on its own line,
naming the file, the key and the bad value (secrets are never echoed; the
wording lives in :mod:`watcher.config.problems`). ``${VAR}`` in any string expands from the
environment, so tokens and passwords stay out of the file.

Secrets only where they are used: an unset variable is an error that names it
only when the command would use its key (:class:`Needs`). ``ctwatch status``
needs no Slack token, so with ``needs=READ_ONLY`` every unset variable gets a
placeholder that passes validation (never sent anywhere: read-only commands do
not deliver) and is reported as a warning instead.
"""

from __future__ import annotations

import os
import re
import stat
import tomllib
from base64 import b64encode
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from watcher.config.destinations import CHANNEL_KEYS, ChannelKey, DestinationKeys
from watcher.config.model import SECRET_KEYS, Config
from watcher.config.problems import (
    Problem,
    capped,
    dotted,
    in_file_order,
    validation_problems,
)
from watcher.config.tables import FileTrials
from watcher.config.trials_file import (
    FileStamp,
    TrialsFileError,
    file_stamp,
    read_trials_file,
    resolve_trials_file,
)

DEFAULT_CONFIG = Path("config/ctwatch.toml")
_ENV_RE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REFERENCE_RE = re.compile(r"\$\{[^}]*\}?")  # anything that starts like a reference
MAX_CONFIG_BYTES = 32 * 1024 * 1024  # a whole-registry watch list (~600,000 IDs) is ~10 MB


@dataclass(frozen=True)
class Needs:
    """Which ``${VAR}`` references a command needs set: the rest get placeholders.

    ``optional`` lists dotted key prefixes (``server.feed_token``) whose unset
    variables are warnings, not errors; None makes every one optional.
    """

    optional: tuple[str, ...] | None = ()

    def requires(self, key: str) -> bool:
        if self.optional is None:
            return False
        return not any(key == p or key.startswith((p + ".", p + "[")) for p in self.optional)


EVERY_SECRET = Needs()
"""``run`` and ``serve``: every variable the file names must be set."""
DELIVERY = Needs(("server", "slack.signing_secret", "slack.app_token", "slack.commands"))
"""``check`` and ``test-alert``: what delivering alerts uses (not the servers' secrets)."""
READ_ONLY = Needs(None)
"""``status``, ``history``, ``list``, ``config check``, ``add`` …: no secret is used."""


class ConfigError(Exception):
    """Configuration problems, each already phrased as one line for the user.

    ``problems`` lists every mistake found (up to MAX_PROBLEMS, then a count);
    ``key`` and ``message`` are the first one's; ``str()`` is one line each.
    """

    def __init__(
        self,
        source: Path | str,
        key: str = "",
        message: str = "",
        problems: Sequence[Problem] = (),
    ) -> None:
        self.source = str(source)
        self.problems = capped(list(problems) or [Problem(key, message)])
        self.key = self.problems[0].key
        self.message = self.problems[0].message
        super().__init__("\n".join(p.line(self.source) for p in self.problems))


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


def load_config(
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    needs: Needs = EVERY_SECRET,
    warnings: list[Problem] | None = None,
    channels: Mapping[str, ChannelKey] | None = None,
    stamps: dict[Path, FileStamp | None] | None = None,
) -> Config:
    """Read, expand and validate ``path``; raise ConfigError on any problem.

    Unset variables of keys ``needs`` does not require are appended to
    ``warnings`` (when given) instead of failing the load. ``channels``: the
    destination keys of the registered channels
    (:meth:`watcher.alerts.channel.Channels.config_keys`); the built-in ones are
    known without it. ``stamps``: filled with each ``trials_file``'s stamp, taken
    before it was read (how the daemon notices an edited file).
    """
    return parse_config(
        read_config_text(path),
        path,
        environ,
        needs=needs,
        warnings=warnings,
        channels=channels,
        stamps=stamps,
    )


def parse_config(
    text: str,
    path: Path,
    environ: Mapping[str, str] | None = None,
    *,
    needs: Needs = EVERY_SECRET,
    warnings: list[Problem] | None = None,
    channels: Mapping[str, ChannelKey] | None = None,
    stamps: dict[Path, FileStamp | None] | None = None,
) -> Config:
    """Validate config ``text`` as if read from ``path`` (relative paths resolve there).

    Every problem found is reported at once: expansion, validation and
    cross-reference mistakes together, in file order as far as possible;
    watches and searches are named by their name where they have one.
    """
    channels = channels or {}
    secret_keys = SECRET_KEYS | {name for name, key in channels.items() if key.secret}
    env = os.environ if environ is None else environ
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(path, "", f"not valid TOML ({exc})") from None
    except RecursionError:
        raise ConfigError(path, "", "is nested too deeply to be a ctwatch config") from None
    problems: list[Problem] = []
    unset: list[Problem] = []
    try:
        data = _expand(raw, (), _Environment(env, needs, unset), problems)
        files, unread = _read_trials_files(data, path, problems, {} if stamps is None else stamps)
        config = Config.model_validate(data, context={CHANNEL_KEYS: channels})
    except RecursionError:
        raise ConfigError(path, "", "is nested too deeply to be a ctwatch config") from None
    except ValidationError as exc:
        expanded = {p.key for p in problems} | unread
        problems += [
            p for p in validation_problems(exc, data, Config, secret_keys) if p.key not in expanded
        ]
        config = None
    flagged = {p.key for p in problems}
    problems += [p for p in cross_reference_problems(data, channels) if p.key not in flagged]
    if problems or config is None:
        raise ConfigError(path, problems=named_tables(in_file_order(problems, raw), raw))
    if warnings is not None:
        warnings.extend(named_tables(in_file_order(unset, raw), raw))
    db_path = Path(config.database.path).expanduser()
    if not db_path.is_absolute():
        db_path = (path.parent / db_path).resolve()
    database = config.database.model_copy(update={"path": str(db_path)})
    watch = tuple(
        w.model_copy(update={"trials_file": str(files[i])}) if i in files else w
        for i, w in enumerate(config.watch)
    )
    return config.model_copy(update={"database": database, "watch": watch})


def _read_trials_files(
    data: Any, path: Path, problems: list[Problem], stamps: dict[Path, FileStamp | None]
) -> tuple[dict[int, Path], set[str]]:
    """Read every ``[[watch]]``'s ``trials_file`` into its ``trials`` (in ``data``).

    Returns the files read (watch index -> absolute path) and the ``trials`` keys not to
    report again (a watch whose file failed has no trials of its own to complain about).
    """
    files: dict[int, Path] = {}
    unread: set[str] = set()
    watches = data.get("watch") if isinstance(data, dict) else None
    if not isinstance(watches, list):
        return files, unread
    for i, table in enumerate(watches):
        if not isinstance(table, dict) or "trials_file" not in table:
            continue
        value = table["trials_file"]
        key = f"watch[{i}].trials_file"
        if not isinstance(value, str) or not value:
            continue  # the model names the wrong type or the empty string
        if "trials" in table:
            problems.append(Problem(key, "set either 'trials' or 'trials_file', not both"))
            continue
        where = resolve_trials_file(value, path).absolute()
        unread.add(f"watch[{i}].trials")
        stamps[where] = file_stamp(where)
        try:
            table["trials"] = FileTrials(read_trials_file(where))
        except TrialsFileError as exc:
            problems.append(Problem(key, str(exc)))
            continue
        files[i] = where
    return files, unread


@dataclass(frozen=True)
class _Environment:
    """The environment, what the command needs of it, and the optional variables not set."""

    values: Mapping[str, str]
    needs: Needs
    unset: list[Problem]


_WEBHOOK_PLACEHOLDER = "whsec_" + b64encode(bytes(32)).decode()


def placeholder(key: tuple[str | int, ...], name: str, whole: bool) -> str:
    """A value that passes validation where an optional variable is unset (never used:
    commands that would use it require the variable). ``whole``: the reference is
    the entire value."""
    parts = [p for p in key if isinstance(p, str)]
    last = parts[-1] if parts else ""
    if not whole:
        return f"unset-{name.lower().replace('_', '-')}"
    if last in ("teams", "webhook", "url", "api_url"):
        return f"https://unset.invalid/{name}"
    if last == "app_token":
        return f"xapp-unset-{name}"
    if parts[:2] == ["webhooks", "secret"]:
        return _WEBHOOK_PLACEHOLDER
    return f"unset-variable-{name}"  # 16+ characters, as a feed token must be


def _expand(
    value: Any, key: tuple[str | int, ...], env: _Environment, problems: list[Problem]
) -> Any:
    """``${VAR}`` replaced from ``env``; a bad reference is a problem (kept as is), an unset
    one too unless the command does not need it (then a placeholder and a warning)."""
    if isinstance(value, str):
        for candidate in _REFERENCE_RE.findall(value):
            if not _ENV_RE.fullmatch(candidate):
                shown = candidate if len(candidate) <= 40 else candidate[:39] + "…"
                problems.append(
                    Problem(
                        dotted(key),
                        f"malformed environment reference {shown!r} "
                        "(write ${NAME}: letters, digits and _, not starting with a digit)",
                    )
                )
                return value

        def repl(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in env.values:
                return env.values[name]
            where = dotted(key)
            if env.needs.requires(where):
                problems.append(Problem(where, f"environment variable {name} is not set"))
                return match.group(0)
            users = "check, test-alert, run and serve" if DELIVERY.requires(where) else "run, serve"
            env.unset.append(
                Problem(where, f"environment variable {name} is not set ({users} need it)")
            )
            return placeholder(key, name, match.group(0) == value)

        return _ENV_RE.sub(repl, value)
    if isinstance(value, dict):
        return {k: _expand(v, (*key, k), env, problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, (*key, i), env, problems) for i, v in enumerate(value)]
    return value


def _tables(data: Mapping[str, Any], kind: str) -> list[Mapping[str, Any]]:
    """The ``[[watch]]`` or ``[[search]]`` tables of raw data (anything else: none)."""
    tables = data.get(kind)
    if not isinstance(tables, list):
        return []
    return [t if isinstance(t, dict) else {} for t in tables]


def cross_reference_problems(
    data: Any, channels: Mapping[str, ChannelKey] | None = None
) -> list[Problem]:
    """Mistakes between sections: duplicate names, destinations without their section.

    Read from the raw (expanded) data, not the validated Config, so they are
    reported together with every other mistake of the file.
    """
    if not isinstance(data, dict):
        return []
    problems = []
    watches, searches = _tables(data, "watch"), _tables(data, "search")
    if not data.get("watch") and not data.get("search"):
        problems.append(
            Problem("watch", "required key is missing (a [[watch]] with trials, or a [[search]])")
        )
    names: dict[str, str] = {}
    tables = [("watch", i, t) for i, t in enumerate(watches)]
    tables += [("search", i, t) for i, t in enumerate(searches)]
    keys = {**DestinationKeys.channel_keys(), **(channels or {})}
    slack = data.get("slack")
    for kind, i, table in tables:
        where = f"{kind}[{i}]"
        name = table.get("name")
        if isinstance(name, str) and name:
            if name in names:
                first = names[name]
                also = "" if first == kind else f" (a {first} has it already)"
                problems.append(Problem(f"{where}.name", f"duplicate {kind} name {name!r}{also}"))
            names.setdefault(name, kind)
        for key_name, key in keys.items():
            if table.get(key_name) and key.section is not None and data.get(key.section) is None:
                problems.append(
                    Problem(
                        f"{where}.{key_name}",
                        f"names {key.names} but there is no [{key.section}] section",
                    )
                )
    if (
        isinstance(slack, dict)
        and isinstance(slack.get("commands"), dict)
        and slack.get("signing_secret") is None
        and slack.get("app_token") is None  # Socket Mode needs no signing secret
    ):
        problems.append(Problem("slack.signing_secret", "is required by [slack.commands]"))
    return problems


_TABLE_RE = re.compile(r"\b(watch|search)\[(\d+)\]")


def named_tables(problems: Sequence[Problem], data: Any) -> list[Problem]:
    """``watch[3].email`` shown as ``watch "rectal-cancer".email`` where the name is
    one of its kind (an unnamed or duplicated one keeps its index, and so does a name
    with a control character or spaces at an end: the line stays one line)."""
    labels: dict[tuple[str, int], str] = {}
    if isinstance(data, dict):
        for kind in ("watch", "search"):
            found = [t.get("name") for t in _tables(data, kind)]
            for i, name in enumerate(found):
                printable = isinstance(name, str) and name.isprintable() and name == name.strip()
                if printable and name and found.count(name) == 1:
                    labels[kind, i] = f'{kind} "{name}"'

    def label(match: re.Match[str]) -> str:
        return labels.get((match.group(1), int(match.group(2))), match.group(0))

    return [
        replace(p, shown=_TABLE_RE.sub(label, p.key), message=_TABLE_RE.sub(label, p.message))
        if p.keyless
        else replace(p, shown=_TABLE_RE.sub(label, p.key))
        for p in problems
    ]
