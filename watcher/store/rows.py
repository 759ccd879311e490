"""The values the store hands out and takes in, mapped from rows by column name.

Why by name: a ``SELECT`` that gains a column must not shift every field of a
dataclass by one. Connections use :class:`sqlite3.Row`, and :func:`from_row`
fills a frozen dataclass from the columns whose names match its fields.
"""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
from dataclasses import dataclass
from typing import Any, TypeVar

from watcher.core.destination import Destination
from watcher.core.diff import FieldChange
from watcher.core.history import version_ref

T = TypeVar("T")


def from_row(cls: type[T], row: sqlite3.Row, **overrides: Any) -> T:
    """``cls(**row)`` for the dataclass fields the row has; ``overrides`` win."""
    names = set(row.keys())
    values = {
        name: row[name]
        for name in _field_names(cls)  # type: ignore[arg-type]
        if name in names and name not in overrides
    }
    return cls(**values, **overrides)


@functools.cache
def _field_names(cls: type[Any]) -> tuple[str, ...]:
    """A dataclass's field names, looked up once (status maps 580,000 rows)."""
    return tuple(f.name for f in dataclasses.fields(cls))


@dataclass(frozen=True)
class ChangeRow:
    """One field change as stored: old and new already encoded as JSON text, and in the
    words alerts use (``old_text``/``new_text``, for people querying the database).

    Built by :func:`watcher.cycle.stored.stored_changes`: the store holds no words of its own.
    """

    path: str
    label: str
    kind: str
    old: str | None
    new: str | None
    old_text: str | None = None
    new_text: str | None = None


@dataclass(frozen=True)
class OutboxRow:
    """An alert to write for one destination.

    ``kind`` is ``change`` (a version's field changes; ``paths`` are the
    fields it lists, None = all) or ``notice`` (``payload`` holds its words).
    """

    destination: Destination
    paths: tuple[str, ...] | None = None
    kind: str = "change"
    payload: dict[str, Any] | None = None
    nct_id: str | None = None


@dataclass(frozen=True)
class OutboxClaim:
    """A leased outbox row with what its alert needs (title, date) read in the same query."""

    id: int
    version_id: int | None
    nct_id: str
    destination: Destination
    paths: tuple[str, ...] | None
    attempts: int
    created_at: str = ""
    kind: str = "change"
    payload: dict[str, Any] | None = None
    title: str = ""
    last_update_posted: str | None = None
    registry_version: int | None = None
    """The website's number of the version the alert is about, when known."""
    previous_registry_version: int | None = None
    """... and of the version before it: both known, the alert links to the comparison."""
    age_from: str = ""
    """Where ``give_up_after`` counts from: ``created_at``, or the last manual retry."""


@dataclass(frozen=True)
class OutboxProblem:
    """An alert that failed or is waiting to be retried."""

    nct_id: str
    destination: Destination
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str
    id: int = 0
    created_at: str = ""
    kind: str = "change"


@dataclass(frozen=True)
class TrialRow:
    """What ``ctwatch status`` shows for one trial."""

    nct_id: str
    title: str | None
    overall_status: str | None
    last_update_posted: str | None
    last_checked_at: str | None
    last_changed_at: str | None
    not_found: bool
    consecutive_errors: int
    last_error: str | None


@dataclass(frozen=True)
class VersionRow:
    """One recorded version with the changes it brought (relative to the one before it).

    ``number`` is ctwatch's own number for a version it observed (1, 2, 3… in the
    order seen, given once and never changed; None for an imported version),
    ``registry_version`` the website's (None while unknown), ``source``
    ``observed`` (seen by ctwatch) or ``registry`` (imported from the registry's
    history); ``position`` its place in time among the trial's versions (it
    moves when older versions are imported: an order, never a name);
    ``submitted`` is the version's submission date. :attr:`ref` is its name.
    """

    id: int
    nct_id: str
    fetched_at: str
    last_update_posted: str | None
    overall_status: str | None
    changes: tuple[FieldChange, ...]
    number: int | None = None
    registry_version: int | None = None
    source: str = "observed"
    submitted: str | None = None
    position: int = 0

    @property
    def ref(self) -> str:
        """The version's name, as ``history`` prints it and ``diff``/``show`` take it:
        ``#3`` (ctwatch's own number) or ``r7`` (an imported registry version)."""
        return version_ref(self.number, self.registry_version)

    @property
    def date(self) -> str | None:
        """The version's date as the registry's history shows it (submitted, else posted)."""
        return self.submitted or self.last_update_posted


