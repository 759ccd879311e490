"""Who hears about which trial: destinations and the ``fields`` filters.

Why separate: the same trial can sit in several watches that share a Slack
channel; routing collapses that to one destination (so one message), and merges
their field filters so the message lists every change any of them asked for.
The outbox stores the result, so delivery never needs the config again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from watcher.config import Config
from watcher.diff import FieldChange
from watcher.store import OutboxRow

DestinationKind = Literal["console", "slack", "email"]


@dataclass(frozen=True)
class Destination:
    """Where one alert goes: ``console:``, ``slack:#chan``, ``email:a@x,b@y``."""

    kind: DestinationKind
    target: str = ""

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.target}"

    @classmethod
    def parse(cls, key: str) -> Destination:
        kind, _, target = key.partition(":")
        if kind not in ("console", "slack", "email"):
            raise ValueError(f"unknown destination {key!r}")
        return cls(kind, target)  # type: ignore[arg-type]

    def describe(self) -> str:
        """How to name it to a person."""
        if self.kind == "console":
            return "console"
        if self.kind == "slack":
            return f"Slack {self.target}"
        return f"email {self.target.replace(',', ', ')}"


@dataclass(frozen=True)
class Route:
    """One watch's interest in one trial."""

    watch: str
    destination: Destination
    field_paths: tuple[str, ...] | None


def watch_destinations(slack: Sequence[str], email: Sequence[str]) -> list[Destination]:
    """A watch's destinations; a watch with none prints to the console."""
    out = [Destination("slack", channel) for channel in slack]
    if email:
        out.append(Destination("email", ",".join(sorted(set(email)))))
    return out or [Destination("console")]


def build_routes(config: Config, extra: Iterable[Route] = ()) -> dict[str, list[Route]]:
    """``nct_id -> routes`` for every watched trial (plus extra routes by trial)."""
    routes: dict[str, list[Route]] = {}
    for watch in config.watch:
        for destination in watch_destinations(watch.slack, watch.email):
            for nct in watch.trials:
                routes.setdefault(nct, []).append(Route(watch.name, destination, watch.field_paths))
    return routes


def path_matches(change_schema_path: str, filters: Iterable[str]) -> bool:
    """True when a change lies under a filtered field, or contains one."""
    for wanted in filters:
        if change_schema_path == wanted:
            return True
        if change_schema_path.startswith(wanted + ".") or wanted.startswith(
            change_schema_path + "."
        ):
            return True
    return False


def outbox_rows(changes: Sequence[FieldChange], routes: Iterable[Route]) -> list[OutboxRow]:
    """One row per destination whose filters match at least one change."""
    by_destination: dict[str, tuple[Destination, set[str] | None]] = {}
    for route in routes:
        key = route.destination.key
        if route.field_paths is None:
            selected: set[str] | None = None
        else:
            selected = {c.path for c in changes if path_matches(c.schema_path, route.field_paths)}
        if key in by_destination:
            previous = by_destination[key][1]
            selected = None if previous is None or selected is None else previous | selected
        by_destination[key] = (route.destination, selected)
    rows = []
    for key, (_, selected) in by_destination.items():
        if selected is None:
            rows.append(OutboxRow(key, None))
        elif selected:
            ordered = tuple(c.path for c in changes if c.path in selected)
            rows.append(OutboxRow(key, ordered))
    return rows
