"""What ``/ctwatch`` does: parse a command, act on the store, word the reply.

Why apart from the HTTP endpoint (:mod:`watcher.slash`): the endpoint's job is
trust (signatures, sizes, time limits); this module's is meaning. Slack gives
a slash command three seconds, so :meth:`Commands.handle` answers at once from
the store, and hands back the one slow step - asking the registry whether the
trials of a ``watch`` exist, or how many trials a search matches - as ``later``
work whose reply the endpoint posts to ``response_url``. Searches (``watch
<search URL>``, ``unwatch <name>``) are worded by :mod:`watcher.slack.search_commands`.

Everything a user typed or a sponsor wrote is escaped before it reaches Slack,
so neither can ping ``@channel`` or forge a link. Subscriptions live in the
database; the config file's watches are shown next to them but never changed
from Slack.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal

from watcher.alerts.routing import Follow, channel_follows, same_channel
from watcher.config import Config, normalise_nct_id
from watcher.config.types import is_slack_channel_id
from watcher.core import record as rec
from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.events.model import LEVEL_NAMES, check_patterns
from watcher.core.render import change_lines
from watcher.core.text import counted, truncate
from watcher.registry.client import FetchResult
from watcher.slack.blocks import MAX_TEXT, escape
from watcher.slack.search_commands import SearchCommands, SearchPreviewer, about_a_search
from watcher.slack.timing_commands import TimingCommands, TimingRequest
from watcher.store import Store, Subscription
from watcher.timeutil import Clock, iso, utc_now

LOOKUP_FIELDS = ("NCTId", "BriefTitle", "OverallStatus")
MAX_IDS = 20
MAX_LISTED = 50
MAX_CHANGE_LINES = 5
_USER_ID_RE = re.compile(r"^[UW][A-Z0-9]+$")

Lookup = Callable[[Sequence[str]], FetchResult]
"""Fetch trials from the registry (with ``fields=LOOKUP_FIELDS``)."""


class BadRequest(ValueError):
    """A form that is not a slash command; the message is safe to answer with."""


@dataclass(frozen=True)
class CommandRequest:
    """The fields of Slack's slash-command form that ctwatch uses."""

    command: str
    text: str
    channel_id: str
    channel_name: str = ""
    user_id: str = ""
    team_id: str = ""
    response_url: str = ""

    @classmethod
    def from_form(cls, form: Mapping[str, str]) -> CommandRequest:
        """From the decoded form; BadRequest when ``command`` or ``channel_id`` is missing."""
        for key in ("command", "channel_id"):
            if not form.get(key):
                raise BadRequest(f"missing {key}")
        return cls(
            command=form["command"],
            text=form.get("text", ""),
            channel_id=form["channel_id"],
            channel_name=form.get("channel_name", ""),
            user_id=form.get("user_id", ""),
            team_id=form.get("team_id", ""),
            response_url=form.get("response_url", ""),
        )


@dataclass(frozen=True)
class Reply:
    """A message for the person who typed the command (ephemeral by default)."""

    text: str
    response_type: Literal["ephemeral", "in_channel"] = "ephemeral"

    def payload(self) -> dict[str, Any]:
        return {"response_type": self.response_type, "text": truncate(self.text, MAX_TEXT)}


@dataclass(frozen=True)
class Answer:
    """The reply due within three seconds, and slow work whose reply comes later."""

    reply: Reply
    later: Callable[[], Reply] | None = None


