"""``ctwatch outbox``: list, re-send or drop the alerts that were not delivered.

Why: a permanent failure (the bot was not invited to the channel, a mailbox
refused) marks an alert failed, and fixing the cause does not bring it back.
``outbox retry --failed`` queues such alerts again with a fresh age (so
``[delivery] give_up_after`` does not fail them again at once) and no
attempts; plain ``retry`` makes pending alerts due now instead of after their
backoff. Sending is left to the next ``ctwatch check`` or the daemon's minute
job. Changes take the database's process lock, so they never race a sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from watcher.cli.main import (
    EXIT_USAGE,
    Context,
    Group,
    fail,
    open_reader,
    require_database,
    say,
    wait_option,
)
from watcher.cli.main import main as root
from watcher.core.destination import Destination
from watcher.core.search_card import WORDS
from watcher.core.text import counted
from watcher.timeutil import iso, utc_now

if TYPE_CHECKING:
    from watcher.config import Config
    from watcher.store import OutboxProblem, Store


def _matches(destination: Destination, wanted: str) -> bool:
    """``--destination`` as people write it: ``#alerts``, ``alerts``, ``a@x.org``, a key."""
    text = wanted.strip()
    names = {destination.key, destination.describe(), destination.kind, *destination.targets}
    if destination.kind == "slack":
        names.add(destination.target.removeprefix("#"))
    return text in names or text.lower() in {n.lower() for n in names}


def _select(
    store: Store, statuses: tuple[str, ...], destination: str | None
) -> list[OutboxProblem]:
    alerts = store.outbox.unsent(statuses)
    if destination is None:
        return alerts
    chosen = [a for a in alerts if _matches(a.destination, destination)]
    if not chosen and alerts:
        known = sorted({a.destination.describe() for a in alerts})
        fail(f"--destination: no such alerts for {destination!r} (have: {', '.join(known)})", 2)
    return chosen


def _line(alert: OutboxProblem, obj: Context) -> str:
    when = "" if alert.status == "failed" else f", next try {alert.next_attempt_at}"
    what = alert.nct_id or ("digest" if alert.kind == "digest" else "ctwatch notice")
    if alert.kind.startswith("search."):  # a search's news, not a change of the trial
        what += f" ({WORDS.get(alert.kind.removeprefix('search.'), 'search')})"
    error = f": {obj.redactor(alert.last_error)}" if alert.last_error else ""
    return (
        f"{alert.status:<8} {what} → {alert.destination.describe()} "
        f"({counted(alert.attempts, 'attempt')}, queued "
        f"{alert.created_at}{when}){error}"
    )


def _config(obj: Context) -> Config:
    config = obj.load(secrets="none")
    require_database(config)
    return config


@root.group(cls=Group, invoke_without_command=True)
@click.pass_context
def outbox(ctx: click.Context) -> None:
    """List the alerts not delivered yet: pending (being retried) and failed.

    \b
    Example:
      ctwatch outbox && ctwatch outbox retry --failed --destination '#trial-alerts'
    """
    if ctx.invoked_subcommand is not None:
        return
    obj = ctx.find_object(Context)
    assert obj is not None
    with open_reader(_config(obj)) as app:
        alerts = app.store.outbox.unsent()
    if not alerts:
        say("no pending or failed alerts")
    for alert in alerts:
        say(_line(alert, obj))


@outbox.command()
@click.option("--failed", "include_failed", is_flag=True, help="Also re-send failed alerts.")
@click.option("--destination", metavar="D", help="Only alerts for this destination.")
@wait_option
@click.pass_obj
def retry(obj: Context, include_failed: bool, destination: str | None, wait: float) -> None:
    """Make pending alerts due now; with --failed, queue failed ones again too.

    A failed alert queued again starts afresh (no attempts, its age counted
    from now). The next `ctwatch check`, or the daemon within a minute, sends.

    \b
    Example:
      ctwatch outbox retry --failed --destination '#trial-alerts' && ctwatch check
    """
    statuses = ("pending", "failed") if include_failed else ("pending",)
    with open_reader(_config(obj)) as app, app.store.lock.held(wait):
        chosen = _select(app.store, statuses, destination)
        count = app.store.outbox.requeue([a.id for a in chosen], iso(utc_now()))
    say(f"{counted(count, 'alert')} queued to be sent now" + ("" if count else " (none to retry)"))


@outbox.command()
@click.option("--pending", "include_pending", is_flag=True, help="Also drop pending alerts.")
@click.option("--destination", metavar="D", help="Only alerts for this destination.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@wait_option
@click.pass_obj
def discard(
    obj: Context, *, include_pending: bool, destination: str | None, yes: bool, wait: float
) -> None:
    """Drop failed alerts (with --pending, pending ones too) for good.

    The versions and changes they describe stay in the database.

    \b
    Example:
      ctwatch outbox discard --destination '#old-channel' --yes
    """
    statuses = ("failed", "pending") if include_pending else ("failed",)
    with open_reader(_config(obj)) as app, app.store.lock.held(wait):
        chosen = _select(app.store, statuses, destination)
        if not chosen:
            say("no alerts to discard")
            return
        for alert in chosen:
            say(_line(alert, obj))
        try:
            sure = yes or click.confirm(
                f"Discard {'this alert' if len(chosen) == 1 else f'these {len(chosen)} alerts'}?",
                err=True,
            )
        except click.Abort:  # no answer (no terminal, end of input)
            sure = False
        if not sure:
            fail("nothing discarded (confirm, or pass --yes)", EXIT_USAGE)
        count = app.store.outbox.discard([a.id for a in chosen])
    say(f"{counted(count, 'alert')} discarded")
