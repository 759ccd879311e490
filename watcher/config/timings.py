"""Which timing each destination has: the config's tables, first table first.

Why a rule for the first: one destination (``#trials``) may sit in two watches
that give it different digests; it still gets one stream of messages, so one
timing wins — the first table in the file that names it — and ``ctwatch
config check`` says which (:func:`timing_conflicts`).
"""

from __future__ import annotations

from watcher.config.digest_keys import Timing
from watcher.config.model import Config
from watcher.core.destination import Destination


def destination_timings(config: Config) -> dict[Destination, Timing]:
    """Every configured destination that does not send at once, with its timing."""
    out: dict[Destination, Timing] = {}
    zone = config.schedule.timezone
    for table in (*config.watch, *config.search):
        for destination, timing in table.timings(zone).items():
            out.setdefault(destination, timing)
    return {d: t for d, t in out.items() if not t.immediate}


def timing_conflicts(config: Config) -> list[str]:
    """One line per destination that two tables time differently (the first one wins)."""
    seen: dict[Destination, tuple[str, Timing]] = {}
    lines = []
    zone = config.schedule.timezone
    for kind, tables in (("watch", config.watch), ("search", config.search)):
        for table in tables:
            for destination, timing in table.timings(zone).items():
                first = seen.setdefault(destination, (f'{kind} "{table.name}"', timing))
                if first[1] != timing:
                    lines.append(
                        f'{destination.describe()}: {kind} "{table.name}" sets another '
                        f"digest or quiet hours than {first[0]}; the first one applies"
                    )
    return lines
