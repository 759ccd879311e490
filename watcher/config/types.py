"""Value types the config parses once: durations, NCT IDs, addresses, channels.

Why here: a duration written ``"30s"`` is parsed into a ``timedelta`` when the
file is loaded and never re-parsed at its point of use; NCT IDs, Slack channel
IDs and ``host:port`` are recognised by one pattern each, which the Slack
commands reuse so config and chat agree on what an ID looks like.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BeforeValidator, PlainSerializer

NCT_RE = re.compile(r"^NCT[0-9]{8}$")  # ASCII digits only: \d also matches "０"
SLACK_CHANNEL_ID_RE = re.compile(r"^[CGD][A-Z0-9]{6,}$")
EMAIL_RE = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
_DURATION_RE = re.compile(r"^\s*([0-9]+)\s*(s|m|h|d)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_DURATION = 366 * 86400  # a year and a day: longer is a typo, not a schedule
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def parse_duration(text: str) -> int:
    """``"90s" | "30m" | "6h" | "1d"`` -> seconds; ValueError otherwise (or over a year)."""
    match = _DURATION_RE.match(text)
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{text!r} is not a duration (use e.g. 90s, 30m, 6h or 1d)")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than a year")
    return seconds


def check_no_control(text: str, what: str) -> str:
    """``text`` unchanged; ValueError when it holds CR, LF or another control character."""
    if _CONTROL_RE.search(text):
        raise ValueError(f"{text!r} is not {what}: it contains a control character")
    return text


def format_duration(value: timedelta) -> str:
    """``timedelta(hours=6)`` -> ``"6h"``: the largest unit that divides it."""
    seconds = int(value.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _to_timedelta(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration (use e.g. 90s, 30m, 6h or 1d)")
    return timedelta(seconds=parse_duration(value))


Duration = Annotated[
    timedelta,
    BeforeValidator(_to_timedelta),
    PlainSerializer(format_duration, return_type=str),
]
"""A config duration: written ``"30s"``, held as a ``timedelta``."""


def normalise_nct_id(text: str) -> str:
    """Upper-case and check an NCT ID; ValueError names the bad value."""
    value = text.strip().upper()
    if not NCT_RE.match(value):
        raise ValueError(f"{text!r} is not an NCT ID (NCT followed by 8 digits)")
    return value


def is_slack_channel_id(text: str) -> bool:
    """``C0123ABCD`` (public), ``G…`` (private), ``D…`` (direct): Slack's own IDs."""
    return SLACK_CHANNEL_ID_RE.match(text) is not None


def parse_listen(text: str) -> tuple[str, int]:
    """``"127.0.0.1:8080"`` or ``"[::1]:8080"`` -> ``(host, port)``; ValueError otherwise."""
    host, sep, port = text.strip().rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host or not (port.isascii() and port.isdecimal()) or int(port) > 65535:
        raise ValueError(f"{text!r} is not a host:port address (e.g. 127.0.0.1:8080)")
    return host, int(port)


def _checked_listen(value: str) -> str:
    parse_listen(value)
    return value


ListenAddress = Annotated[str, AfterValidator(_checked_listen)]
"""``host:port`` as written, checked when the file is loaded."""


def check_http_url(value: str) -> str:
    """An http(s) URL with a host; ValueError otherwise."""
    if not re.match(r"^https?://[^\s/]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


LOOPBACK_HTTP_HOST = "127.0.0.1"
WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_WEBHOOK_SECRET_BYTES = 24  # Standard Webhooks: 24 to 64 random bytes


def check_secret_url(value: str) -> str:
    """An https URL with a host (http only to 127.0.0.1, for tests); ValueError otherwise.

    The URL is a secret (a Teams Workflows URL carries its own ``sig=``), so
    the error shows at most its scheme and host, never its path or query.
    """
    shown = _scheme_and_host(value)
    if _CONTROL_RE.search(value) or any(c.isspace() for c in value):
        raise ValueError(f"{shown} is not a usable URL (white space or a control character)")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise ValueError(f"{shown} is not a URL with a valid host and port") from None
    if not parts.hostname:
        raise ValueError(f"{shown} is not an https URL with a host")
    if parts.scheme == "http" and parts.hostname == LOOPBACK_HTTP_HOST:
        return value
    if parts.scheme != "https":
        raise ValueError(
            f"{shown} must use https (plain http is allowed only to {LOOPBACK_HTTP_HOST})"
        )
    return value


def _scheme_and_host(value: str) -> str:
    """``'https://host/…'``: enough to recognise a URL in an error, nothing secret."""
    match = re.match(r"^([A-Za-z][A-Za-z0-9+.-]*://)?([^/?#@\s]*@)?([^/?#\s]*)", value)
    if not match or not match.group(1):
        return "the value"  # no scheme: perhaps a bare secret, so show nothing
    return repr(f"{match.group(1)}{match.group(3)}/…")


def check_webhook_secret(value: str) -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 24 or more bytes; ValueError otherwise.

    The message never repeats the value.
    """
    if not value.startswith(WEBHOOK_SECRET_PREFIX):
        raise ValueError(f"must start with {WEBHOOK_SECRET_PREFIX} (a Standard Webhooks secret)")
    encoded = value.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"is not {WEBHOOK_SECRET_PREFIX} followed by base64") from None
    if len(key) < MIN_WEBHOOK_SECRET_BYTES:
        raise ValueError(
            f"is too short: {WEBHOOK_SECRET_PREFIX} must be followed by the base64 of at least "
            f"{MIN_WEBHOOK_SECRET_BYTES} random bytes"
        )
    return value
