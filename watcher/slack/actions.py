"""What the buttons on an alert do: *Mute 7 days*, *Unwatch* and, on a search's alert,
*Watch trial* (transport-independent).

Why apart from the Bolt wiring: like :mod:`watcher.slack.commands`, this is
meaning, not transport - the same click arrives over Socket Mode or as a
signed HTTP POST. Trust comes first here too: the channel an action applies
to is the channel Slack says the message is in (``channel.id`` of the
verified payload); a button's value carries only the NCT ID, which is checked
like one typed into ``/ctwatch``, so no crafted value can reach another channel.

*Unwatch* and *Watch trial* are the ``/ctwatch unwatch`` and ``watch``
commands run for the clicker in that channel (same allow-list, same registry
lookup, same words); the message is updated only when something changed, and
the clicker always hears the command's reply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from watcher.config import Config, normalise_nct_id
from watcher.slack.blocks import ACTIONS_BLOCK, MAX_BLOCKS, MUTE_DAYS, Block
from watcher.slack.commands import BadRequest, CommandRequest, Commands, Lookup, mention
from watcher.store import Mute, Store
from watcher.timeutil import Clock, iso, utc_now


@dataclass(frozen=True)
class Click:
    """One button click, read from Slack's ``block_actions`` payload."""

    action_id: str
    nct_id: str
    channel_id: str
    channel_name: str | None = None
    user_id: str = ""
    team_id: str = ""
    message_ts: str | None = None
    message_text: str = ""
    message_blocks: tuple[Block, ...] = field(default=(), repr=False)

    @classmethod
    def from_payload(cls, body: Mapping[str, Any]) -> Click:
        """BadRequest when the payload lacks the channel, the action or a valid NCT ID."""
        channel = _dict(body.get("channel"))
        container = _dict(body.get("container"))
        channel_id = str(channel.get("id") or container.get("channel_id") or "")
        actions = body.get("actions")
        action = _dict(actions[0]) if isinstance(actions, list) and actions else {}
        if not channel_id or not action.get("action_id"):
            raise BadRequest("a button click without its channel or action")
        try:
            nct = normalise_nct_id(str(action.get("value") or ""))
        except ValueError:
            raise BadRequest("a button click without a valid NCT ID") from None
        message = _dict(body.get("message"))
        blocks = message.get("blocks")
        return cls(
            action_id=str(action["action_id"]),
            nct_id=nct,
            channel_id=channel_id,
            channel_name=str(channel["name"]) if channel.get("name") else None,
            user_id=str(_dict(body.get("user")).get("id") or ""),
            team_id=str(_dict(body.get("team")).get("id") or ""),
            message_ts=str(message.get("ts") or container.get("message_ts") or "") or None,
            message_text=str(message.get("text") or ""),
            message_blocks=tuple(b for b in blocks if isinstance(b, dict))
            if isinstance(blocks, list)
            else (),
        )

    @property
    def who(self) -> str:
        """``<@U123>`` for a well-formed user ID, else "someone" (never raw payload text)."""
        return mention(self.user_id)

    def as_command(self, text: str) -> CommandRequest:
        return CommandRequest(
            command="/ctwatch",
            text=text,
            channel_id=self.channel_id,
            channel_name=self.channel_name or "",
            user_id=self.user_id,
            team_id=self.team_id,
        )


@dataclass(frozen=True)
class Outcome:
    """What to tell: a line for the updated message, and a reply for the clicker only."""

    note: str | None = None
    reply: str | None = None

    def updated(self, click: Click) -> tuple[str, list[Block]] | None:
        """The message's text and blocks with the buttons replaced by the note, or None."""
        if self.note is None:
            return None
        blocks = [b for b in click.message_blocks if b.get("block_id") != ACTIONS_BLOCK]
        note: Block = {"type": "context", "elements": [{"type": "mrkdwn", "text": self.note}]}
        return click.message_text or self.note, [*blocks[: MAX_BLOCKS - 1], note]


@dataclass(frozen=True)
class Actions:
    """The buttons' effects against one config and store."""

    config: Config
    store: Store
    lookup: Lookup
    clock: Clock = utc_now
    workspace: Callable[[], str | None] = lambda: None
    """The Slack team the bot token belongs to (``auth.test``), None when unknown."""

    def mute(self, click: Click) -> Outcome:
        """No alerts for this trial in this channel for a week (a second click extends it).

        Only for a click from the bot token's own workspace: the same app installed
        elsewhere signs clicks with the same secret, and a channel there that shares
        a name with one of ours must never mute ours.
        """
        ours = self.workspace()
        if ours is None:
            return Outcome(reply="Sorry, ctwatch could not confirm its Slack workspace just "
                           "now; nothing was muted. Try again in a minute.")  # fmt: skip
        if click.team_id != ours:
            return Outcome(reply="This alert is not from the Slack workspace ctwatch posts to; "
                           "nothing was muted.")  # fmt: skip
        now = self.clock()
        until = iso(now + timedelta(days=MUTE_DAYS))
        self.store.mutes.set(
            Mute(
                channel_id=click.channel_id,
                nct_id=click.nct_id,
                until=until,
                channel_name=click.channel_name,
                user_id=click.user_id or None,
                created_at=iso(now),
                team_id=click.team_id,
            )
        )
        return Outcome(
            note=f":no_bell: {click.who} muted *{click.nct_id}* in this channel until "
            f"{until[:10]} ({MUTE_DAYS} days)."
        )

    def unwatch(self, click: Click) -> Outcome:
        """``/ctwatch unwatch NCT…`` for the clicker, in the message's channel."""
        before = self._subscribed(click)
        answer = Commands(self.config, self.store, self.lookup, self.clock).handle(
            click.as_command(f"unwatch {click.nct_id}")
        )
        if before and not self._subscribed(click):
            note = f"{click.who} unwatched *{click.nct_id}* in this channel."
            return Outcome(note=note, reply=answer.reply.text)
        return Outcome(reply=answer.reply.text)

    def watch(self, click: Click) -> Outcome:
        """``/ctwatch watch NCT…`` for the clicker, in the message's channel (a trial a
        search found: from now on its changes are posted here too)."""
        before = self._subscribed(click)
        answer = Commands(self.config, self.store, self.lookup, self.clock).handle(
            click.as_command(f"watch {click.nct_id}")
        )
        reply = answer.later() if answer.later is not None else answer.reply
        if not before and self._subscribed(click):
            note = f":eyes: {click.who} now watches *{click.nct_id}* in this channel."
            return Outcome(note=note, reply=reply.text)
        return Outcome(reply=reply.text)

    def _subscribed(self, click: Click) -> bool:
        subs = self.store.subscriptions.list(click.channel_id)
        return any(s.nct_id == click.nct_id for s in subs)


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}
