"""Where an alert goes, as a typed value from routing to the notifier.

Why a value and not a string: the outbox stores one row per destination and
must recognise "the same destination" across watches and subscriptions, so
each destination has one canonical ``key`` (``slack:#alerts``,
``email:a@x.org,b@y.org``). That string form exists only at the store
boundary; everything else handles :class:`Destination`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

DestinationKind = Literal["console", "slack", "email"]
KINDS: tuple[str, ...] = get_args(DestinationKind)


@dataclass(frozen=True)
class Destination:
    """One destination: its kind and its targets (one channel, or the addresses)."""

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

    @property
    def target(self) -> str:
        """The single target (a channel); for email, the addresses joined by commas."""
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
        """How to name it to a person."""
        if self.kind == "console":
            return "console"
        if self.kind == "slack":
            return f"Slack {self.target}"
        return f"email {', '.join(self.targets)}"