@dataclass(frozen=True)
class Commands:
    """The ``/ctwatch`` commands against one config, store and registry lookup."""

    config: Config
    store: Store
    lookup: Lookup
    clock: Clock = utc_now
    preview: SearchPreviewer | None = None
    """Asks the registry for a search's count (``watch <search URL>``)."""

    def handle(self, request: CommandRequest) -> Answer:
        """Answer one command; never raises on bad input (the user gets told why)."""
        verb, rest = split_command(request.text)
        name = escape(request.command or "/ctwatch")
        if verb in ("", "help"):
            return Answer(Reply(help_text(name)))
        if verb in ("digest", "quiet"):
            return Answer(self._timing(name, verb, rest, request))
        if verb not in ("watch", "unwatch", "status", "list"):
            shown = escape(truncate(verb, 40))
            return Answer(Reply(f"I don't know the command `{shown}`.\n\n" + help_text(name)))
        if verb == "list":
            return Answer(self.channel_list(request))
        if verb in ("watch", "unwatch") and about_a_search(verb, rest):
            return self._search(name, verb, request, rest)
        wanted = TrialFilter()
        if verb == "watch":
            rest, wanted, trouble = split_filter(rest)
            if trouble is not None:
                return Answer(Reply(escape(trouble)))
        ids, bad = parse_ids(rest)
        problem = _id_problem(name, verb, ids, bad)
        if problem is not None:
            return Answer(Reply(problem))
        if verb == "status":
            return Answer(self.status(ids))
        refusal = self._refusal(name, verb, request)
        if refusal is not None:
            return Answer(refusal)
        if verb == "unwatch":
            return Answer(self.unwatch(request, ids))
        checking = f"Checking {', '.join(ids)} in the registry…"
        return Answer(Reply(checking), later=partial(self.watch, request, ids, wanted))

    def _timing(self, name: str, verb: str, rest: str, request: CommandRequest) -> Reply:
        """``digest …``/``quiet …`` (see :mod:`watcher.slack.timing_commands`); showing the
        current setting works everywhere, changing it where subscriptions may change."""
        if rest.strip():
            refusal = self._refusal(name, verb, request)
            if refusal is not None:
                return refusal
        commands = TimingCommands(self.store, self.config.schedule.timezone, self.clock)
        where = TimingRequest(
            request.channel_id, request.channel_name, request.team_id, request.user_id
        )
        return Reply(commands.handle(name, verb, rest, where))

    def _search(self, name: str, verb: str, request: CommandRequest, rest: str) -> Answer:
        """``watch``/``unwatch`` of a search (see :mod:`watcher.slack.search_commands`)."""
        refusal = self._refusal(name, verb, request)
        if refusal is not None:
            return Answer(refusal)
        searches = self._searching(request)
        if verb == "unwatch":
            return Answer(Reply(searches.unwatch(request, rest)))
        text, later = searches.watch(request, rest)
        return Answer(Reply(text), later=None if later is None else lambda: Reply(later()))

    # ---- the commands --------------------------------------------------------

    def watch(
        self, request: CommandRequest, ids: Sequence[str], wanted: TrialFilter | None = None
    ) -> Reply:
        """Subscribe this channel to the IDs the registry knows (the slow part); ``wanted``:
        ``min_level=`` / ``events=`` given with the command (they replace earlier ones)."""
        wanted = wanted or TrialFilter()
        result = self.lookup(ids)
        now = iso(self.clock())
        subs = [
            Subscription(
                channel_id=request.channel_id,
                nct_id=nct,
                channel_name=request.channel_name or None,
                team_id=request.team_id or None,
                user_id=request.user_id or None,
                created_at=now,
                min_level=wanted.min_level,
                events=wanted.events,
            )
            for nct in ids
            if nct in result.records
        ]
        added = set(self.store.subscriptions.add(subs))
        in_config = self._config_watches(request)
        lines = []
        for nct in ids:
            record = result.records.get(nct)
            if record is not None:
                state = "now watched in this channel" if nct in added else "already watched here"
                state += wanted.words()
                also = in_config.get(nct)
                if also:
                    state += f" (also by the config file: {_names(also)})"
                trial = _trial(nct, rec.title(record), rec.overall_status(record))
                lines.append(f"• {trial} — {state}")
            elif nct in result.failed:
                reason = escape(truncate(result.failed[nct], 200))
                lines.append(f"• *{nct}*: the registry could not be read ({reason}); try again")
            else:
                lines.append(f"• *{nct}*: not found in the registry; not subscribed")
        if added:
            lines.append(
                "_A trial new to ctwatch gets a silent baseline at the next check; alerts "
                "follow its next change. The ctwatch app must be a member of this channel "
                "to post them._"
            )
        return Reply("\n".join(lines))

    def unwatch(self, request: CommandRequest, ids: Sequence[str]) -> Reply:
        """Remove this channel's Slack subscriptions; config watches stay and are named."""
        removed = set(self.store.subscriptions.remove(request.channel_id, ids))
        in_config = self._config_watches(request)
        lines = []
        for nct in ids:
            watches = in_config.get(nct)
            if watches:
                done = "Slack subscription removed, but " if nct in removed else ""
                lines.append(
                    f"• *{nct}*: {done}the config file watches it here ({_names(watches)}); "
                    "Slack cannot remove that. Ask whoever runs ctwatch to remove it from "
                    "the config file."
                )
            elif nct in removed:
                lines.append(f"• *{nct}*: unwatched; this channel gets no more alerts for it")
            else:
                lines.append(f"• *{nct}*: this channel was not watching it")
        return Reply("\n".join(lines))

    def channel_list(self, request: CommandRequest) -> Reply:
        """This channel's trials, each with where its subscription comes from."""
        subs = self.store.subscriptions.list(request.channel_id)
        follows = [
            f
            for f in channel_follows(self.config, subs)
            if f.in_channel(request.channel_id, request.channel_name)
        ]
        name = escape(request.command or "/ctwatch")
        search_lines = self._searching(request).lines(request)
        if search_lines:
            search_lines.insert(0, f"This channel watches {counted(len(search_lines), 'search')}:")
        if not follows:
            if search_lines:
                return Reply("\n".join(search_lines))
            return Reply(f"This channel watches no trials yet. Try `{name} watch NCT06850103`.")
        by_trial: dict[str, list[Follow]] = {}
        for follow in follows:
            by_trial.setdefault(follow.nct_id, []).append(follow)
        rows = {r.nct_id: r for r in self.store.versions.trials(list(by_trial))}
        lines = [f"This channel watches {counted(len(by_trial), 'trial')}:"]
        for nct, sources in list(by_trial.items())[:MAX_LISTED]:
            row = rows.get(nct)
            trial = _trial(nct, row.title, row.overall_status) if row else f"*{nct}* (unchecked)"
            lines.append(f"• {trial} — {'; '.join(_source(f) for f in sources)}")
        if len(by_trial) > MAX_LISTED:
            lines.append(f"…and {len(by_trial) - MAX_LISTED} more (`ctwatch status` lists all).")
        return Reply("\n".join([*lines, *search_lines]))

    def status(self, ids: Sequence[str]) -> Reply:
        """What the store knows: status, last update posted, last change seen."""
        rows = {r.nct_id: r for r in self.store.versions.trials(ids)}
        blocks = []
        for nct in ids:
            row = rows.get(nct)
            if row is None or row.last_checked_at is None:
                blocks.append(f"*{nct}*: not checked yet (watch it, and the next check records it)")
                continue
            if row.not_found and row.title is None:
                blocks.append(
                    f"*{nct}*: not found in the registry (last checked {row.last_checked_at})"
                )
                continue
            status = display_value(STATUS_PATH, row.overall_status) if row.overall_status else "—"
            lines = [
                _trial(nct, row.title, None),
                f"Overall status: {escape(status)} · Last update posted: "
                f"{escape(row.last_update_posted or '—')} · Last change seen: "
                f"{row.last_changed_at or 'none since the baseline'} · "
                f"Last checked: {row.last_checked_at}",
            ]
            lines += [f"   {escape(text)}" for text in self._last_changes(nct)]
            if row.last_error:
                lines.append(f"Last check failed: {escape(truncate(row.last_error, 300))}")
            blocks.append("\n".join(lines))
        return Reply("\n\n".join(blocks))

    # ---- helpers -----------------------------------------------------------

    def _searching(self, request: CommandRequest) -> SearchCommands:
        command = request.command or "/ctwatch"
        return SearchCommands(self.config, self.store, self.preview, self.clock, command)

    def _last_changes(self, nct: str) -> list[str]:
        lines = [line.text(200) for line in change_lines(self.store.versions.last_changes(nct))]
        shown = lines[:MAX_CHANGE_LINES]
        if len(lines) > MAX_CHANGE_LINES:
            shown.append(f"…and {len(lines) - MAX_CHANGE_LINES} more")
        return shown

    def _config_watches(self, request: CommandRequest) -> dict[str, list[str]]:
        """``nct -> config watch names`` that route to this channel."""
        out: dict[str, list[str]] = {}
        for follow in channel_follows(self.config, ()):
            if follow.watch and follow.in_channel(request.channel_id, request.channel_name):
                names = out.setdefault(follow.nct_id, [])
                if follow.watch not in names:
                    names.append(follow.watch)
        return out

    def _refusal(self, name: str, verb: str, request: CommandRequest) -> Reply | None:
        """A polite no when an allow-list exists and this channel is not on it."""
        slack = self.config.slack
        allowed = slack.commands.allowed_channels if slack and slack.commands else ()
        if not allowed or any(
            same_channel(c, request.channel_id, request.channel_name) for c in allowed
        ):
            return None
        where = ", ".join(_channel(c) for c in allowed)
        return Reply(
            f"Sorry, `{name} {verb}` is not enabled in this channel; ctwatch subscriptions "
            f"can be changed in {where}. `list`, `status` and `help` work everywhere."
        )


