"""``ctwatch status``: what the database knows about every watched trial.

(``history``, ``diff`` and ``show`` live in :mod:`watcher.cli.history`.)"""

from __future__ import annotations

import json
import sys

import click

from watcher.alerts.routing import channel_follows, watched_trials
from watcher.cli.main import Context, main, open_app
from watcher.cli.output import print_status, status_view


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def status(obj: Context, as_json: bool) -> None:
    """Show every watched trial: status, last update, last check, last change, errors."""
    config = obj.load()
    with open_app(config) as app:
        subscriptions = app.subscriptions()
        view = status_view(
            watched_trials(config, subscriptions),
            app.store,
            channel_follows(config, subscriptions),
            obj.redactor,
        )
    if as_json:
        click.echo(json.dumps(view.as_json(), indent=2, ensure_ascii=False))
        return
    print_status(view, sys.stdout)
