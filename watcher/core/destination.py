"""Where an alert goes, as a typed value from routing to the notifier.

Why a value and not a string: the outbox stores one row per destination and
must recognise "the same destination" across watches and subscriptions, so
each destination has one canonical ``key`` (``slack:#alerts``,
``email:a@x.org,b@y.org``). That string form exists only at the store
boundary; everything else handles :class:`Destination`.

Teams Workflows URLs and webhook URLs are secrets (a Workflows URL carries its
own ``sig=``), so such a destination is never its URL: it is a *reference*,
the URL's host and the first 12 hex digits of its SHA-256
(``teams:prod-12.westeurope.environment.api.powerplatform.com/5d41402abc4b``).
The store, logs and ``status`` see only that; the notifier looks the URL up
in the current config, and a reference the config no longer has fails
visibly instead of guessing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

DestinationKind = Literal["console", "slack", "email", "teams", "webhook"]
KINDS: tuple[str, ...] = get_args(DestinationKind)
REFERENCE_DIGITS = 12
_NAMES = {"slack": "Slack", "email": "email", "teams": "Teams", "webhook": "webhook"}


def url_reference(url: str) -> str:
    """``host[:port]/<12 hex of SHA-256(url)>``: names a secret URL without revealing it."""
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:REFERENCE_DIGITS]
    return f"{url_host(url)}/{digest}"


def url_host(url: str) -> str:
    """The host (and a port other than the scheme's default) of a URL: no user info, path
    or query."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"https": 443, "http": 80}.get(parts.scheme)
    return f"{host}:{port}" if port is not None and port != default else host


@dataclass(frozen=True)
class Destination:
    """One destination: its kind and its targets (one channel, the addresses, a reference)."""

    kind: DestinationKind
    targets: tuple[str, ...] = ()

    @classmethod
    def console(cls) -> Destination:
        return cls("console")

    @classmethod
    def slack(cls, channel: str) -> Destination:
        return cls("slack", (channel,))

    @classmethod
    def email(cls, addresses: tuple[str, ...] | list[str]) -> Destination:
        """Addresses sorted and de-duplicated: the same list is the same destination."""
        return cls("email", tuple(sorted(set(addresses))))

    @classmethod
    def teams(cls, url: str) -> Destination:
        """A Teams Workflows URL, by reference (the URL itself is a secret)."""
        return cls("teams", (url_reference(url),))

    @classmethod
    def webhook(cls, url: str) -> Destination:
        """A webhook URL, by reference (the URL itself may carry a secret)."""
        return cls("webhook", (url_reference(url),))

    @property
    def target(self) -> str:
        """The single target (a channel, a reference); for email, the addresses joined."""
        return ",".join(self.targets)

    @property
    def key(self) -> str:
        """The canonical string the store keeps."""
        return f"{self.kind}:{self.target}"

    @classmethod
    def parse(cls, key: str) -> Destination:
        """Inverse of :attr:`key`; ValueError for an unknown kind."""
        kind, _, target = key.partition(":")
        if kind not in KINDS:
            raise ValueError(f"unknown destination {key!r}")
        targets = tuple(t for t in target.split(",") if t) if kind == "email" else (target,)
        return cls(kind, targets if target else ())  # type: ignore[arg-type]

    def describe(self) -> str:
        """How to name it to a person (for URLs: the host and the reference, never the URL)."""
        if self.kind == "console":
            return "console"
        if self.kind == "email":
            return f"email {', '.join(self.targets)}"
        if self.kind in ("teams", "webhook"):
            host, _, digest = self.target.rpartition("/")
            return f"{_NAMES[self.kind]} {host} ({digest})"
        return f"{_NAMES[self.kind]} {self.target}"
