"""``[events]``: the thresholds of the event rules, and the types turned off.

Why in the config: what counts as a *major* slip or a *big* enrollment cut is a
matter of taste per team; the rules (:mod:`watcher.core.events`) read these
numbers and nothing else. Destinations choose what reaches them with
``min_level`` and ``events`` on each ``[[watch]]`` / ``[[search]]``
(:class:`EventFilterKeys`).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from watcher.core.events import EventFilter, Level, Thresholds
from watcher.core.events.model import LEVEL_NAMES, check_patterns


class EventsConfig(BaseModel):
    """Thresholds of the event rules (``docs/events.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slip_high_days: int = Field(
        default=180, ge=1, le=36500,
        description="A date slip of this many days or more is high (e.g. 180); below: medium.",
    )  # fmt: skip
    enrollment_cut_high: float = Field(
        default=0.30, gt=0, le=1, allow_inf_nan=False,
        description="An enrollment target cut by this fraction or more is high (0.30 = 30 %).",
    )  # fmt: skip
    enrollment_cut_medium: float = Field(
        default=0.10, gt=0, le=1, allow_inf_nan=False,
        description="A cut by this fraction or more is medium (0.10 = 10 %); below: low.",
    )  # fmt: skip
    due_soon_days: int = Field(
        default=30, ge=1, le=3650,
        description="results.due_soon is told this many days before the FDAAA due date (30).",
    )  # fmt: skip
    stale_after_days: int = Field(
        default=30, ge=0, le=36500,
        description="record.stale: primary completion this many days past, still recruiting.",
    )  # fmt: skip
    off: tuple[str, ...] = Field(
        default=(),
        description='Event types not made at all, as patterns (e.g. ["sites.*", "contacts.*"]).',
    )

    @field_validator("off")
    @classmethod
    def _off(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return check_patterns(value)

    @model_validator(mode="after")
    def _order(self) -> EventsConfig:
        if self.enrollment_cut_medium > self.enrollment_cut_high:
            raise ValueError(
                f"enrollment_cut_medium ({self.enrollment_cut_medium}) is above "
                f"enrollment_cut_high ({self.enrollment_cut_high})"
            )
        return self

    @property
    def thresholds(self) -> Thresholds:
        return Thresholds(
            slip_high_days=self.slip_high_days,
            enrollment_cut_high=self.enrollment_cut_high,
            enrollment_cut_medium=self.enrollment_cut_medium,
            due_soon_days=self.due_soon_days,
            stale_after_days=self.stale_after_days,
            off=self.off,
        )


class EventFilterKeys(BaseModel):
    """``min_level`` and ``events``: which changes reach a watch's destinations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_level: str = Field(
        default="info",
        description='Only changes with an event at this level or higher (e.g. "high"); '
        "a change with no event counts as info.",
    )
    events: tuple[str, ...] | None = Field(
        default=None,
        description='Only changes with an event of these types (e.g. ["status.*", "results.*"]).',
    )

    @field_validator("min_level")
    @classmethod
    def _level(cls, value: str) -> str:
        if value.strip().lower() not in LEVEL_NAMES:
            raise ValueError(f"{value!r} is not a level (use one of {', '.join(LEVEL_NAMES)})")
        return value.strip().lower()

    @field_validator("events")
    @classmethod
    def _events(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("is empty (leave it out to hear about every event type)")
        return check_patterns(value)

    @property
    def event_filter(self) -> EventFilter:
        return EventFilter(Level.parse(self.min_level), self.events or ())
