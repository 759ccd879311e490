"""Counts for ``/metrics``, read from the tables at scrape time.

Why from the database and not from counters in memory: the cycles may run in
``ctwatch check`` from cron while ``ctwatch serve`` answers the scrape, and a
restart must not reset a counter that Prometheus treats as monotonic. Every
figure is one aggregate query over data ctwatch keeps anyway.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watcher.store.base import Connection

_SECONDS = "(julianday(finished_at) - julianday(started_at)) * 86400.0"
_OUTCOME = """CASE WHEN error IS NOT NULL THEN 'failed'
                   WHEN complete = 1 THEN 'complete' ELSE 'partial' END"""


@dataclass(frozen=True)
class CycleTotals:
    """Finished cycles of one outcome: how many and how long they took in all."""

    count: int
    seconds: float


@dataclass(frozen=True)
class Totals:
    """Everything ``/metrics`` reports from the database."""

    cycles: dict[str, CycleTotals] = field(default_factory=dict)
    """By outcome: ``complete``, ``partial`` (some trials failed) and ``failed``."""
    requests: int = 0
    bytes: int = 0
    last_duration: float | None = None
    last_success: str | None = None
    """When the newest cycle that did not fail finished."""
    alerts: dict[tuple[str, str], int] = field(default_factory=dict)
    """``(destination kind, state) -> rows``."""
    oldest_pending: str | None = None
    active_mutes: int = 0
    digests_sent: int = 0
    """Digest messages sent (scheduled digests and the ends of quiet hours)."""
    waiting: int = 0
    """Alerts held for a digest or the end of quiet hours."""


class Stats:
    """Reads the aggregates behind ``/metrics``."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def totals(self, now: str) -> Totals:
        one = self._conn.one
        cycles = {
            r["outcome"]: CycleTotals(r["n"], float(r["seconds"] or 0.0))
            for r in self._conn.rows(
                f"""SELECT {_OUTCOME} AS outcome, COUNT(*) AS n, SUM({_SECONDS}) AS seconds
                    FROM runs WHERE finished_at IS NOT NULL GROUP BY outcome"""  # noqa: S608
            )
        }
        traffic = one("SELECT SUM(requests) AS requests, SUM(bytes) AS bytes FROM runs")
        last = one(
            f"SELECT {_SECONDS} AS seconds FROM runs WHERE finished_at IS NOT NULL "  # noqa: S608
            "ORDER BY id DESC LIMIT 1"
        )
        success = one(
            """SELECT finished_at FROM runs WHERE finished_at IS NOT NULL AND error IS NULL
               ORDER BY id DESC LIMIT 1"""
        )
        alerts = {
            (r["kind"], r["status"]): r["n"]
            for r in self._conn.rows(
                """SELECT substr(destination, 1, instr(destination, ':') - 1) AS kind, status,
                          COUNT(*) AS n FROM outbox GROUP BY kind, status"""
            )
        }
        pending = one(
            "SELECT MIN(COALESCE(age_from, created_at)) AS oldest FROM outbox"
            " WHERE status = 'pending'"
        )
        mutes = one("SELECT COUNT(*) AS n FROM mutes WHERE until > ?", [now])
        digests = one(
            """SELECT SUM(kind = 'digest' AND status = 'sent') AS sent,
                      SUM(status = 'held') AS waiting FROM outbox"""
        )
        return Totals(
            cycles=cycles,
            requests=int(traffic["requests"] or 0) if traffic else 0,
            bytes=int(traffic["bytes"] or 0) if traffic else 0,
            last_duration=float(last["seconds"]) if last and last["seconds"] is not None else None,
            last_success=success["finished_at"] if success else None,
            alerts=alerts,
            oldest_pending=pending["oldest"] if pending else None,
            active_mutes=int(mutes["n"]) if mutes else 0,
            digests_sent=int(digests["sent"] or 0) if digests else 0,
            waiting=int(digests["waiting"] or 0) if digests else 0,
        )
