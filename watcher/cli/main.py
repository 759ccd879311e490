"""The ``ctwatch`` click group, its shared options, and what every command needs.

The CLI is the only layer that prints or chooses exit codes. Alerts and
summaries go to standard output; logs and progress to standard error, so
``ctwatch check`` piped into a mailer sends exactly the alerts. Exit codes:

* 0 the command did its job;
* 1 the registry (or a destination) could not be used, or the cycle failed;
* 2 bad configuration or arguments, or a database that cannot be used;
* 3 another ctwatch is using the same database (try again later).

Whatever goes wrong, the user sees one line, never a traceback
(``--log-level debug`` logs it), and every line passes the secret mask.
"""

from __future__ import annotations

import importlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn, TextIO

import click

from watcher import __version__
from watcher.core.text import terminal_safe
from watcher.daemon.logs import FORMATS, LEVELS, setup_logging
from watcher.redact import Redactor

if TYPE_CHECKING:  # the app, config and store import what commands need, when they run
    from watcher.app import App, Reader
    from watcher.config import Config
    from watcher.config.destinations import ChannelKey
    from watcher.config.problems import Problem
    from watcher.cycle.pipeline import ProgressFactory

log = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_BUSY = 3


Secrets = Literal["none", "delivery", "all"]
"""Which ``${VAR}`` secrets a command uses (:meth:`Context.load`): none (read-only
commands and edits), delivery (``check``, ``test-alert``), all (``run``, ``serve``)."""

EXIT_CODES = """\b
Exit codes: 0 done; 1 the registry, a destination or the cycle failed
(or: no database yet); 2 bad config, arguments or database; 3 another
ctwatch is using the database."""

_EDITS = """\b
Exit codes: 0 done; 2 bad config or arguments (nothing written)."""

EPILOGS = {
    "check": """\b
Exit codes: 0 done; 1 the registry could not be read, the cycle failed,
or an alert failed for good (ctwatch outbox says why); 2 bad config,
arguments or database; 3 another ctwatch is using the database.""",
    "test-alert": """\b
Exit codes: 0 every destination took the test; 1 any failed;
2 bad config or arguments.""",
    "search": """\b
Exit codes: 0 done; 1 the registry could not be read; 2 a URL ctwatch
cannot translate, bad arguments or config.""",
    "run": """\b
Exit codes: 0 stopped by SIGTERM or SIGINT; 2 bad config, database or
listen address.""",
    "serve": """\b
Exit codes: 0 stopped by SIGTERM or SIGINT; 2 bad config or listen address.""",
    "health": """\b
Exit codes: 0 healthy; 1 unhealthy (or no database yet); 2 bad config.""",
    "demo": "",
    **dict.fromkeys(("init", "add", "remove", "list", "fields", "config", "config check"), _EDITS),
}
"""Each command's footer says only what concerns it; the rest get :data:`EXIT_CODES`."""

COMPLETION = """\b
Shell completion (bash; zsh and fish: see the docs, "The command line"):
  eval "$(_CTWATCH_COMPLETE=bash_source ctwatch)"
"""


def channel_keys() -> dict[str, ChannelKey]:
    """The registered channels' destination keys, for the config loader (imported on use:
    the registry names every notifier module)."""
    from watcher.channels import CHANNELS

    return CHANNELS.config_keys()


