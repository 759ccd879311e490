"""``ctwatch status`` output: the table, JSON, CSV or TSV, streamed at any size.

Why streamed: the watch list may be the whole registry. Trials come from
:class:`~watcher.store.overview.Overview` a thousand at a time and are
written as they come, in every format, so memory and time follow what is
printed. On a terminal a long list shows what matters first - trials with a
problem, then the most recently changed - up to a screenful, and counts the
rest (``--all`` lists every trial in config order). A file or pipe gets the
whole table up to :data:`PIPE_LISTS_UP_TO` trials and the same summary
beyond. Searches follow the trials: members, last check, last event, and a
search refused for matching more than its ``max_trials``. Every error text
passes the secret mask.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal, TextIO

from watcher.alerts.routing import Follow
from watcher.alerts.search_routes import SearchSpec
from watcher.cli.digest import schedule_line
from watcher.cli.output import subscription_groups
from watcher.cli.pipe import widen_pipe
from watcher.cli.table import DEFAULT_WIDTH, header, layout, renderer, status_text
from watcher.core.text import counted, terminal_safe
from watcher.store import SearchState, Store
from watcher.store.overview import Order, StatusFilter, StatusRow, StatusSummary
from watcher.timeutil import iso, utc_now

Format = Literal["table", "json", "csv", "tsv"]
PIPE_LISTS_UP_TO = 100_000
"""To a file or pipe, a list up to this long is written whole without ``--all`` (about
a second of rows); a longer one, a whole-registry watch, is summarised as on a terminal:
580,000 rows take several seconds that ``ctwatch status > file`` rarely wants."""
RECENT = timedelta(days=7)
"""On a terminal, a change this recent makes a trial worth showing first."""
MAX_PROBLEM_LINES = 20
COLUMNS = (
    "nct_id", "title", "overall_status", "last_update_posted",
    "last_checked_at", "last_changed_at", "last_error",
)  # fmt: skip


@dataclass(frozen=True)
class StatusOptions:
    """What to show and how."""

    where: StatusFilter = field(default_factory=StatusFilter)
    fmt: Format = "table"
    show_all: bool = True
    """False without ``--all``: a long list is summarised, then what matters first."""
    width: int = DEFAULT_WIDTH
    height: int = 0
    """The terminal's height (24 off a terminal unless ``LINES`` says): a summary's
    screenful."""
    listed_up_to: int = 0
    """Without ``--all``, a list this long or shorter is printed whole (0: a screenful)."""


@dataclass
class StatusWriter:
    """Writes the status of ``watched`` from ``store`` to ``out``."""

    store: Store
    watched: Sequence[str]
    out: TextIO
    follows: Sequence[Follow] = ()
    mask: Callable[[str], str] = str
    searches: Sequence[SearchSpec] = ()
    digests: Sequence[dict[str, Any]] = ()
    """Destinations with a digest or quiet hours (:func:`watcher.cli.digest.schedule_rows`)."""
    only: frozenset[str] | None = None
    """``--watch``: every section keeps to these trials (None: all)."""
    _problems_only: bool = field(default=False, init=False)

    def write(self, options: StatusOptions) -> None:
        widen_pipe(self.out)  # a whole registry's rows, with fewer turns for the reader
        self._problems_only = options.where.problems_only
        if self.only is not None or options.where.problems_only:
            self._narrow(options.where.problems_only)
        if options.fmt == "json":
            self._json(options)
        elif options.fmt in ("csv", "tsv"):
            self._delimited(options, "," if options.fmt == "csv" else "\t")
        else:
            self._table(options)

    def _narrow(self, problems_only: bool) -> None:
        """``--watch`` and ``--problems`` filter every section, not only the table."""
        if self.only is not None:
            self.follows = [f for f in self.follows if f.nct_id in self.only]
            self.searches = []
        if problems_only:
            self.follows = []
            states = self.store.searches.states([s.name for s in self.searches])
            self.searches = [
                s
                for s in self.searches
                if (state := states.get(s.name)) is not None
                and (state.last_error or state.over_count is not None)
            ]

    def _in_scope(self, nct_id: str | None) -> bool:
        return self.only is None or nct_id in self.only

    # ---- the trials ------------------------------------------------------------

    def _rows(
        self, options: StatusOptions, limit: int | None = None, order: Order = "listed"
    ) -> Iterator[StatusRow]:
        last = self.store.runs.last(complete=True)
        rows = self.store.overview.rows(
            self.watched,
            options.where,
            swept=last.finished_at if last else None,
            order=order,
            limit=limit,
        )
        for row in rows:
            yield replace(row, last_error=self.mask(row.last_error)) if row.last_error else row

    def _json(self, options: StatusOptions) -> None:
        write = self.out.write
        write('{\n"last_cycle": ' + json.dumps(self._last_cycle(), ensure_ascii=False))
        self.out.flush()  # the first lines go out before any row is read
        write(',\n"trials": [')
        last = self.store.runs.last(complete=True)
        rows = self.store.overview.json_rows(
            self.watched, options.where, swept=last.finished_at if last else None
        )
        separator = "\n  "
        for batch in rows:  # a thousand objects, one write
            texts = [made if not error else self._masked(made, error) for made, error in batch]
            write(separator + ",\n  ".join(texts))
            separator = ",\n  "
        write("\n],\n")
        rest = {
            "searches": self._searches(),
            "subscriptions": subscription_groups(self.follows),
            "alerts": self.store.outbox.counts(),
            "alert_problems": self._alert_problems(),
            "mutes": self._mutes(),
            "digests": list(self.digests),
        }
        tail = json.dumps(rest, ensure_ascii=False, indent=2)
        write(tail.removeprefix("{\n") + "\n")  # the object's other keys, then its "}"

    def _masked(self, made: str, error: str) -> str:
        """A trial's JSON with its error through the secret mask, like every error text."""
        row = json.loads(made)
        row["last_error"] = self.mask(error)
        return json.dumps(row, ensure_ascii=False)

    def _delimited(self, options: StatusOptions, delimiter: str) -> None:
        if delimiter == ",":
            writer = csv.writer(self.out, lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in self._rows(options):
                writer.writerow([terminal_safe(_cell(getattr(row, name))) for name in COLUMNS])
            return
        self.out.write("\t".join(COLUMNS) + "\n")
        for row in self._rows(options):
            cells = (" ".join(terminal_safe(_cell(getattr(row, name))).split()) for name in COLUMNS)
            self.out.write("\t".join(cells) + "\n")

    def _table(self, options: StatusOptions) -> None:
        recent = iso(utc_now() - RECENT)
        say = self._say
        room = max(options.height - 12, 10)
        fits = max(options.listed_up_to, room)
        summarise = not options.show_all and len(self.watched) > fits
        if summarise:  # the first line before any query: a long list answers at once
            say(f"{len(self.watched):,} trials watched")
            self.out.flush()
        summary = self.store.overview.summary(self.watched, options.where, recent=recent)
        if not summary.total:
            say("No trials to show." if options.where == StatusFilter() else "No trial matches.")
        else:
            limit = None  # the whole list, or every match that fits a file
            if summarise:  # the counts take some of the screen
                counted_lines = self._counts(summary, options)
                if summary.total > options.listed_up_to:
                    limit = max(room - counted_lines, 5)
            columns = layout(summary, options.width)
            say(header(columns))
            self.out.flush()
            shown = problems = changed = 0
            render, write = renderer(columns, options.width), self.out.write
            order: Order = "priority" if summarise else "listed"  # as the counts promise
            for row in self._rows(options, limit, order):
                shown += 1
                problems += row.problem
                changed += bool(row.last_changed_at and row.last_changed_at >= recent)
                write(render(row) + "\n")  # terminal-safe already
            if shown < summary.total:
                say(
                    _more(
                        summary.total - shown, summary.problems - problems, summary.recent - changed
                    )
                )
        self._footer()

    def _counts(self, summary: StatusSummary, options: StatusOptions) -> int:
        """A summarised list: its counts by status (problems first) before the trials
        that matter most; how many lines they took."""
        out = []
        if options.where != StatusFilter():
            out.append(f"{summary.total:,} match")
        if summary.problems:
            out.append(f"{summary.problems:,} with problems (listed first below)")
        if summary.recent:
            out.append(f"{summary.recent:,} changed in the last {RECENT.days} days")
        out.append("By status:")
        for status, count, problems in summary.by_status:
            name = status_text(status) if status else "not checked yet"
            trouble = f" ({problems:,} with problems)" if problems else ""
            out.append(f"  {count:>9,}  {name}{trouble}")
        out.append("")
        for line in out:
            self._say(line)
        return len(out)

    # ---- below the table ---------------------------------------------------------

    def _say(self, text: str = "") -> None:
        self.out.write(terminal_safe(text) + "\n")

    def _footer(self) -> None:
        say = self._say
        cycle = self._last_cycle()
        if cycle is not None and not (self._problems_only and not cycle["error"]):
            outcome = f"FAILED: {cycle['error']}" if cycle["error"] else f"ok ({cycle['mode']})"
            requests = counted(cycle["requests"], "registry request")
            say(f"\nLast cycle: {cycle['finished_at']}, {requests}, {outcome}")
        searches = self._searches()
        if searches:
            say("Searches")
            for search in searches:
                say(f"  {_search_line(search)}")
        groups = subscription_groups(self.follows)
        if groups:
            say("Slack channels (ctwatch status --json lists each trial)")
            for group in groups:
                say(f"  {_channel_line(group)}")
        mutes = self._mutes()
        if mutes:
            say("Muted (no alerts in that Slack channel until the date shown)")
            for mute in mutes:
                channel = f"#{mute['channel_name']}" if mute["channel_name"] else mute["channel_id"]
                who = f" (by {mute['user_id']})" if mute["user_id"] else ""
                say(f"  {mute['nct_id']} in {channel} until {mute['until']}{who}")
        if self.digests:
            say("Digests and quiet hours")
            for row in self.digests:
                say(f"  {schedule_line(row)}")
        counts = self.store.outbox.counts()
        muted = f", {counts['muted']} muted" if counts.get("muted") else ""
        say(
            f"Alerts: {counts['sent']} sent, {counts['pending']} pending, "
            f"{counts['failed']} failed{muted}"
        )
        problems = self._alert_problems()
        for alert in problems[:MAX_PROBLEM_LINES]:
            state = (
                "FAILED" if alert["status"] == "failed" else f"retry at {alert['next_attempt_at']}"
            )
            say(f"  {alert['nct_id']} → {alert['destination']}: {state}: {alert['error']}")
        if len(problems) > MAX_PROBLEM_LINES:
            say(f"  … and {len(problems) - MAX_PROBLEM_LINES} more: ctwatch outbox lists them all")

    def _searches(self) -> list[dict[str, Any]]:
        """Each search with what its last check found (``--json`` key ``searches``)."""
        states = self.store.searches.states([s.name for s in self.searches])
        out = []
        for spec in self.searches:
            state = states.get(spec.name) or SearchState(spec.name, spec.query.fingerprint)
            out.append(
                {
                    "name": spec.name,
                    "source": spec.source,
                    "follow": spec.follow,
                    "query": spec.query.mapping,
                    "members": state.members if state.baseline_at is not None else 0,
                    "baseline_at": state.baseline_at,
                    "max_trials": spec.max_trials,
                    "over_max_trials": state.over_count,
                    "last_check": state.last_check_at,
                    "last_event": state.last_event_at,
                    "error": self.mask(state.last_error) if state.last_error else None,
                    "destinations": [d.describe() for d in spec.destinations],
                }
            )
        return out

    def _mutes(self) -> list[dict[str, Any]]:
        """Mutes set from alert buttons that still hold."""
        if self._problems_only:
            return []
        mutes = self.store.mutes.active(iso(utc_now()))
        return [asdict(m) for m in mutes if self._in_scope(m.nct_id)]

    def _last_cycle(self) -> dict[str, Any] | None:
        newest = self.store.runs.last()
        if newest is None:
            return None
        return {
            "finished_at": newest.finished_at,
            "mode": newest.mode,
            "requests": newest.requests,
            "error": self.mask(newest.error) if newest.error else None,
        }

    def _alert_problems(self) -> list[dict[str, Any]]:
        return [
            {
                "nct_id": p.nct_id,
                "destination": p.destination.describe(),
                "status": p.status,
                "attempts": p.attempts,
                "error": self.mask(p.last_error) if p.last_error else None,
                "next_attempt_at": p.next_attempt_at if p.status == "pending" else None,
            }
            for p in self.store.outbox.problems()
            if self._in_scope(p.nct_id)
        ]


def _channel_line(group: dict[str, Any]) -> str:
    """``#trial-alerts (C0123): 304 trials: 300 from watch “rectal”, 4 added in Slack``."""
    channel_id = group["channel_id"]
    name = group["channel"] + (
        f" ({channel_id})" if channel_id and channel_id != group["channel"] else ""
    )
    trials = group["trials"]
    watches: dict[str, int] = {}
    slack = 0
    for entry in trials:
        if entry["source"] == "slack":
            slack += 1
        else:
            watches[entry.get("watch") or "?"] = watches.get(entry.get("watch") or "?", 0) + 1
    parts = [f"{count:,} from watch “{watch}”" for watch, count in watches.items()]
    if slack:
        parts.append(f"{slack:,} added in Slack")
    distinct = len({entry["nct_id"] for entry in trials})
    return f"{name}: {counted(distinct, 'trial')}: {', '.join(parts)}"


def _search_line(search: dict[str, Any]) -> str:
    """``rectal-io (config, follow): 37 trials · last check … · last event …`` or its trouble."""
    tags = ", ".join([search["source"], *(["follow"] if search["follow"] else [])])
    if search["last_check"] is None:
        return f"{search['name']} ({tags}): not checked yet"
    over = search["over_max_trials"]
    if over is not None:
        limit = search["max_trials"]
        state = f"OVER max_trials: {over:,} trials match (max {limit:,}); not followed"
    elif search["baseline_at"] is None:
        state = "members not recorded yet"
    else:
        state = f"{search['members']:,} trial{'s' if search['members'] != 1 else ''}"
    parts = [state, f"last check {search['last_check']}"]
    parts.append(f"last event {search['last_event'] or 'none yet'}")
    if search["error"]:
        parts.append(f"last check FAILED: {search['error']}")
    return f"{search['name']} ({tags}): " + " · ".join(parts)


def _cell(value: str | None) -> str:
    """A spreadsheet cell that is only ever text: record text starting like a formula
    (``=``, ``+``, ``-``, ``@``) gets a leading ``'``, so opening the file runs nothing."""
    text = value or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _more(rest: int, problems: int, recent: int) -> str:
    """``… 9,990 more trials (2 with problems): ctwatch status --all lists every trial``."""
    notes = []
    if problems:
        notes.append(f"{problems:,} with problems")
    if recent:
        notes.append(f"{recent:,} changed in the last {RECENT.days} days")
    detail = f" ({', '.join(notes)})" if notes else " (no problems, no recent changes)"
    trials = f"{rest:,} more trial{'s' if rest != 1 else ''}"
    return f"… {trials}{detail}: ctwatch status --all lists every trial"
