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

Why the kind is a plain string: the kinds are the channel registry's
(:mod:`watcher.channels`), not this module's. A destination of a kind this
process has no notifier for (a channel removed from the registry, a row
written by a newer ctwatch) still reads back from the store and fails as "no
longer configured" instead of breaking delivery. So everything here is the
same for every kind: the key is ``kind:target[,target…]``, a target shaped
like a reference is shown as ``host (digest)``, and the name shown is the kind
(with a capital where the kind is a proper noun, :data:`PROPER_NAMES`).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DestinationKind = str
"""A channel kind's name (``slack``, ``teams``, …): the registry's, see :mod:`watcher.channels`."""
KIND_RE = re.compile(r"^[a-z][a-z0-9_]*$")
REFERENCE_DIGITS = 12
REFERENCE_RE = re.compile(rf"^[^/\s]+/[0-9a-f]{{{REFERENCE_DIGITS}}}$")
PROPER_NAMES = {"slack": "Slack", "teams": "Teams"}
"""How :meth:`Destination.describe` names a kind that is a product name; any other kind is
named as it is spelled (``email``, ``webhook``, ``ntfy``)."""


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
    def reference(cls, kind: DestinationKind, url: str) -> Destination:
        """A destination whose URL is a secret, by reference (see the module's docstring)."""
        return cls(kind, (url_reference(url),))

    @classmethod
    def teams(cls, url: str) -> Destination:
        """A Teams Workflows URL, by reference (the URL itself is a secret)."""
        return cls.reference("teams", url)

    @classmethod
    def webhook(cls, url: str) -> Destination:
        """A webhook URL, by reference (the URL itself may carry a secret)."""
        return cls.reference("webhook", url)

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
        """Inverse of :attr:`key`; ValueError for a key that is not ``kind:targets``.

        The targets are split at commas: a list (email addresses) comes back as
        its items, and a single target (a channel, a reference) holds no comma.
        """
        kind, colon, target = key.partition(":")
        if not colon or not KIND_RE.match(kind):
            raise ValueError(f"unknown destination {key!r}")
        return cls(kind, tuple(t for t in target.split(",") if t))

    def describe(self) -> str:
        """How to name it to a person (for URLs: the host and the reference, never the URL)."""
        name = PROPER_NAMES.get(self.kind, self.kind)
        if not self.targets:
            return name
        if len(self.targets) == 1 and REFERENCE_RE.match(self.target):
            host, _, digest = self.target.rpartition("/")
            return f"{name} {host} ({digest})"
        return f"{name} {', '.join(self.targets)}"