def split_command(text: str) -> tuple[str, str]:
    """``"Watch  NCT…"`` -> ``("watch", "NCT…")``: the verb (lower case) and the rest."""
    parts = text.split(None, 1)
    if not parts:
        return "", ""
    return parts[0].lower(), parts[1] if len(parts) > 1 else ""


@dataclass(frozen=True)
class TrialFilter:
    """``min_level=high`` and ``events=status.*,results.*`` given with ``watch``."""

    min_level: str | None = None
    events: tuple[str, ...] = ()

    def words(self) -> str:
        parts = []
        if self.min_level is not None:
            parts.append(f"events at {self.min_level} or higher")
        if self.events:
            parts.append("events " + ", ".join(f"`{escape(e)}`" for e in self.events))
        return f" ({'; '.join(parts)} only)" if parts else ""


def split_filter(text: str) -> tuple[str, TrialFilter, str | None]:
    """``"NCT0685… min_level=high"`` -> the text without options, the filter, a problem."""
    level: str | None = None
    patterns: tuple[str, ...] = ()
    kept = []
    for token in text.split():
        key, sep, value = token.partition("=")
        if not sep:
            kept.append(token)
            continue
        if key == "min_level":
            if value.lower() not in LEVEL_NAMES:
                return (
                    text,
                    TrialFilter(),
                    (f"min_level: {value!r} is not a level (use one of {', '.join(LEVEL_NAMES)})"),
                )
            level = value.lower()
        elif key == "events":
            try:
                patterns = check_patterns([p for p in value.split(",") if p])
            except ValueError as exc:
                return text, TrialFilter(), f"events: {exc}"
        else:
            return text, TrialFilter(), f"{key!r} is not an option of watch (min_level, events)"
    return " ".join(kept), TrialFilter(level, patterns), None


