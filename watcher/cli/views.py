"""``ctwatch status`` and ``ctwatch history``: what the database knows."""

from __future__ import annotations

import json
import sys

import click

from watcher.alerts.routing import channel_follows, watched_trials
from watcher.cli.main import Context, fail, main, open_app
from watcher.cli.output import no_versions_reason, print_status, status_view
from watcher.config import normalise_nct_id
from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.render import change_lines


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


@main.command()
@click.argument("nct_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def history(obj: Context, nct_id: str, as_json: bool) -> None:
    """Show each recorded version of NCT_ID and what changed in it, newest first."""
    try:
        nct = normalise_nct_id(nct_id)
    except ValueError as exc:
        fail(str(exc), 2)
    config = obj.load()
    with open_app(config) as app:
        versions = app.store.versions.history(nct)
        if not versions:
            watched = nct in watched_trials(config, app.subscriptions())
            fail(no_versions_reason(nct, app.store.versions.trials([nct]), watched), 1)
    if as_json:
        out = [
            {
                "version": v.id,
                "fetched_at": v.fetched_at,
                "last_update_posted": v.last_update_posted,
                "overall_status": v.overall_status,
                "baseline": i == len(versions) - 1,
                "changes": [
                    {"path": c.path, "label": c.label, "kind": c.kind, "old": c.old, "new": c.new}
                    for c in v.changes
                ],
            }
            for i, v in enumerate(versions)
        ]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    for i, v in enumerate(versions):
        status_text = display_value(STATUS_PATH, v.overall_status) if v.overall_status else "—"
        click.echo(
            f"version {v.id} · seen {v.fetched_at} · last update posted "
            f"{v.last_update_posted or '—'} · {status_text}"
        )
        if i == len(versions) - 1:
            click.echo("  baseline (first sight of this trial)")
        for line in change_lines(v.changes):
            click.echo(f"  {line.text()}")
        click.echo("")
