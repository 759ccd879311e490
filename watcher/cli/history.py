"""``ctwatch history``, ``diff`` and ``show``: a trial's versions, read from the database.

Numbers: ``#n`` is the trial's own number (1…n, oldest first, whatever order
versions were written in); "registry version" is the website's number, known
for imported versions and for observed ones once the registry's list was read.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click

from watcher.alerts.routing import path_matches, watched_trials
from watcher.app import App
from watcher.cli.main import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    fail,
    main,
    open_app,
    require_database,
    say,
)
from watcher.cli.output import no_versions_reason
from watcher.config import normalise_nct_id
from watcher.core.describe import STATUS_PATH, display_value, label_for
from watcher.core.diff import FieldChange, diff_records
from watcher.core.events import Event
from watcher.core.fieldnames import AmbiguousField, field_path
from watcher.core.history import IMPORTED
from watcher.core.render import Alert, change_lines, compare_url, console_text
from watcher.core.text import counted
from watcher.store import VersionRow

_SOURCE = {IMPORTED: "imported", "observed": "observed"}


def _source(v: VersionRow) -> str:
    return _SOURCE.get(v.source, v.source)


def _nct(raw: str) -> str:
    try:
        return normalise_nct_id(raw)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


def _versions(app: App, nct: str) -> list[VersionRow]:
    """Oldest first; exit 1 when the database holds none, saying why."""
    versions = list(reversed(app.store.versions.history(nct)))
    if not versions:
        watched = nct in watched_trials(app.config, app.subscriptions())
        fail(no_versions_reason(nct, app.store.versions.trials([nct]), watched), EXIT_FAILED)
    return versions


def _title(app: App, nct: str) -> str:
    rows = app.store.versions.trials([nct])
    return (rows[0].title if rows else None) or "(untitled)"


def _describe(v: VersionRow) -> str:
    """``#3 · registry version 3 · 2025-06-02 · Recruiting · imported``."""
    registry = f"registry version {v.registry_version}" if v.registry_version else "registry —"
    status = display_value(STATUS_PATH, v.overall_status) if v.overall_status else "—"
    return f"#{v.number} · {registry} · {v.date or '—'} · {status} · {_source(v)}"


def _changes_json(changes: Sequence[FieldChange]) -> list[dict[str, Any]]:
    return [
        {"path": c.path, "label": c.label, "kind": c.kind, "old": c.old, "new": c.new}
        for c in changes
    ]


def _version_json(v: VersionRow, first: bool, events: Sequence[Event] = ()) -> dict[str, Any]:
    return {
        "number": v.number,
        "registry_version": v.registry_version,
        "date": v.date,
        "submitted": v.submitted,
        "last_update_posted": v.last_update_posted,
        "fetched_at": v.fetched_at,
        "source": _source(v),
        "overall_status": v.overall_status,
        "baseline": first,
        "changes": _changes_json(v.changes),
        "events": [e.as_json() for e in events],
    }


@main.command()
@click.argument("nct_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--oldest-first", is_flag=True, help="Oldest version first (default: newest).")
@click.option(
    "--field", "field_name", metavar="NAME", help="Only this field's changes, one line each."
)
@click.pass_obj
def history(
    obj: Context, nct_id: str, as_json: bool, oldest_first: bool, field_name: str | None
) -> None:
    """Show every version of NCT_ID, newest first, and what changed in each.

    Each version shows its number in this trial (#1…#n, oldest first), the
    registry's version number when known (as the website shows it), its date
    (submitted, else last update posted), status, source (observed by ctwatch
    or imported from the registry) and its changes. --field NAME (a field name
    such as PrimaryCompletionDate or the label alerts print, "Primary
    Completion Date") prints one line per version where that field changed.
    """
    nct = _nct(nct_id)
    config = obj.load()
    path = None
    if field_name is not None:
        try:
            path = field_path(field_name)
        except AmbiguousField as exc:
            fail(f"--field: {exc}", EXIT_USAGE)
        if path is None:
            fail(
                f"--field: {field_name!r} is not a ClinicalTrials.gov field name or label "
                "(e.g. OverallStatus or 'Primary Completion Date')",
                EXIT_USAGE,
            )
    require_database(config)
    with open_app(config) as app:
        versions, title = _versions(app, nct), _title(app, nct)
        meant = app.store.events.of_versions([v.id for v in versions])
        if path is not None:
            first = app.store.versions.record(versions[0].id) or {}
            _field_timeline(
                nct, title, versions, path,
                first_record=first, oldest_first=oldest_first, as_json=as_json,
            )  # fmt: skip
            return
    shown = versions if oldest_first else list(reversed(versions))
    if as_json:
        out = [_version_json(v, v is versions[0], meant.get(v.id, ())) for v in shown]
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    order = "oldest first" if oldest_first else "newest first"
    count = counted(len(versions), "version")
    say(f"{nct} — {title} · {count}, {order}")
    first_seen = next((v for v in versions if v.source != IMPORTED), None)
    blocks = []
    for v in shown:
        said = [f"  {e.level.value}: {e.summary}" for e in meant.get(v.id, ())]
        lines = [_describe(v), *said, *(f"  {line.text()}" for line in change_lines(v.changes))]
        if v is versions[0]:
            lines.append(f"  {_first_words(v)}")
        elif v is first_seen:
            since = "the changes above" if v.changes else "no field changed"
            lines.append(f"  first seen by ctwatch ({since} since the last imported version)")
        elif not v.changes:
            lines.append("  no field changed")
        blocks.append("\n".join(lines))
    say("\n\n".join(blocks))


