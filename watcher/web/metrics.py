"""``/metrics``: Prometheus figures read from the database at scrape time.

Why a custom collector and its own registry: the figures live in the database
(cycles may run in a ``ctwatch check`` from cron while ``ctwatch serve``
answers the scrape), so they are read when Prometheus asks, and nothing is
registered in prometheus-client's global registry at import time. Counters
are sums over stored rows, so a restart never resets them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector, CollectorRegistry

from watcher.store import SearchState, ServiceState
from watcher.store.stats import Totals
from watcher.timeutil import parse_iso

OUTCOMES = ("complete", "partial", "failed")
STATES = ("pending", "sent", "failed", "muted", "held")


@dataclass(frozen=True)
class Reading:
    """What one scrape reports."""

    totals: Totals
    trials_watched: int
    now: datetime
    searches: Mapping[str, SearchState | None] = field(default_factory=dict)
    """Every search kept up to date, with what its last check found (None: not yet)."""
    socket_mode: ServiceState | None = None
    socket_mode_configured: bool = False
    backfill_queued: int = 0
    kinds: tuple[str, ...] = ()
    """The registered channel kinds: each is reported, with 0 when it has no alerts."""


class StoreCollector(Collector):
    """Turns a :class:`Reading` (taken per scrape) into metric families."""

    def __init__(self, read: Callable[[], Reading]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        reading = self._read()
        totals = reading.totals
        cycles = CounterMetricFamily(
            "ctwatch_cycles", "Finished cycles by outcome.", labels=["outcome"]
        )
        for outcome in OUTCOMES:
            found = totals.cycles.get(outcome)
            cycles.add_metric([outcome], found.count if found else 0)
        yield cycles
        count = sum(c.count for c in totals.cycles.values())
        seconds = sum(c.seconds for c in totals.cycles.values())
        yield SummaryMetricFamily(
            "ctwatch_cycle_duration_seconds",
            "Wall time of finished cycles.",
            count_value=count,
            sum_value=seconds,
        )
        if totals.last_duration is not None:
            yield _gauge(
                "ctwatch_last_cycle_duration_seconds",
                "The newest cycle's wall time.",
                totals.last_duration,
            )
        yield CounterMetricFamily(
            "ctwatch_registry_requests", "Registry requests made by cycles.", value=totals.requests
        )
        yield CounterMetricFamily(
            "ctwatch_registry_received_bytes",
            "Registry response body bytes read by cycles.",
            value=totals.bytes,
        )
        yield _gauge(
            "ctwatch_trials_watched",
            "Trials watched (config, Slack and followed searches).",
            reading.trials_watched,
        )
        yield from self._searches(reading)
        yield from self._alerts(reading)

    def _searches(self, reading: Reading) -> Iterator[Metric]:
        searches = reading.searches
        yield _gauge(
            "ctwatch_searches", "Searches kept up to date (config and Slack).", len(searches)
        )
        members = GaugeMetricFamily(
            "ctwatch_search_members",
            "Trials matching each search at its last good check (0 when unknown).",
            labels=["search"],
        )
        over = 0
        for name, state in searches.items():
            known = state is not None and state.baseline_at is not None
            members.add_metric([name], state.members if state is not None and known else 0)
            over += state is not None and state.over_count is not None
        yield members
        yield _gauge(
            "ctwatch_searches_over_max_trials",
            "Searches refused at their last check for matching more than max_trials.",
            over,
        )

    def _alerts(self, reading: Reading) -> Iterator[Metric]:
        totals = reading.totals
        alerts = GaugeMetricFamily(
            "ctwatch_alerts",
            "Alerts in the outbox by destination kind and state.",
            labels=["destination_kind", "state"],
        )
        kinds = dict.fromkeys([*reading.kinds, *(kind for kind, _ in totals.alerts)])
        for kind in kinds:
            for state in dict.fromkeys([*STATES, *(s for k, s in totals.alerts if k == kind)]):
                alerts.add_metric([kind, state], totals.alerts.get((kind, state), 0))
        yield alerts
        oldest = totals.oldest_pending
        age = (reading.now - parse_iso(oldest)).total_seconds() if oldest else 0.0
        yield _gauge(
            "ctwatch_oldest_pending_alert_age_seconds",
            "Age of the oldest alert not yet sent (0: none pending).",
            max(age, 0.0),
        )
        if totals.last_success is not None:
            yield _gauge(
                "ctwatch_last_successful_cycle_timestamp_seconds",
                "When the newest cycle that did not fail finished (Unix time).",
                parse_iso(totals.last_success).timestamp(),
            )
        yield CounterMetricFamily(
            "ctwatch_digests_sent",
            "Digest messages sent (scheduled digests, ends of quiet hours).",
            value=totals.digests_sent,
        )
        yield _gauge(
            "ctwatch_alerts_waiting",
            "Alerts held for a digest or for the end of quiet hours.",
            totals.waiting,
        )
        yield _gauge(
            "ctwatch_mutes_active",
            "Trials muted in a Slack channel right now.",
            totals.active_mutes,
        )
        if reading.socket_mode_configured:
            connection = reading.socket_mode
            yield _gauge(
                "ctwatch_slack_socket_mode_up",
                "1 while the Slack Socket Mode connection is up.",
                1 if connection is not None and connection.up else 0,
            )
        yield _gauge(
            "ctwatch_backfill_queue_trials",
            "Trials whose registry history the daemon still has to import.",
            reading.backfill_queued,
        )


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, value=value)


def registry(read: Callable[[], Reading]) -> CollectorRegistry:
    """A registry of its own holding only the store collector."""
    own = CollectorRegistry(auto_describe=False)
    own.register(StoreCollector(read))
    return own
