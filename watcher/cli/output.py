"""What the commands show: the summary line and the status view.

Why a module apart from the commands: ``ctwatch demo`` shows the same summary
and table, and tests read the same data as JSON. Functions here write to a
stream they are given; choosing the stream stays with the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from watcher.alerts.delivery import DeliveryReport
from watcher.alerts.routing import Follow
from watcher.cycle.report import CycleReport
from watcher.store import TrialRow


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


def no_versions_reason(nct: str, rows: Sequence[TrialRow], watched: bool) -> str:
    """Why a trial has no recorded version, in the words a user can act on."""
    row = rows[0] if rows else None
    if row is not None and row.not_found:
        return f"{nct} was not found in the registry (last checked {row.last_checked_at})"
    if not watched:
        return f"{nct} is not watched (add it: ctwatch add {nct} --watch NAME)"
    if row is not None and row.last_error:
        return f"no version of {nct} recorded yet: its last check failed ({row.last_error})"
    return f"no version of {nct} recorded yet (the next check records its baseline)"


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
