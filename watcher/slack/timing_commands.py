"""``/ctwatch digest …`` and ``/ctwatch quiet …``: a channel chooses when it hears.

Why here and not in the config file: the people in a channel know when they
want a summary; an admin editing a TOML file for each team does not scale. The
values are checked with the same parsers as the config's ``digest`` and
``quiet_hours`` (:mod:`watcher.config.digest`), stored per channel, and apply
to everything the channel receives (one channel, one stream of messages).

Forms: ``digest daily 08:00 [Europe/Paris]``, ``digest weekly mon 08:00 [tz]``,
``digest hourly``, ``digest 0 8 * * 1-5 [tz]``, ``digest off``, ``digest`` (show);
``quiet 20:00-08:00 [tz]``, ``quiet off``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from watcher.config.digest import check_timezone, parse_digest, parse_quiet_hours
from watcher.core.text import truncate
from watcher.slack.blocks import escape
from watcher.store import Store
from watcher.store.channel_timings import ChannelTiming
from watcher.timeutil import Clock, iso, utc_now


@dataclass(frozen=True)
class TimingRequest:
    """Who asked, where (the fields of a slash command that matter here)."""

    channel_id: str
    channel_name: str = ""
    team_id: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class TimingCommands:
    """Sets and shows a channel's digest and quiet hours."""

    store: Store
    default_timezone: str = "UTC"
    clock: Clock = utc_now

    def handle(self, name: str, verb: str, rest: str, request: TimingRequest) -> str:
        """The reply for ``digest …`` or ``quiet …`` (never raises on bad input)."""
        current = self.store.channel_timings.get(request.channel_id) or ChannelTiming(
            request.channel_id
        )
        words = rest.split()
        if not words:
            return self._show(name, current)
        if words == ["off"]:
            changed = replace(current, digest=None) if verb == "digest" else replace(
                current, quiet_hours=None
            )  # fmt: skip
            self._save(changed, request)
            what = "Digest" if verb == "digest" else "Quiet hours"
            return f"{what} off: alerts reach this channel {self._when(changed)}."
        zone, body = _zone(words, current.timezone or self.default_timezone)
        try:
            check_timezone(zone)
            if verb == "digest":
                parse_digest(body, zone)
                changed = replace(current, digest=body, timezone=zone)
            else:
                parse_quiet_hours(body, zone)
                changed = replace(current, quiet_hours=body, timezone=zone)
        except ValueError as exc:
            example = "daily 08:00 Europe/Paris" if verb == "digest" else "20:00-08:00"
            return (
                f"{escape(truncate(str(exc), 300))}. Nothing was changed; e.g. "
                f"`{name} {verb} {example}`."
            )
        self._save(changed, request)
        return f"Done: alerts reach this channel {self._when(changed)}."

    def _save(self, timing: ChannelTiming, request: TimingRequest) -> None:
        stored = replace(
            timing,
            channel_name=request.channel_name or timing.channel_name,
            team_id=request.team_id or timing.team_id,
            user_id=request.user_id or timing.user_id,
        )
        self.store.channel_timings.save(stored, iso(self.clock()))

    def _show(self, name: str, timing: ChannelTiming) -> str:
        return (
            f"Alerts reach this channel {self._when(timing)}. Change it with "
            f"`{name} digest daily 08:00 [time zone]` or `{name} quiet 20:00-08:00`; "
            f"`{name} digest off` sends each change at once."
        )

    @staticmethod
    def _when(timing: ChannelTiming) -> str:
        zone = timing.timezone or "UTC"
        parts = [
            f"as a digest ({escape(timing.digest)}, {escape(zone)})"
            if timing.digest
            else "as each change is found"
        ]
        if timing.quiet_hours:
            parts.append(f"except during quiet hours ({escape(timing.quiet_hours)}, {zone})")
        return ", ".join(parts)


def _zone(words: list[str], default: str) -> tuple[str, str]:
    """The last word when it names a time zone (``Europe/Paris``, ``UTC``: letters, and a
    slash or a known name), else the default; and the rest, joined. A cron field such as
    ``*/2`` has a slash too, but no letters: it stays in the schedule."""
    last = words[-1]
    named = any(c.isalpha() for c in last) and ("/" in last or last.upper() in ("UTC", "GMT"))
    if len(words) > 1 and named:
        return ("UTC" if last.upper() == "UTC" else last), " ".join(words[:-1])
    return default, " ".join(words)