class Context:
    """What the group options leave for the subcommands."""

    def __init__(self, config_option: str | None, log_level: str | None, log_format: str) -> None:
        self.config_option = config_option
        self._config_path: Path | None = None
        self.log_level = log_level
        self.log_format = log_format
        self.redactor = Redactor()
        self.unset: list[Problem] = []
        """Variables the config names that this shell lacks (when the command needs none)."""

    @property
    def config_path(self) -> Path:
        """``--config``, else ``$CTWATCH_CONFIG``, else the default (resolved when first
        asked: ``--help`` loads no config code)."""
        if self._config_path is None:
            from watcher.config.load import resolve_config_path

            self._config_path = resolve_config_path(self.config_option)
        return self._config_path

    @config_path.setter
    def config_path(self, path: Path) -> None:
        self._config_path = path

    def load(self, default_level: str = "warning", *, secrets: Secrets = "all") -> Config:
        """Load the config (exit 2 with one line on error) and set up logging.

        ``secrets`` says which ``${VAR}`` the command uses: unset ones it does not
        use get placeholders and are listed in :attr:`unset` (``secrets="none"``
        is the read-only mode: one argument to opt in).
        """
        from watcher.config.load import DELIVERY, EVERY_SECRET, READ_ONLY, ConfigError, load_config

        needs = {"none": READ_ONLY, "delivery": DELIVERY, "all": EVERY_SECRET}[secrets]
        if not self.config_path.exists() and not self.config_path.is_symlink():
            where = (
                "" if self.config_path == default_config_path() else f" --config {self.config_path}"
            )
            fail(
                f"no config file at {self.config_path}: run `ctwatch{where} init` to write "
                "a starter one",
                EXIT_USAGE,
            )
        self.unset = []
        try:
            config = load_config(
                self.config_path, needs=needs, warnings=self.unset, channels=channel_keys()
            )
        except ConfigError as exc:
            fail(str(exc), 2)
        self.redactor.update(config.secrets())
        setup_logging(self.log_level or default_level, self.log_format, config.secrets())
        return config


def default_config_path() -> Path:
    """Where ``ctwatch`` looks without ``--config`` (``$CTWATCH_CONFIG`` or the default)."""
    from watcher.config.load import resolve_config_path

    return resolve_config_path(None)


def say(text: str, *, err: bool = False, nl: bool = True) -> None:
    """Print text a human reads: control characters from records or servers removed
    (:func:`terminal_safe`). JSON output is printed as is: its strings are escaped."""
    click.echo(terminal_safe(text), err=err, nl=nl)


def fail(message: str, code: int) -> NoReturn:
    """The (masked) message on standard error, ``ctwatch:`` before each line; exit ``code``."""
    context = click.get_current_context(silent=True)
    obj = context.find_object(Context) if context is not None else None
    masked = obj.redactor(message) if obj is not None else Redactor()(message)
    for line in masked.splitlines() or [""]:
        say(f"ctwatch: {line}", err=True)
    sys.exit(code)


@contextmanager
def open_app(
    config: Config,
    progress: ProgressFactory | None = None,
    *,
    lock_wait: float = 0.0,
    out: TextIO | None = None,
    one_shot: bool = False,
) -> Iterator[App]:
    """Build the app (console alerts to ``out``, default standard output); a database
    that cannot be opened is a config problem."""
    from watcher.app import App
    from watcher.store import StoreError

    try:
        app = App.build(
            config, out=out or sys.stdout, progress=progress, lock_wait=lock_wait, one_shot=one_shot
        )
    except StoreError as exc:
        fail(f"database.path: {exc}", EXIT_USAGE)
    try:
        yield app
    finally:
        app.close()


@contextmanager
def open_reader(config: Config) -> Iterator[Reader]:
    """The config and the store, for commands that only read (no network clients, so
    they start fast); a database that cannot be opened is a config problem."""
    from watcher.app import Reader
    from watcher.store import StoreError

    try:
        reader = Reader.open(config)
    except StoreError as exc:
        fail(f"database.path: {exc}", EXIT_USAGE)
    try:
        yield reader
    finally:
        reader.close()


wait_option = click.option(
    "--wait",
    type=click.FloatRange(0, 3600),
    default=60,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for another ctwatch using the same database (then exit 3).",
)
"""``--wait SECONDS``, for the commands that write while holding the database's lock."""


def require_database(config: Config) -> None:
    """Exit 1 naming the path when there is no database yet (never create one to read it)."""
    path = Path(config.database.path)
    if path.exists():
        return
    blocked = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocked is not None:
        fail(f"database.path: cannot open {path} ({blocked} is not a folder)", EXIT_USAGE)
    fail(f"no database yet at {path}: run `ctwatch check` first", EXIT_FAILED)


def require_watch(config: Config, name: str | None, *, searches: bool = False) -> None:
    """Exit 2 when ``--watch NAME`` names no watch of the config (nor, with ``searches``,
    a search)."""
    names = [w.name for w in config.watch] + ([s.name for s in config.search] if searches else [])
    if name is not None and name not in names:
        what, known = ("watch or search", "known") if searches else ("watch", "watches")
        fail(f"--watch: no {what} named {name!r} ({known}: {', '.join(names)})", EXIT_USAGE)