def _first_words(v: VersionRow) -> str:
    if v.source != IMPORTED:
        return "baseline (first sight of this trial)"
    if v.registry_version == 1:
        return "the registry's first version"
    return "the oldest version stored"


def _value_at(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for key in path.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _field_timeline(
    nct: str,
    title: str,
    versions: Sequence[VersionRow],
    path: str,
    *,
    first_record: dict[str, Any],
    oldest_first: bool,
    as_json: bool,
) -> None:
    """One line per version where the field changed, after its value in the first version."""
    label = label_for([(part, False) for part in path.split(".")])
    hits = [(v, [c for c in v.changes if path_matches(c.schema_path, [path])]) for v in versions]
    hits = [(v, changes) for v, changes in hits if changes]
    initial = _value_at(first_record, path)
    if as_json:
        out = {
            "nct_id": nct,
            "field": label,
            "path": path,
            "first": {**_version_json(versions[0], True), "value": initial, "changes": []},
            "changes": [
                {**_version_json(v, v is versions[0]), "changes": _changes_json(changes)}
                for v, changes in (hits if oldest_first else reversed(hits))
            ],
        }
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    order = "oldest first" if oldest_first else "newest first"
    count = f"{len(hits)} change(s) in {len(versions)} versions"
    say(f"{nct} — {title} · {label}: {count}, {order}")
    lines = [
        f"{_describe(v)} · {'; '.join(line.text() for line in change_lines(changes))}"
        for v, changes in hits
    ]
    start = f"{_describe(versions[0])} · {label}: {display_value(path, initial)} (first version)"
    lines = [start, *lines]
    say("\n".join(lines if oldest_first else reversed(lines)))


def _pick(nct: str, versions: Sequence[VersionRow], wanted: str) -> VersionRow:
    """A version by registry number (the last stored copy of it) or ``latest``."""
    if wanted.strip().lower() == "latest":
        return versions[-1]
    try:
        number = int(wanted)
    except ValueError:
        fail(f"{wanted!r} is not a registry version number (or 'latest')", EXIT_USAGE)
    found = [v for v in versions if v.registry_version == number]
    if not found:
        known = sorted({v.registry_version for v in versions if v.registry_version})
        held = f"registry versions stored: {', '.join(map(str, known))}" if known else "none"
        fail(
            f"{nct}: no stored version has registry number {number} ({held}; "
            f"`ctwatch backfill {nct}` imports the registry's history)",
            EXIT_USAGE,
        )
    return found[-1]


def _side(v: VersionRow) -> dict[str, Any]:
    return {k: _version_json(v, False)[k] for k in ("number", "registry_version", "date", "source")}


@main.command("diff")
@click.argument("nct_id")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_obj
def diff_versions(obj: Context, nct_id: str, old: str, new: str, as_json: bool) -> None:
    """Show what changed from version OLD to NEW of NCT_ID, in the words alerts use.

    OLD and NEW are registry version numbers, as the website shows them, or
    'latest' (the newest stored version).
    """
    nct = _nct(nct_id)
    config = obj.load()
    require_database(config)
    with open_app(config) as app:
        versions, title = _versions(app, nct), _title(app, nct)
        before, after = _pick(nct, versions, old), _pick(nct, versions, new)
        changes = diff_records(
            app.store.versions.record(before.id) or {}, app.store.versions.record(after.id) or {}
        )
    pair = (before.registry_version, after.registry_version)
    compare = (pair[0], pair[1]) if pair[0] and pair[1] else None
    alert = Alert(nct, title, tuple(changes), after.last_update_posted, compare=compare)
    if as_json:
        out = {
            "nct_id": nct,
            "from": _side(before),
            "to": _side(after),
            "url": compare_url(nct, compare) or alert.history_url,
            "changes": _changes_json(changes),
        }
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    say(f"{_describe(before)}\n  → {_describe(after)}")
    text = console_text(alert)
    if not changes:
        head, _, link = text.partition("\n")
        text = f"{head}\n  no field changed\n{link}"
    say(text, nl=False)


@main.command()
@click.argument("nct_id")
@click.option(
    "--version",
    "version",
    default="latest",
    show_default=True,
    metavar="N",
    help="Registry version number (as the website shows it), or 'latest'.",
)
@click.pass_obj
def show(obj: Context, nct_id: str, version: str) -> None:
    """Print a stored version of NCT_ID as JSON (imported versions keep the registry's HTML)."""
    nct = _nct(nct_id)
    config = obj.load()
    require_database(config)
    with open_app(config) as app:
        chosen = _pick(nct, _versions(app, nct), version)
        record = app.store.versions.record(chosen.id)
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))
