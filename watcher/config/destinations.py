"""The destination keys a watch (and, later, a search) names: where its alerts go.

Why a base of its own: ``[[watch]]`` and the coming ``[[search]]`` route alerts
the same way (``slack``, ``email``, ``teams``, ``webhook``), so the keys, their
checks and how they become :class:`Destination` values are written once and
inherited. Teams and webhook URLs are secrets: they are checked without ever
being echoed, and a destination names them only by reference.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator

from watcher.config.types import (
    EMAIL_RE,
    check_no_control,
    check_secret_url,
    is_slack_channel_id,
)
from watcher.core.destination import Destination


class DestinationKeys(BaseModel):
    """Slack channels, email addresses, Teams Workflows URLs and webhook URLs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    slack: tuple[str, ...] = ()
    """Slack channels (``"#name"`` or an ID such as ``"C0123ABCD"``); needs ``[slack]``."""
    email: tuple[str, ...] = ()
    """Email addresses, all in one message; needs ``[email]``. With no destination at all,
    alerts print on the console."""
    teams: tuple[str, ...] = ()
    """Power Automate Workflows webhook URLs (secrets: write them as ``${VAR}``); https only
    (plain http only to 127.0.0.1)."""
    webhook: tuple[str, ...] = ()
    """Receiver URLs for signed JSON webhooks (write them as ``${VAR}``: they may carry a
    secret); https only (plain http only to 127.0.0.1)."""

    @field_validator("slack", "email", "teams", "webhook", mode="before")
    @classmethod
    def _a_list(cls, value: Any, info: ValidationInfo) -> Any:
        """A lone string is the commonest slip (``teams = "${URL}"``): say how to write it."""
        if isinstance(value, str):
            raise ValueError(f'must be a list, e.g. {info.field_name} = ["…"]')
        return value

    @field_validator("slack")
    @classmethod
    def _channels(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """Names are normalised to ``#name`` (lower case) so that ``trial-alerts`` and
        ``#Trial-Alerts`` in two watches are one channel and get one message."""
        out = []
        for channel in value:
            if not channel.strip() or any(c.isspace() for c in channel):
                raise ValueError(f"{channel!r} is not a Slack channel (e.g. #alerts or C0123)")
            is_id = is_slack_channel_id(channel)
            out.append(channel if is_id else "#" + channel.removeprefix("#").lower())
        return tuple(dict.fromkeys(out))

    @field_validator("email")
    @classmethod
    def _emails(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for address in value:
            check_no_control(address, "an email address")
            if not EMAIL_RE.match(address):
                raise ValueError(f"{address!r} is not an email address")
        return value

    @field_validator("teams", "webhook")
    @classmethod
    def _urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys(check_secret_url(url) for url in value))

    def url_destinations(self) -> Iterator[tuple[Destination, str]]:
        """Each Teams and webhook destination with the URL it stands for."""
        for url in self.teams:
            yield Destination.teams(url), url
        for url in self.webhook:
            yield Destination.webhook(url), url

    @property
    def destinations(self) -> tuple[Destination, ...]:
        """Every destination named here; with none, alerts print to the console."""
        out = [Destination.slack(channel) for channel in self.slack]
        if self.email:
            out.append(Destination.email(self.email))
        out.extend(destination for destination, _ in self.url_destinations())
        return tuple(out) or (Destination.console(),)
