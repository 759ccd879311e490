"""``ctwatch history``, ``diff`` and ``show``: a trial's versions, read from the database.

Names (one numbering, :func:`watcher.core.history.version_ref`): ``#n`` is the
n-th version ctwatch observed of the trial, given when it was recorded and
never changed; ``rN`` is a version imported from the registry's history, named
by the registry's number. ``history`` prints them, ``diff`` and ``show`` take
them (``3``, ``#3``, ``r7``), and ``--registry`` reads plain numbers as the
website's version numbers, which are shown beside ctwatch's own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from watcher.cli.main import (
    EXIT_FAILED,
    EXIT_USAGE,
    Context,
    fail,
    main,
    open_reader,
    require_database,
    say,
)
from watcher.core.describe import STATUS_PATH, display_value, label_for
from watcher.core.diff import FieldChange, diff_records
from watcher.core.events import Event
from watcher.core.fieldnames import AmbiguousField, field_path
from watcher.core.history import IMPORTED
from watcher.core.render import Alert, change_lines, compare_url, console_text
from watcher.core.text import counted

if TYPE_CHECKING:
    from watcher.app import Reader
    from watcher.store import VersionRow

_SOURCE = {IMPORTED: "imported", "observed": "observed"}


def _source(v: VersionRow) -> str:
    return _SOURCE.get(v.source, v.source)


def _nct(raw: str) -> str:
    from watcher.config import normalise_nct_id

    try:
        return normalise_nct_id(raw)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)


def _versions(app: Reader, nct: str) -> list[VersionRow]:
    """Oldest first; exit 1 when the database holds none, saying why."""
    from watcher.alerts.routing import watched_trials
    from watcher.cli.output import no_versions_reason

    versions = list(reversed(app.store.versions.history(nct)))
    if not versions:
        watched = nct in watched_trials(app.config, app.subscriptions())
        fail(no_versions_reason(nct, app.store.versions.trials([nct]), watched), EXIT_FAILED)
    return versions


def _title(app: Reader, nct: str) -> str:
    rows = app.store.versions.trials([nct])
    return (rows[0].title if rows else None) or "(untitled)"


def _describe(v: VersionRow) -> str:
    """``#3 · registry version 12 · 2025-06-02 · Recruiting · observed`` (an imported
    version's name is its registry number: ``r7 · 2020-03-10 · Recruiting · imported``)."""
    status = display_value(STATUS_PATH, v.overall_status) if v.overall_status else "—"
    if v.number is None:
        return f"{v.ref} · {v.date or '—'} · {status} · {_source(v)}"
    registry = f"registry version {v.registry_version}" if v.registry_version else "registry —"
    return f"{v.ref} · {registry} · {v.date or '—'} · {status} · {_source(v)}"


def _changes_json(changes: Sequence[FieldChange]) -> list[dict[str, Any]]:
    return [
        {"path": c.path, "label": c.label, "kind": c.kind, "old": c.old, "new": c.new}
        for c in changes
    ]


