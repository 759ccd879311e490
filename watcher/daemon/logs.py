"""Logging setup: text or JSON lines on standard error, secrets masked.

Why a filter for secrets: a token can reach a log line through an exception
message from a library we do not control; masking every configured secret value
and every token-shaped string (:mod:`watcher.redact`) at the handler is the
last line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

from watcher.core.text import terminal_safe
from watcher.redact import Redactor

LEVELS = ("debug", "info", "warning", "error")
FORMATS = ("text", "json")


class SecretMask(logging.Filter):
    """Passes every record's final message (and traceback) through the secret mask."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._redactor = Redactor(secrets)

    def update(self, secrets: Iterable[str]) -> None:
        """Mask these values from now on (a reloaded config may bring new ones)."""
        self._redactor.update(secrets)

    def filter(self, record: logging.LogRecord) -> bool:
        # and no control character from a server's text reaches the terminal or journal
        record.msg, record.args = terminal_safe(self._redactor(record.getMessage())), None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self._redactor(text)
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "time": datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            data["exception"] = record.exc_text
        elif record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False)


def setup_logging(level: str, fmt: str = "text", secrets: Iterable[str] = ()) -> None:
    """Route the package's logs to stderr at ``level`` in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
        )
    handler.addFilter(SecretMask(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("watcher").setLevel(level.upper())
    for noisy in ("httpx", "httpcore", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def refresh_secrets(secrets: Iterable[str]) -> None:
    """Point every installed SecretMask at the secrets of a reloaded config."""
    values = list(secrets)
    for handler in logging.getLogger().handlers:
        for mask in handler.filters:
            if isinstance(mask, SecretMask):
                mask.update(values)
