"""Time events: what a trial's stored state means *today*.

``results.due_soon`` (low), ``results.due`` (medium), ``results.overdue``
(high), ``results.reported_late`` (medium) and ``record.stale`` (medium) are
not changes of the record: they happen as days pass. Each cycle evaluates them
from the facts stored with the trial's latest version (:class:`ClockFacts`)
and today's UTC date from the injected clock - never the registry's timestamp,
never a request - and tells each *transition* once: the stored state is
compared with the new one, and only a move into a told state makes an event.

``record.stale``: the primary completion date is more than
``stale_after_days`` in the past while the overall status still says the trial
has not finished recruiting (not yet recruiting, recruiting, enrolling by
invitation).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from watcher.core.events.dates import parse_date
from watcher.core.events.model import Event, Level, Thresholds
from watcher.core.events.results import Deadline, deadline
from watcher.core.jsoncodec import compact_json

OPEN_STATUSES = frozenset({"NOT_YET_RECRUITING", "RECRUITING", "ENROLLING_BY_INVITATION"})
TOLD = {
    "due_soon": Level.LOW,
    "due": Level.MEDIUM,
    "overdue": Level.HIGH,
    "reported_late": Level.MEDIUM,
}


@dataclass(frozen=True)
class ClockFacts:
    """What the time rules read from a trial's latest version (stored as JSON)."""

    deadline: Deadline | None
    status: str | None
    primary_completion: date | None
    primary_completion_text: str | None

    @property
    def relevant(self) -> bool:
        """Whether these facts can make a time event at all (a deadline, or an open status
        with a primary completion date); others need no row until they can."""
        return self.deadline is not None or (
            self.primary_completion is not None and self.status in OPEN_STATUSES
        )

    def to_json(self) -> str:
        d = self.deadline
        facts = {
            "status": self.status,
            "pcd": self.primary_completion_text,
            "deadline": None
            if d is None
            else {
                "basis": d.basis_text,
                "due": d.due.isoformat(),
                "certificate": d.certificate,
                "results": d.results.isoformat() if d.results else None,
                "has_results": d.has_results,
            },
        }
        text = compact_json(facts)
        if text.isascii():
            return text
        # escaped, as json.dumps wrote it: stored facts are compared as text
        return json.dumps(facts, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ClockFacts:
        data = json.loads(text)
        d = data.get("deadline")
        found = None
        if isinstance(d, dict):
            basis = parse_date(d.get("basis"))
            due = parse_date(d.get("due"))
            if basis is not None and due is not None:
                found = Deadline(
                    basis, d["basis"], due, bool(d.get("certificate")),
                    parse_date(d.get("results")), bool(d.get("has_results")),
                )  # fmt: skip
        pcd = data.get("pcd")
        return cls(
            found, data.get("status"), parse_date(pcd), pcd if isinstance(pcd, str) else None
        )


def clock_facts(record: Any) -> ClockFacts:
    """The facts the time rules read; written for speed, as :func:`watcher.core.facts.facts`
    is (every new version of every trial passes here): plain lookups, no paths."""
    protocol = record.get("protocolSection") if type(record) is dict else None
    status = protocol.get("statusModule") if type(protocol) is dict else None
    if type(status) is not dict:
        status = {}
    overall = status.get("overallStatus")
    pcd_struct = status.get("primaryCompletionDateStruct")
    pcd_text = pcd_struct.get("date") if type(pcd_struct) is dict else None
    pcd = parse_date(pcd_text)
    found = deadline(record)
    if found is None:
        if pcd is None or type(overall) is not str or overall not in OPEN_STATUSES:
            return IRRELEVANT  # about half of a baseline: one shared value, not one each
        return undated(overall, pcd_text)  # a text: it parsed as a date
    return ClockFacts(
        found,
        overall if type(overall) is str else None,
        pcd,
        pcd_text if pcd is not None and type(pcd_text) is str else None,
    )


IRRELEVANT = ClockFacts(None, None, None, None)
"""The facts of every trial that can make no time event (nothing the rules read)."""


@functools.lru_cache(maxsize=4096)
def undated(status: str, primary_completion: str) -> ClockFacts:
    """The facts of a trial with no FDAAA deadline but an open status and a primary
    completion date (only ``record.stale`` can apply): one shared value per pair, as
    :data:`IRRELEVANT` is, so what is made of them once (their evaluation at a baseline:
    :func:`watcher.cycle.time_events.clock_write`) is shared by every trial of the pair."""
    return ClockFacts(None, status, parse_date(primary_completion), primary_completion)


@dataclass(frozen=True)
class ClockState:
    """Where a trial stands today: its results state and whether it is stale."""

    results: str | None = None
    """``due_soon``, ``due``, ``overdue``, ``reported_late``, ``reported`` or None."""
    stale: bool = False

    def to_text(self) -> str:
        return f"{self.results or ''}|{int(self.stale)}"

    @classmethod
    def from_text(cls, text: str | None) -> ClockState | None:
        if not text or "|" not in text:
            return None
        results, stale = text.split("|", 1)
        return cls(results or None, stale == "1")


def state_on(facts: ClockFacts, today: date, thresholds: Thresholds) -> ClockState:
    return ClockState(
        _results_state(facts.deadline, today, thresholds), _stale(facts, today, thresholds)
    )


def _results_state(d: Deadline | None, today: date, t: Thresholds) -> str | None:
    if d is None:
        return None
    if d.results is not None or d.has_results:
        late = d.results is not None and d.results > d.overdue_from
        return "reported_late" if late else "reported"
    if today > d.overdue_from:
        return "overdue"
    if today >= d.due:
        return "due"
    if today >= d.due - timedelta(days=t.due_soon_days):
        return "due_soon"
    return None


def _stale(facts: ClockFacts, today: date, t: Thresholds) -> bool:
    pcd = facts.primary_completion
    return (
        pcd is not None
        and facts.status in OPEN_STATUSES
        and (today - pcd).days > t.stale_after_days
    )


def transitions(
    before: ClockState | None, now: ClockState, facts: ClockFacts, today: date, t: Thresholds
) -> list[Event]:
    """The events of moving from ``before`` to ``now`` (``before`` None: a baseline, where
    the current state itself is the event, recorded silently by the caller)."""
    events: list[Event] = []
    was = before or ClockState()
    if now.results in TOLD and now.results != was.results:
        kind = f"results.{now.results}"
        if t.enabled(kind) and facts.deadline is not None:
            events.append(_results_event(now.results, facts.deadline, today))
    if now.stale and not was.stale and t.enabled("record.stale"):
        events.append(_stale_event(facts, today))
    return events


def _results_event(state: str, d: Deadline, today: date) -> Event:
    values: dict[str, Any] = {
        "completion_date": d.basis_text,
        "due": d.due.isoformat(),
        "certificate_of_delay": d.certificate,
    }
    delay = " (with a certificate of delay)" if d.certificate else ""
    if state == "due_soon":
        days = (d.due - today).days
        values["days_left"] = days
        summary = f"Results are due on {d.due.isoformat()}{delay}, in {days} days (FDAAA rule)."
    elif state == "due":
        summary = (
            f"Results were due on {d.due.isoformat()}{delay}; none submitted yet; overdue "
            f"after {d.overdue_from.isoformat()} (FDAAA rule)."
        )
    elif state == "overdue":
        days = (today - d.due).days
        values["days_overdue"] = days
        summary = (
            f"No results submitted {days} days after the due date {d.due.isoformat()}{delay} "
            "(FDAAA rule, 30-day grace)."
        )
    else:
        assert d.results is not None
        days = (d.results - d.due).days
        values["submitted"] = d.results.isoformat()
        values["days_late"] = days
        summary = (
            f"Results were first submitted on {d.results.isoformat()}, {days} days after the "
            f"due date {d.due.isoformat()}{delay} (FDAAA rule)."
        )
    return Event(f"results.{state}", TOLD[state], summary, values)


def _stale_event(facts: ClockFacts, today: date) -> Event:
    assert facts.primary_completion is not None
    days = (today - facts.primary_completion).days
    status = (facts.status or "").replace("_", " ").lower()
    return Event(
        "record.stale",
        Level.MEDIUM,
        f"Primary completion date {facts.primary_completion_text} passed {days} days ago; "
        f"the record still says “{status}”.",
        {"primary_completion": facts.primary_completion_text, "days_past": days,
         "status": facts.status},
    )  # fmt: skip


def evaluate(
    facts: ClockFacts, before: ClockState | None, today: date, thresholds: Thresholds
) -> tuple[ClockState, list[Event]]:
    """Today's state and the events of the move there (see :func:`transitions`)."""
    now = state_on(facts, today, thresholds)
    if before == now:
        return now, []
    return now, transitions(before, now, facts, today, thresholds)