def _version_json(v: VersionRow, first: bool, events: Sequence[Event] = ()) -> dict[str, Any]:
    return {
        "ref": v.ref,
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

    Each version shows its name (#n: the n-th version ctwatch observed, never
    renumbered; rN: registry version N, imported from the registry's history),
    which `diff` and `show --version` take, the registry's version number when
    known, its date, status, source (observed or imported) and its changes;
    --field NAME (PrimaryCompletionDate, "Primary Completion Date") one line a change.

    \b
    Example:
      ctwatch history NCT04280705 --field OverallStatus --oldest-first
    """
    nct = _nct(nct_id)
    config = obj.load(secrets="none")
    path = None if field_name is None else _field(field_name)
    require_database(config)
    with open_reader(config) as app:
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


def _field(name: str) -> str:
    """``--field NAME`` as a record path; exit 2 naming it when it is no field."""
    try:
        path = field_path(name)
    except AmbiguousField as exc:
        fail(f"--field: {exc}", EXIT_USAGE)
    if path is None:
        fail(
            f"--field: {name!r} is not a ClinicalTrials.gov field name or label "
            "(e.g. OverallStatus or 'Primary Completion Date')",
            EXIT_USAGE,
        )
    return path


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
    from watcher.alerts.routing import path_matches

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
    count = f"{counted(len(hits), 'change')} in {counted(len(versions), 'version')}"
    say(f"{nct} — {title} · {label}: {count}, {order}")
    lines = [
        f"{_describe(v)} · {'; '.join(line.text() for line in change_lines(changes))}"
        for v, changes in hits
    ]
    start = f"{_describe(versions[0])} · {label}: {display_value(path, initial)} (first version)"
    lines = [start, *lines]
    say("\n".join(lines if oldest_first else reversed(lines)))


def _pick(nct: str, versions: Sequence[VersionRow], wanted: str, *, registry: bool) -> VersionRow:
    """A version by name (``3``, ``#3``, ``r7``, ``latest``), or by registry number with
    ``registry``; exit 2 naming what exists when none matches."""
    text = wanted.strip()
    if text.lower() == "latest":
        return versions[-1]
    by_registry = registry or text[:1] in {"r", "R"}
    digits = text[1:] if text[:1] in {"r", "R", "#"} else text
    if not digits.isdecimal() or (registry and text[:1] == "#"):
        what = "a registry version number" if registry else "a version (3, #3, r7)"
        fail(f"{wanted!r} is not {what} or 'latest'", EXIT_USAGE)
    number = int(digits)
    if by_registry:
        found = [v for v in versions if v.registry_version == number]
        if found:
            return found[-1]  # the last stored copy of it
        known = sorted({v.registry_version for v in versions if v.registry_version})
        held = f"registry versions stored: {_span(known)}" if known else "no registry numbers known"
        fail(
            f"{nct}: no stored version has registry number {number} ({held}; "
            f"`ctwatch backfill {nct}` imports the registry's history)",
            EXIT_USAGE,
        )
    found = [v for v in versions if v.number == number]
    if found:
        return found[0]
    names = ", ".join(v.ref for v in versions)
    hint = ""
    if any(v.registry_version == number for v in versions):
        hint = f"; registry version {number} is stored: --registry {number} or r{number}"
    fail(f"{nct}: no version #{number} (versions: {names}){hint}", EXIT_USAGE)


def _span(numbers: Sequence[int]) -> str:
    """``1–10, 12`` for a sorted list of numbers."""
    parts: list[str] = []
    start = prev = numbers[0]
    for n in [*numbers[1:], None]:
        if n is not None and n == prev + 1:
            prev = n
            continue
        parts.append(str(start) if start == prev else f"{start}–{prev}")
        if n is not None:
            start = prev = n
    return ", ".join(parts)


def _side(v: VersionRow) -> dict[str, Any]:
    keys = ("ref", "number", "registry_version", "date", "source")
    return {k: _version_json(v, False)[k] for k in keys}


@main.command("diff")
@click.argument("nct_id")
@click.argument("old")
@click.argument("new")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--registry",
    is_flag=True,
    help="OLD and NEW are the website's version numbers (e.g. `diff NCT… --registry 11 12`).",
)
@click.pass_obj
def diff_versions(  # noqa: PLR0917 - click passes the options by name
    obj: Context, nct_id: str, old: str, new: str, as_json: bool, registry: bool
) -> None:
    """Show what changed from version OLD to NEW of NCT_ID, in the words alerts use.

    OLD and NEW are versions as `ctwatch history` names them: 3 (or #3) for
    the third version ctwatch observed, r7 for registry version 7 imported
    from the registry's history, or 'latest' (the newest stored version).
    With --registry, plain numbers are the registry's version numbers, as the
    website shows them.

    \b
    Examples:
      ctwatch diff NCT04280705 1 2
      ctwatch diff NCT04280705 r3 latest
      ctwatch diff NCT04280705 --registry 11 12
    """
    nct = _nct(nct_id)
    config = obj.load(secrets="none")
    require_database(config)
    with open_reader(config) as app:
        versions, title = _versions(app, nct), _title(app, nct)
        before = _pick(nct, versions, old, registry=registry)
        after = _pick(nct, versions, new, registry=registry)
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
    default=None,
    metavar="N",
    help="A version as `history` names it (3, #3, r7) or 'latest' (the default). "
    "Example: --version 2",
)
@click.option(
    "--registry",
    "registry_number",
    metavar="N",
    help="The version with this registry number, as the website shows it. Example: --registry 12",
)
@click.pass_obj
def show(obj: Context, nct_id: str, version: str | None, registry_number: str | None) -> None:
    """Print a stored version of NCT_ID as JSON (imported versions keep the registry's HTML).

    \b
    Examples:
      ctwatch show NCT04280705                 # the newest version
      ctwatch show NCT04280705 --version 2     # the second version ctwatch saw
      ctwatch show NCT04280705 --registry 12   # registry version 12
    """
    nct = _nct(nct_id)
    if version is not None and registry_number is not None:
        fail("show: give --version or --registry, not both", EXIT_USAGE)
    config = obj.load(secrets="none")
    require_database(config)
    with open_reader(config) as app:
        versions = _versions(app, nct)
        if registry_number is not None:
            chosen = _pick(nct, versions, registry_number, registry=True)
        else:
            chosen = _pick(nct, versions, version or "latest", registry=False)
        record = app.store.versions.record(chosen.id)
    click.echo(json.dumps(record, indent=2, ensure_ascii=False))
