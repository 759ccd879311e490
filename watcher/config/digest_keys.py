"""The keys that say *when* a watch's (or search's) destinations hear about changes.

``digest``, ``timezone``, ``quiet_hours``, ``urgent`` and ``send_empty`` on a
``[[watch]]`` or ``[[search]]`` apply to all its destinations; a
``[[watch.digests]]`` sub-table names some of those destinations (``slack``,
``email``, ``teams``, ``webhook``) and gives them keys of their own. Why a mixin
beside :class:`~watcher.config.destinations.DestinationKeys`: both tables take
the same keys, checked once, and the checks name the key (``digest``,
``quiet_hours``, …) in the one-line error the loader prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from watcher.config.destinations import DestinationKeys
from watcher.config.digest import (
    DigestSchedule,
    QuietHours,
    check_level,
    check_timezone,
    parse_digest,
    parse_quiet_hours,
)
from watcher.core.destination import Destination

_SCHEDULE_TIMEZONE = "UTC"
"""Checks at load use UTC; the real zone (``timezone`` or ``[schedule] timezone``) is
applied by :meth:`TimingKeys.timing` — a schedule's form does not depend on it."""


class TimingKeys(BaseModel):
    """``digest``/``timezone``/``quiet_hours``/``urgent``/``send_empty``: one set of them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    digest: str | None = None
    """``"daily 08:00"``, ``"weekly mon 08:00"``, ``"hourly"`` or a 5-field cron expression:
    changes wait and go out as one message per period. Unset: each change at once."""
    timezone: str | None = None
    """IANA time zone of ``digest`` and ``quiet_hours`` (default: ``[schedule] timezone``)."""
    quiet_hours: str | None = None
    """``"20:00-08:00"``: alerts (and digests) falling in this daily window wait for its end
    and then go as one message."""
    urgent: str | None = None
    """An event level (``high``, ``medium``, ``low``): changes with an event of this level or
    higher go at once, whatever ``digest`` and ``quiet_hours`` say."""
    send_empty: bool = False
    """Send a digest even when nothing changed in its period ("no changes")."""

    @field_validator("digest")
    @classmethod
    def _digest(cls, value: str | None) -> str | None:
        if value is not None:
            parse_digest(value, _SCHEDULE_TIMEZONE)
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str | None) -> str | None:
        return None if value is None else check_timezone(value)

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, value: str | None) -> str | None:
        if value is not None:
            parse_quiet_hours(value, _SCHEDULE_TIMEZONE)
        return value

    @field_validator("urgent")
    @classmethod
    def _urgent(cls, value: str | None) -> str | None:
        return None if value is None else check_level(value)

    def timing(self, default_timezone: str) -> Timing:
        """The parsed values, in ``timezone`` or the schedule's zone."""
        zone = self.timezone or default_timezone
        return Timing(
            None if self.digest is None else parse_digest(self.digest, zone),
            None if self.quiet_hours is None else parse_quiet_hours(self.quiet_hours, zone),
            self.urgent,
            self.send_empty,
        )


class DigestOverride(DestinationKeys, TimingKeys):
    """One ``[[watch.digests]]`` entry: some of the watch's destinations, their own timing."""

    @model_validator(mode="after")
    def _names_something(self) -> DigestOverride:
        if not (self.slack or self.email or self.teams or self.webhook):
            raise ValueError(
                "names no destination (set slack, email, teams or webhook to some of the "
                "watch's own)"
            )
        return self


class TimingTable(DestinationKeys, TimingKeys):
    """What ``[[watch]]`` and ``[[search]]`` inherit: where alerts go and when, with
    ``digests`` overrides for some of those destinations."""

    digests: tuple[DigestOverride, ...] = ()
    """``[[watch.digests]]``: destinations of this table with a timing of their own."""

    @field_validator("digests", mode="before")
    @classmethod
    def _digests_a_list(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict):
            raise ValueError(f"must be an array of tables: write [[watch.{info.field_name}]]")
        return value

    @model_validator(mode="after")
    def _own_destinations(self) -> TimingTable:
        if self.digests:
            strangers = unknown_override_destinations(self.destinations, self.digests)
            if strangers:
                raise ValueError(
                    f"digests names {', '.join(strangers)}, which this table does not send to "
                    "(list it in the table's own slack/email/teams/webhook too)"
                )
        return self

    def timings(self, default_timezone: str) -> dict[Destination, Timing]:
        """Each destination of this table with its timing (overrides win; a key an override
        leaves out is the table's, its time zone above all)."""
        out = dict.fromkeys(self.destinations, self.timing(default_timezone))
        keys = set(TimingKeys.model_fields)
        inherited = {key: getattr(self, key) for key in keys}
        for override in self.digests:
            given = override.model_dump(include=override.model_fields_set & keys)
            timing = TimingKeys.model_validate(inherited | given).timing(default_timezone)
            for destination in override.destinations:
                out[destination] = timing
        return out


@dataclass(frozen=True)
class Timing:
    """A destination's parsed timing (see :class:`TimingKeys`)."""

    digest: DigestSchedule | None = None
    quiet: QuietHours | None = None
    urgent: str | None = None
    send_empty: bool = False

    @property
    def immediate(self) -> bool:
        """Nothing held: today's behaviour."""
        return self.digest is None and self.quiet is None

    @property
    def key(self) -> str:
        """A stable text naming what holds alerts (held rows remember it)."""
        parts = [
            f"digest={self.digest.describe()}" if self.digest else "",
            f"quiet={self.quiet.describe()}" if self.quiet else "",
        ]
        return ";".join(p for p in parts if p)


def unknown_override_destinations(
    own: tuple[Destination, ...], overrides: tuple[DigestOverride, ...]
) -> list[str]:
    """Destinations a ``[[watch.digests]]`` names that its table does not (for the error)."""
    mine = set(own)
    out = []
    for override in overrides:
        for destination in override.destinations:
            if destination not in mine:
                out.append(destination.describe())
    return out
