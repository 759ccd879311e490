"""What the commands say: the summary line, ``check --json``, subscription groups.

Why a module apart from the commands: ``ctwatch demo`` shows the same summary,
and ``status`` (:mod:`watcher.cli.status`) the same subscription groups. The
functions here build text and values; printing stays with the commands.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from watcher.core.destination import Destination
from watcher.core.render import Alert, change_lines

if TYPE_CHECKING:
    from watcher.alerts.delivery import DeliveryReport
    from watcher.alerts.routing import Follow
    from watcher.cycle.report import CycleReport
    from watcher.store import TrialRow


LISTED_IDS = 3
"""NCT IDs named after a count in the summary; the rest are counted."""


def summary_line(report: CycleReport, delivery: DeliveryReport, width: int | None = None) -> str:
    """``checked 3 · changed 1 · new 0 · not found 1 (NCT…) · errors 0 · alerts sent 1``.

    "new" is a trial seen for the first time (recorded silently); a search's
    trials posted since its last check are "newly posted". A cycle that failed
    never reads "errors 0". With ``width`` (a terminal's), wrapped between parts
    to fit; piped or logged, one line.
    """
    failed = report.registry_down or report.failure is not None
    errors = f"errors {len(report.errors)}" + _listed(sorted(report.errors))
    parts = [
        f"checked {report.checked}",
        f"changed {len(report.changed)}",
        f"new {len(report.new)}",
        f"not found {len(report.not_found)}" + _listed(report.not_found),
        "cycle failed" if failed and not report.errors else errors,
        f"alerts sent {delivery.sent}",
    ]
    parts[5:5] = search_parts(report)
    if delivery.retrying:
        parts.append(f"alerts pending {delivery.retrying}")
    if delivery.failed:
        parts.append(f"alerts failed {delivery.failed}")
    return " · ".join(parts) if width is None else wrapped(parts, width)


def _listed(ids: Sequence[str]) -> str:
    if not ids:
        return ""
    shown = ", ".join(ids[:LISTED_IDS])
    more = f" +{len(ids) - LISTED_IDS} more" if len(ids) > LISTED_IDS else ""
    return f" ({shown}{more})"


def wrapped(parts: Sequence[str], width: int) -> str:
    """Parts joined with `` · ``, a new line (indented) before a part that would pass
    ``width``."""
    lines: list[str] = []
    line = ""
    for part in parts:
        candidate = f"{line} · {part}" if line else part
        if line and len(candidate) > width:
            lines.append(line + " ·")
            line = "  " + part
        else:
            line = candidate
    lines.append(line)
    return "\n".join(lines)


def search_parts(report: CycleReport) -> list[str]:
    """``searches 2 (1 new, 0 now matching, 1 no longer matching)`` and, when any, the
    searches over ``max_trials`` and those that failed, each named."""
    if not report.searches:
        return []
    counts = (
        f"{report.search_count('new')} newly posted, {report.search_count('matches')} now "
        f"matching, {report.search_count('left')} no longer matching"
    )
    parts = [f"searches {report.searches} ({counts})"]
    if report.searches_over:
        over = ", ".join(f"{name} ({count:,})" for name, count in report.searches_over.items())
        parts.append(f"over max_trials: {over}")
    if report.search_errors:
        parts.append(
            f"search errors {len(report.search_errors)}{_listed(list(report.search_errors))}"
        )
    return parts


def check_json(
    report: CycleReport,
    delivery: DeliveryReport,
    produced: Sequence[tuple[Alert, Destination, str]],
    mask: Callable[[str], str],
) -> dict[str, Any]:
    """``ctwatch check --json``: the cycle's counts, the alerts it produced, its errors."""
    return {
        "ok": report.error is None
        and not report.errors
        and not report.search_errors
        and not delivery.failed,
        "mode": report.mode,
        "requests": report.requests,
        "counts": {
            "checked": report.checked,
            "changed": len(report.changed),
            "new": len(report.new),
            "not_found": len(report.not_found),
            "errors": len(report.errors),
            "alerts_sent": delivery.sent,
            "alerts_pending": delivery.retrying,
            "alerts_failed": delivery.failed,
        },
        "changed": report.changed,
        "new": report.new,
        "searches": {
            "checked": report.searches_checked,
            "events": [
                {"search": search, "event": kind, "nct_id": nct}
                for search, kind, nct in report.search_events
            ],
            "over_max_trials": report.searches_over,
            "errors": {name: mask(text) for name, text in report.search_errors.items()},
        },
        "not_found": report.not_found,
        "errors": {nct: mask(text) for nct, text in report.errors.items()},
        "cycle_error": mask(report.error) if report.error else None,
        "delivery_errors": [mask(text) for text in delivery.errors],
        "alerts": [
            {
                "nct_id": alert.nct_id or None,
                "title": alert.title or None,
                "destination": destination.describe(),
                "status": status,
                "headline": alert.headline,
                "changes": [line.text() for line in change_lines(alert.changes)],
            }
            for alert, destination, status in produced
        ],
    }


def no_versions_reason(nct: str, rows: Sequence[TrialRow], watched: bool) -> str:
    """Why a trial has no recorded version, in the words a user can act on."""
    row = rows[0] if rows else None
    if row is not None and row.not_found:
        return f"{nct} was not found in the registry (last checked {row.last_checked_at})"
    if not watched:
        return (
            f"{nct} is not watched (add it: ctwatch add {nct} --watch NAME; "
            f"ctwatch backfill {nct} imports its registry history)"
        )
    if row is not None and row.last_error:
        return f"no version of {nct} recorded yet: its last check failed ({row.last_error})"
    return (
        f"no version of {nct} recorded yet (the next check records its baseline; "
        f"`ctwatch backfill {nct}` imports its registry history)"
    )


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
