"""What one cycle amounted to: the report the CLI and the daemon print.

Kept apart from the pipeline so the presentation side (summary line, JSON
output, logs) depends on a plain value, not on the machinery that fills it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from watcher.store.rows import RunCounts


def describe_failure(exc: BaseException) -> str:
    """``unexpected KeyError: 'x'`` - one line, no traceback (``--log-level debug`` has it)."""
    text = " ".join(str(exc).split())[:300]
    return f"unexpected {exc.__class__.__name__}" + (f": {text}" if text else "")


class Interrupted(Exception):
    """The process is stopping; the cycle ends between two trials."""


class Outcome(Enum):
    """What recording one fetched record amounted to."""

    NEW = "new"
    UNCHANGED = "unchanged"
    CHANGED = "changed"


@dataclass
class CycleReport:
    """What one cycle saw; the CLI turns it into the summary line."""

    checked: int = 0
    changed: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    not_found: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)
    requests: int = 0
    bytes: int = 0
    """Registry body bytes read (for ``/metrics``)."""
    registry_down: bool = False
    registry_error: str | None = None
    failure: str | None = None
    """An unexpected fault that ended the cycle (never recorded as complete)."""
    mode: str | None = None
    searches: int = 0
    """Searches this cycle was asked to keep up to date (checked or not)."""
    searches_checked: list[str] = field(default_factory=list)
    search_events: list[tuple[str, str, str]] = field(default_factory=list)
    """``(search, kind, nct_id)`` for each event recorded: ``new``, ``matches``, ``left``."""
    searches_over: dict[str, int] = field(default_factory=dict)
    """Searches refused for matching more than their ``max_trials``, with the count."""
    search_errors: dict[str, str] = field(default_factory=dict)

    def absorb(self, part: CycleReport) -> None:
        """Add the trial outcomes of one recorded batch (kept apart until it committed)."""
        self.checked += part.checked
        self.changed += part.changed
        self.new += part.new
        self.not_found += part.not_found
        self.errors.update(part.errors)

    def search_count(self, kind: str) -> int:
        return sum(1 for _, k, _ in self.search_events if k == kind)

    @property
    def error(self) -> str | None:
        """Why the cycle as a whole failed, or None."""
        return self.failure or self.registry_error  # an interruption outranks a failed batch

    @property
    def counts(self) -> RunCounts:
        return RunCounts(
            checked=self.checked,
            changed=len(self.changed),
            new=len(self.new),
            not_found=len(self.not_found),
            errors=len(self.errors),
            requests=self.requests,
            bytes=self.bytes,
            # a trial's own failure does not make the cycle incomplete: failing trials are
            # fetched in full until they are recorded (Runs.needs_full_fetch), so the
            # watermark may move; one bad record must not cost every cycle a full fetch
            complete=not self.registry_down and self.failure is None,
            error=self.error,
        )
