"""The test double of every registered channel kind, wired into a config.

Why a list here: a channel kind is only done when its tests can deliver to
something real on 127.0.0.1, so :mod:`tests.alerts.test_channels` fails for a
kind of :data:`watcher.channels.CHANNELS` with no entry below. An entry starts
the kind's double (the Slack Web API double, the Workflows double, a verifying
webhook receiver, aiosmtpd, or a stream for the console) and says how a
config names it: the section, the ``[[watch]]`` key, the environment for its
``${VAR}`` secrets, and how to read back the text of what arrived.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field

from tests.support.slack_double import SlackDouble
from tests.support.smtp_server import SmtpServer
from tests.support.teams_double import TeamsDouble
from tests.support.webhook_receiver import WebhookReceiver

WEBHOOK_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwQ2Ux2dNg7kE="


@dataclass(frozen=True)
class Wired:
    """A running double and how a config sends to it."""

    watch_keys: str
    """Lines for a ``[[watch]]`` table (``teams = ["${TEAMS_URL}"]``); empty: the console."""
    received: Callable[[], list[str]]
    """The text of every message that arrived, oldest first."""
    section: str = ""
    """Top-level TOML the kind needs (``[slack]`` …)."""
    env: dict[str, str] = field(default_factory=dict)


DoubleFactory = Callable[[ExitStack, io.StringIO], Wired]
"""Starts a kind's double (closed with the stack); the StringIO is the console's stream."""


def console(stack: ExitStack, out: io.StringIO) -> Wired:
    return Wired("", lambda: [out.getvalue()] if out.getvalue() else [])


def slack(stack: ExitStack, out: io.StringIO) -> Wired:
    double = stack.enter_context(SlackDouble(channels=("#trial-alerts",)))
    section = f'[slack]\ntoken = "${{SLACK_BOT_TOKEN}}"\napi_url = "{double.url}"\nretries = 0\n'
    return Wired(
        'slack = ["#trial-alerts"]',
        lambda: [m.text for m in double.messages],
        section,
        {"SLACK_BOT_TOKEN": "xoxb-test-token"},
    )


def email(stack: ExitStack, out: io.StringIO) -> Wired:
    server = stack.enter_context(SmtpServer())
    section = (
        f'[email]\nhost = "127.0.0.1"\nport = {server.port}\nsecurity = "none"\n'
        'sender = "ctwatch <alerts@example.org>"\ntimeout = "5s"\n'
    )
    return Wired(
        'email = ["team@example.org"]',
        lambda: [r.raw.decode("utf-8", "replace") for r in server.received],
        section,
    )


def teams(stack: ExitStack, out: io.StringIO) -> Wired:
    double = stack.enter_context(TeamsDouble())
    return Wired(
        'teams = ["${TEAMS_URL}"]',
        lambda: [str(c.card) for c in double.cards],
        env={"TEAMS_URL": double.url()},
    )


def webhook(stack: ExitStack, out: io.StringIO) -> Wired:
    receiver = stack.enter_context(WebhookReceiver(WEBHOOK_SECRET))
    return Wired(
        'webhook = ["${HOOK_URL}"]',
        lambda: [str(d.payload) for d in receiver.deliveries],
        '[webhooks]\nsecret = "${HOOK_SECRET}"\n',
        {"HOOK_URL": receiver.url(), "HOOK_SECRET": WEBHOOK_SECRET},
    )


DOUBLES: dict[str, DoubleFactory] = {
    "console": console,
    "slack": slack,
    "email": email,
    "teams": teams,
    "webhook": webhook,
}
"""Kind -> its double; one line per registered kind."""