def _late_config(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    """``ctwatch check --config PATH``: the same as ``ctwatch --config PATH check``."""
    from watcher.config.load import resolve_config_path

    obj = ctx.find_object(Context)
    if value and obj is not None:
        obj.config_path = resolve_config_path(value)


def late_config_option() -> click.Option:
    return click.Option(
        ["--config"],
        metavar="PATH",
        expose_value=False,
        is_eager=True,
        callback=_late_config,
        help="Config file (also accepted before the command).",
    )


def _silence_stdout() -> None:
    """Point standard output at /dev/null, so flushing it at exit raises nothing more."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        pass  # not a real file (a test runner's buffer)


class Group(click.Group):
    """The ``ctwatch`` group: every failure becomes one line and a documented exit code.

    Every command added to it also accepts ``--config PATH`` after its name.
    """

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        if not any(p.name == "config" for p in cmd.params):
            cmd.params.append(late_config_option())
        if cmd.help and not cmd.short_help:  # the command list shows the whole first sentence
            cmd.short_help = " ".join(cmd.help.split("\n\n")[0].split())
        if cmd.epilog is None:
            key = name or cmd.name or ""
            if self.name not in (None, "main", "ctwatch"):  # a subgroup: ``config check``
                key = f"{self.name} {key}"
            cmd.epilog = EPILOGS.get(key, EXIT_CODES) or None
        super().add_command(cmd, name)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except BrokenPipeError:  # the reader left (ctwatch status | head): nothing to say
            _silence_stdout()
            sys.exit(0)
        except Exception as exc:
            from watcher.cycle.report import describe_failure
            from watcher.store import Busy, StoreError

            if isinstance(exc, StoreError):
                fail(f"database.path: {exc}", EXIT_USAGE)
            if isinstance(exc, Busy):
                fail(f"{exc}; try again later", EXIT_BUSY)
            log.debug("unexpected error", exc_info=True)
            fail(describe_failure(exc), EXIT_FAILED)


COMMANDS: dict[str, str] = {
    "add": "edit", "backfill": "backfill", "changes": "changes", "check": "check",
    "config": "edit", "demo": "demo", "diff": "history", "digest": "digest", "events": "events",
    "feed": "feed", "fields": "edit", "health": "service", "history": "history", "init": "edit",
    "list": "edit", "outbox": "outbox", "remove": "edit", "run": "service", "search": "search",
    "serve": "service", "show": "history", "status": "views", "test-alert": "check",
}  # fmt: skip
"""Each top-level command and the module of :mod:`watcher.cli` that defines it."""


class RootGroup(Group):
    """The top-level group: a command's module is imported when that command is asked
    for, so ``ctwatch status`` never pays for the imports of ``run`` or ``backfill``
    (``--help`` lists them all and imports them all)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMANDS))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            importlib.import_module(f"watcher.cli.{COMMANDS[cmd_name]}")
        return super().get_command(ctx, cmd_name)

    def load_all(self) -> None:
        """Register every command (for the docs generator and the tests that walk them)."""
        for module in sorted(set(COMMANDS.values())):
            importlib.import_module(f"watcher.cli.{module}")


@click.group(
    cls=RootGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EXIT_CODES + "\n\n" + COMPLETION,
)
@click.option(
    "--config",
    "config_option",
    metavar="PATH",
    help="Config file (default: $CTWATCH_CONFIG, else ./config/ctwatch.toml).",
)
@click.option("--log-level", type=click.Choice(LEVELS), default=None, help="Log verbosity.")
@click.option(
    "--log-format",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="Log lines as text, or as JSON for a log shipper (e.g. --log-format json).",
)
@click.version_option(__version__, prog_name="ctwatch")
@click.pass_context
def main(
    ctx: click.Context, config_option: str | None, log_level: str | None, log_format: str
) -> None:
    """Watch ClinicalTrials.gov records and report what changed, field by field.

    \b
    Example:
      ctwatch init && ctwatch add NCT06850103 --watch mine && ctwatch check
    """
    ctx.obj = Context(config_option, log_level, log_format)
