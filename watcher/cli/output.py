"""What the commands show: the summary line and the status view.

Why a module apart from the commands: ``ctwatch demo`` shows the same summary
and table, and tests read the same data as JSON. Functions here write to a
stream they are given; choosing the stream stays with the caller.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table
from rich.text import Text

from watcher.alerts.delivery import DeliveryReport
from watcher.alerts.routing import Follow
from watcher.core.describe import STATUS_PATH, display_value
from watcher.cycle.report import CycleReport
from watcher.redact import redact
from watcher.store import Store
from watcher.timeutil import iso, utc_now


def summary_line(report: CycleReport, delivery: DeliveryReport) -> str:
    """``checked 3 · changed 1 · new 0 · not found 1 (NCT…) · errors 0 · alerts sent 1``."""
    parts = [
        f"checked {report.checked}",
        f"changed {len(report.changed)}",
        f"new {len(report.new)}",
        f"not found {len(report.not_found)}"
        + (f" ({', '.join(report.not_found)})" if report.not_found else ""),
        f"errors {len(report.errors)}"
        + (f" ({', '.join(sorted(report.errors))})" if report.errors else ""),
        f"alerts sent {delivery.sent}",
    ]
    if delivery.retrying:
        parts.append(f"alerts pending {delivery.retrying}")
    if delivery.failed:
        parts.append(f"alerts failed {delivery.failed}")
    return " · ".join(parts)


@dataclass(frozen=True)
class StatusView:
    """The rows of ``ctwatch status`` and the alert problems below them."""

    trials: list[dict[str, Any]]
    alerts: dict[str, int]
    problems: list[dict[str, Any]]
    subscriptions: list[dict[str, Any]]
    last_cycle: dict[str, Any] | None = None
    mutes: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "last_cycle": self.last_cycle,
            "trials": self.trials,
            "subscriptions": self.subscriptions,
            "alerts": self.alerts,
            "alert_problems": self.problems,
            "mutes": self.mutes,
        }


def subscription_groups(follows: Sequence[Follow]) -> list[dict[str, Any]]:
    """Slack channel -> the trials it follows, each with its source (config or Slack)."""
    groups: dict[str, dict[str, Any]] = {}
    for follow in follows:
        group = groups.setdefault(
            follow.channel, {"channel": follow.channel, "channel_id": None, "trials": []}
        )
        entry: dict[str, Any] = {"nct_id": follow.nct_id, "source": follow.source}
        sub = follow.subscription
        if sub is None:
            entry["watch"] = follow.watch
        else:
            group["channel_id"] = group["channel_id"] or sub.channel_id
            entry.update(user_id=sub.user_id, created_at=sub.created_at)
        entry["via"] = follow.describe_source()
        group["trials"].append(entry)
    return list(groups.values())


def status_view(
    watched: Sequence[str],
    store: Store,
    follows: Sequence[Follow] = (),
    mask: Callable[[str], str] = redact,
) -> StatusView:
    """Watched trials (never-checked ones too), Slack subscriptions, and alert problems.

    ``watched`` is the config's trials in config order, then subscribed ones;
    ``follows`` lists which Slack channel follows which trial and why. Every
    error text passes ``mask`` (rows written by an older ctwatch were not masked).
    """
    rows = {r.nct_id: r for r in store.versions.trials()}
    last = store.runs.last(complete=True)
    # a complete cycle checked every watched trial, even those it did not re-fetch
    swept = (last.finished_at or "") if last else ""
    trials = []
    for nct in watched:
        row = rows.get(nct)
        checked = max(row.last_checked_at or "", swept) if row else None
        trials.append(
            {
                "nct_id": nct,
                "title": row.title if row else None,
                "overall_status": row.overall_status if row else None,
                "last_update_posted": row.last_update_posted if row else None,
                "last_checked_at": checked or None,
                "last_changed_at": row.last_changed_at if row else None,
                "last_error": mask(row.last_error) if row and row.last_error else None,
            }
        )
    problems = [
        {
            "nct_id": p.nct_id,
            "destination": p.destination.describe(),
            "status": p.status,
            "attempts": p.attempts,
            "error": mask(p.last_error) if p.last_error else None,
            "next_attempt_at": p.next_attempt_at if p.status == "pending" else None,
        }
        for p in store.outbox.problems()
    ]
    newest = store.runs.last()
    last_cycle = None
    if newest is not None:
        last_cycle = {
            "finished_at": newest.finished_at,
            "mode": newest.mode,
            "requests": newest.requests,
            "error": mask(newest.error) if newest.error else None,
        }
    mutes = [asdict(m) for m in store.mutes.active(iso(utc_now()))]
    return StatusView(
        trials, store.outbox.counts(), problems, subscription_groups(follows), last_cycle, mutes
    )


def print_status(view: StatusView, stream: TextIO) -> None:
    """The status table (rich) and the alert summary."""
    wide = stream.isatty() if stream is sys.stdout else False
    console = Console(file=stream, width=None if wide else 160)
    table = Table(title="ctwatch status", title_justify="left")
    columns = (
        "NCT ID", "Title", "Overall Status", "Last Update Posted",
        "Last Checked", "Last Change", "Last Error",
    )  # fmt: skip
    for name in columns:
        table.add_column(name, overflow="fold")
    for row in view.trials:
        status_text = row["overall_status"] and display_value(STATUS_PATH, row["overall_status"])
        cells = (
            row["nct_id"],
            (row["title"] or "")[:60],
            status_text or "—",
            row["last_update_posted"] or "—",
            row["last_checked_at"] or "never",
            row["last_changed_at"] or "—",
            row["last_error"] or "",
        )
        table.add_row(*(Text(cell) for cell in cells))  # record text is never rich markup
    console.print(table)
    cycle = view.last_cycle
    if cycle is not None:
        outcome = f"FAILED: {cycle['error']}" if cycle["error"] else f"ok ({cycle['mode']})"
        requests = f"{cycle['requests']} registry request(s)"
        line = f"Last cycle: {cycle['finished_at']}, {requests}, {outcome}"
        console.print(line, markup=False, highlight=False)
    if view.subscriptions:
        console.print("Subscriptions (Slack channels)")
        for group in view.subscriptions:
            channel_id = group["channel_id"]
            suffix = f" ({channel_id})" if channel_id and channel_id != group["channel"] else ""
            console.print(f"  {group['channel']}{suffix}", markup=False, highlight=False)
            for entry in group["trials"]:
                line = f"    {entry['nct_id']}  {entry['via']}"
                console.print(line, markup=False, highlight=False)
    if view.mutes:
        console.print("Muted (no alerts in that Slack channel until the date shown)")
        for mute in view.mutes:
            channel = f"#{mute['channel_name']}" if mute["channel_name"] else mute["channel_id"]
            who = f" (by {mute['user_id']})" if mute["user_id"] else ""
            line = f"  {mute['nct_id']} in {channel} until {mute['until']}{who}"
            console.print(line, markup=False, highlight=False)
    counts = view.alerts
    muted = f", {counts['muted']} muted" if counts.get("muted") else ""
    console.print(
        f"Alerts: {counts['sent']} sent, {counts['pending']} pending, {counts['failed']} failed"
        + muted
    )
    for alert in view.problems:
        state = "FAILED" if alert["status"] == "failed" else f"retry at {alert['next_attempt_at']}"
        line = f"  {alert['nct_id']} → {alert['destination']}: {state}: {alert['error']}"
        console.print(line, markup=False, highlight=False)
