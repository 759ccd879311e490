"""Slack notifier: ``chat.postMessage`` through slack-sdk's WebClient.

Failures come back as :class:`DeliveryError`: transient ones (5xx, a long
429, a network fault) for the outbox to retry later with backoff, and errors
that retrying cannot fix (a revoked token, a missing channel) as permanent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.error import URLError

from watcher.alerts.channel import ChannelDeps, ChannelKind
from watcher.alerts.notifier import DeliveryError
from watcher.config import Config, SlackConfig, serving
from watcher.config.destinations import SLACK_KEY
from watcher.core.destination import Destination
from watcher.core.digest import Digest
from watcher.core.render import Alert
from watcher.core.text import truncate
from watcher.deadline import DeadlineExceeded, call_with_deadline
from watcher.neterrors import network_reason
from watcher.redact import Redactor
from watcher.slack.blocks import Block, alert_message, digest_message
from watcher.timeutil import parse_retry_after

if TYPE_CHECKING:  # slack-sdk loads when Slack is used: reading commands never need it
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "channel_is_archived",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "too_many_attachments",
        "ekm_access_denied",
    }
)


_AUTH_HINT = (
    "check SLACK_BOT_TOKEN: the app's Bot User OAuth Token (xoxb-…), "
    "from OAuth & Permissions, app installed"
)


def slack_hint(error: str, channel: str, data: dict[str, object]) -> str:
    """What to do about a permanent Slack error, in one clause (empty when unknown).

    Why here: the error code alone (``not_in_channel``) sends people searching;
    the fix is nearly always one of these steps.
    """
    needed = data.get("needed")
    if error == "channel_not_found":
        return (
            f"no channel {channel} the bot can see: check the name in the config "
            "(a private channel: invite the bot first)"
        )
    if error == "not_in_channel":
        return f"invite the bot: type /invite @your-app-name in {channel}"
    if error in ("invalid_auth", "not_authed", "token_revoked", "token_expired"):
        return _AUTH_HINT
    if error == "account_inactive":
        return "the app or its workspace was deactivated: reinstall the app, update the token"
    if error == "missing_scope":
        scope = f"the {needed} scope" if isinstance(needed, str) and needed else "chat:write"
        return f"add {scope} under OAuth & Permissions, reinstall the app, update the token"
    if error in ("is_archived", "channel_is_archived"):
        return f"{channel} is archived: unarchive it or name another channel in the config"
    return ""


class SlackNotifier:
    """Posts alerts to Slack channels."""

    def __init__(self, client: WebClient, section: SlackConfig, *, actions: bool = False) -> None:
        """``section``: ``[slack]`` (digest threshold; time-out and retries bound each post);
        ``client``: a WebClient for it (:func:`slack_client`)."""
        self._client = client
        self.digest_over: int | None = section.digest_over
        self._deadline = section.timeout.total_seconds() * (section.retries + 1)
        self._actions = actions
        """Buttons on alerts: only when a click can reach ctwatch (Socket Mode or HTTP)."""

    def send(self, destination: Destination, alert: Alert) -> None:
        self.post(destination.target, *alert_message(alert, actions=self._actions))

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        self.post(destination.target, *digest_message(digest.alerts, digest=digest))

    def post(self, channel: str, text: str, blocks: list[Block]) -> None:
        """``chat.postMessage``; returns only when Slack answered ``ok: true``.

        The whole post, in-place retries included, has one deadline: a
        trickling server or proxy makes it a transient failure, never a hang.
        """
        from slack_sdk.errors import SlackApiError

        def call() -> SlackResponse:
            return self._client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False, unfurl_media=False
            )

        try:
            response = call_with_deadline(call, self._deadline, "slack-post")
        except DeadlineExceeded:
            raise DeliveryError(
                f"Slack did not answer in full within {self._deadline:g} s"
            ) from None
        except SlackApiError as exc:
            raise _classify(channel, exc, Redactor([self._client.token or ""])) from None
        except (URLError, OSError) as exc:
            raise DeliveryError(f"cannot reach Slack ({network_reason(exc)})") from None
        except ValueError:  # a truncated or non-JSON body from Slack or a proxy
            raise DeliveryError("Slack answered with an unreadable body") from None
        if response.get("ok") is not True:
            raise DeliveryError(f"Slack did not confirm the post to {channel}")


def _classify(channel: str, exc: SlackApiError, mask: Redactor) -> DeliveryError:
    """Slack's answer as a DeliveryError; its text is masked *before* it is cut, or a
    token cut in half would no longer be recognised by the mask."""
    response = exc.response
    status = response.status_code
    data = response.data if isinstance(response.data, dict) else {}
    error = str(data.get("error") or f"HTTP {status}")
    if status == 429 or error == "ratelimited":
        wait = response.headers.get("Retry-After") or response.headers.get("retry-after")
        retry_after = parse_retry_after(str(wait)) if wait else None
        return DeliveryError(f"Slack rate limit for {channel}", retry_after=retry_after)
    if status >= 500:
        return DeliveryError(f"Slack server error (HTTP {status})")
    detail = ""
    messages = data.get("response_metadata", {}).get("messages") if data else None
    if messages:
        detail = f" ({truncate(mask('; '.join(str(m) for m in messages)), 300)})"
    said = f"Slack {channel}: {truncate(mask(error), 100)}{detail}"
    hint = slack_hint(error, channel, data)
    if hint:
        said += f" — {hint}"
    return DeliveryError(said, permanent=error in PERMANENT)


def _notifier(config: Config, deps: ChannelDeps) -> SlackNotifier | None:
    slack = config.slack
    if slack is None:
        return None
    from watcher.slack.client import slack_client

    client = slack_client(slack, retry_interval=deps.slack_retry_interval, sleep=deps.sleep)
    return SlackNotifier(client, slack, actions=serving(config).interactive)


SLACK = ChannelKind("slack", _notifier, SLACK_KEY, "slack")
"""``slack = ["#alerts", "C0123…"]`` with a ``[slack]`` section (a bot token)."""