def parse_ids(text: str) -> tuple[list[str], list[str]]:
    """``"nct06850103, NCT0123"`` -> ``(["NCT06850103"], ["NCT0123"])``: good (once each), bad."""
    good: dict[str, None] = {}
    bad = []
    for token in re.split(r"[\s,]+", text.strip()):
        if not token:
            continue
        try:
            good[normalise_nct_id(token)] = None
        except ValueError:
            bad.append(token)
    return list(good), bad


def help_text(name: str) -> str:
    """The command reference, written for the channel's members."""
    return "\n".join(
        [
            "*ctwatch* follows ClinicalTrials.gov records and posts what changed, field by field.",
            f"• `{name} watch NCT06850103 [NCT…]` — alert this channel when these trials change",
            f"• `{name} watch NCT06850103 min_level=high events=status.*,results.*` — only "
            "changes with such events (levels: info, low, medium, high)",
            f"• `{name} watch <registry search URL>` — alert this channel about new trials and "
            "trials that start or stop matching a search on ClinicalTrials.gov",
            f"• `{name} unwatch NCT…` (or a search's name or URL) — stop (subscriptions made in "
            "Slack; the config file's watches stay)",
            f"• `{name} list` — the trials this channel watches, from the config file and Slack",
            f"• `{name} status NCT…` — overall status, last update posted, last change seen",
            f"• `{name} digest daily 08:00 [Europe/Paris]` — one summary a day (or `weekly mon "
            f"08:00`, `hourly`, a cron line); `{name} digest off` — each change at once",
            f"• `{name} quiet 20:00-08:00` — hold alerts overnight, then send them as one "
            f"message; `{name} quiet off`",
            f"• `{name} help` — this message",
        ]
    )


def _id_problem(name: str, verb: str, ids: Sequence[str], bad: Sequence[str]) -> str | None:
    if bad:
        shown = ", ".join(f"`{escape(truncate(b, 40))}`" for b in bad[:10])
        return (
            f"{shown} {'is not an NCT ID' if len(bad) == 1 else 'are not NCT IDs'}: an NCT ID "
            f"is NCT followed by 8 digits, e.g. `{name} {verb} NCT06850103`. Nothing was changed."
        )
    if not ids:
        return f"Which trial? e.g. `{name} {verb} NCT06850103`"
    if len(ids) > MAX_IDS:
        return f"That is {len(ids)} trials; please send at most {MAX_IDS} at a time."
    return None


def _trial(nct: str, title: str | None, status: str | None) -> str:
    """``*NCT…* — Title (Recruiting)`` with record text escaped."""
    text = f"*{nct}*"
    if title:
        text += f" — {escape(truncate(title, 200))}"
    if status:
        text += f" ({escape(display_value(STATUS_PATH, status))})"
    return text


def _source(follow: Follow) -> str:
    sub = follow.subscription
    if sub is None:
        return f"config file (watch “{escape(follow.watch or '')}”)"
    return f"Slack (by {mention(sub.user_id)}, {sub.created_at[:10]})"


def mention(user_id: str | None) -> str:
    """``<@U123>`` for a well-formed Slack user ID, else "someone": never raw payload text
    in a message Slack would render."""
    return f"<@{user_id}>" if user_id and _USER_ID_RE.match(user_id) else "someone"


def _channel(entry: str) -> str:
    return f"<#{entry}>" if is_slack_channel_id(entry) else escape("#" + entry.removeprefix("#"))


def _names(watches: Sequence[str]) -> str:
    return ", ".join(f"watch “{escape(w)}”" for w in watches)