@dataclass(frozen=True)
class StoredVersion:
    """A version's place in its trial's history, without body or changes."""

    id: int
    position: int
    """Its place in time among the trial's versions (an order, not its name)."""
    source: str
    registry_version: int | None
    submitted: str | None
    last_update_posted: str | None
    alerted: bool
    """Alerts were written for it: its changes are what people were told, never rewritten."""


@dataclass(frozen=True)
class RunInfo:
    """The parts of a past run that plan the next one."""

    started_at: str
    data_timestamp: str | None
    mode: str | None


@dataclass(frozen=True)
class RunCounts:
    """The outcome of one cycle, as stored in ``runs``."""

    checked: int = 0
    changed: int = 0
    new: int = 0
    not_found: int = 0
    errors: int = 0
    requests: int = 0
    complete: bool = False
    data_timestamp: str | None = None
    error: str | None = None
    mode: str | None = None
    bytes: int = 0
    """Registry body bytes read by the cycle."""


@dataclass(frozen=True)
class RunRecord:
    """A finished run as ``status`` and ``health`` show it."""

    id: int
    started_at: str
    finished_at: str | None
    checked: int
    changed: int
    new: int
    not_found: int
    errors: int
    requests: int
    complete: bool
    data_timestamp: str | None
    error: str | None
    mode: str | None
    bytes: int = 0


@dataclass(frozen=True)
class Trouble:
    """A condition ctwatch tells people about once: since when, and whether told."""

    key: str
    since: str
    told: bool
    detail: str | None


@dataclass(frozen=True)
class Subscription:
    """A Slack channel following a trial because someone typed ``/ctwatch watch``.

    ``channel_name`` is what Slack sent with the command (without ``#``); it
    lets routing recognise a channel the config file names as ``#name``.
    """

    channel_id: str
    nct_id: str
    channel_name: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    created_at: str = ""
    min_level: str | None = None
    """``/ctwatch watch NCT… min_level=high``: only changes with an event this high (None: all)."""
    events: tuple[str, ...] = ()
    """``events=status.*,results.*``: only changes with an event of these types."""


@dataclass(frozen=True)
class Mute:
    """No alerts for one trial in one Slack channel until ``until`` (set from a button).

    ``channel_name`` (without ``#``) lets delivery recognise the channel when the
    config file names it ``#name`` while Slack sent its ID; ``team_id`` is the
    workspace the click came from (empty for mutes set before ctwatch kept it).
    """

    channel_id: str
    nct_id: str
    until: str
    channel_name: str | None = None
    user_id: str | None = None
    created_at: str = ""
    team_id: str = ""


@dataclass(frozen=True)
class ServiceState:
    """A long-lived connection as its process last saw it (e.g. Slack Socket Mode)."""

    name: str
    up: bool
    since: str
    """When it last went up or down."""
    checked_at: str
    """When its process last looked: a stale value means nobody is looking any more."""
    detail: str | None = None


@dataclass(frozen=True)
class ChangedVersion:
    """A version that changed fields, with what a feed entry needs besides its changes."""

    id: int
    nct_id: str
    content_hash: str
    fetched_at: str
    last_update_posted: str | None
    title: str | None


@dataclass(frozen=True)
class SearchState:
    """What the store remembers of one search (see migration ``0010_searches``)."""

    name: str
    query: str
    """The canonical JSON of its API parameters when it was last checked."""
    baseline_at: str | None = None
    """When its members were recorded for ``query`` (None: a silent baseline is due)."""
    data_timestamp: str | None = None
    """The registry refresh its last good check processed."""
    last_check_at: str | None = None
    last_event_at: str | None = None
    over_count: int | None = None
    """Matches found by a check that refused it (over ``max_trials``); None otherwise."""
    last_error: str | None = None
    consecutive_errors: int = 0
    """Checks that failed in a row (0 after one that read the registry)."""
    members: int = 0


@dataclass(frozen=True)
class SearchSubscription:
    """A Slack channel following a search because someone typed ``/ctwatch watch URL``.

    ``name`` is the search's name (a config search's, when the query was the same);
    ``url`` what was pasted; ``query`` the canonical JSON of its API parameters.
    """

    channel_id: str
    name: str
    url: str
    query: str
    channel_name: str | None = None
    team_id: str | None = None
    user_id: str | None = None
    created_at: str = ""


@dataclass(frozen=True)
class SearchEventRow:
    """One member event as recorded: ``kind`` is ``new``, ``matches`` or ``left``."""

    id: int
    search: str
    nct_id: str
    kind: str
    at: str
    payload: dict[str, Any]
