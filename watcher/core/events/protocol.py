"""What the protocol says: outcomes, arms and interventions, eligibility, sponsor,
sites and contacts.

One event per family per change, with counts of what was added, removed and
edited (the field diff below the event has the details):

- ``outcomes.primary_changed`` (high): a primary outcome added, removed or reworded;
- ``outcomes.secondary_changed`` (medium): the same for secondary outcomes;
- ``arms.changed`` (high): arm groups or interventions;
- ``eligibility.changed`` (medium): criteria, ages, sex, healthy volunteers;
- ``sponsor.changed`` (high): the lead sponsor (collaborators are not it);
- ``sites.changed`` (low): locations added or removed, a site's recruiting status;
- ``contacts.changed`` (low): central contacts, officials, site contacts, the
  responsible party.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from watcher.core.diff import FieldChange
from watcher.core.events.context import Change
from watcher.core.events.model import Event, Level
from watcher.core.record import dig
from watcher.core.text import counted, one_line

_P = "protocolSection."
OUTCOMES = _P + "outcomesModule."
ARMS = _P + "armsInterventionsModule"
ELIGIBILITY = _P + "eligibilityModule"
LEAD_SPONSOR = _P + "sponsorCollaboratorsModule.leadSponsor"
RESPONSIBLE = _P + "sponsorCollaboratorsModule.responsibleParty"
LOCATIONS = _P + "contactsLocationsModule.locations"
SITE_CONTACTS = LOCATIONS + ".contacts"
CONTACTS = (
    _P + "contactsLocationsModule.centralContacts",
    _P + "contactsLocationsModule.overallOfficials",
    SITE_CONTACTS,
    RESPONSIBLE,
)


def protocol_events(change: Change) -> Iterator[Event]:
    for path, kind, level, words in (
        (OUTCOMES + "primaryOutcomes", "outcomes.primary_changed", Level.HIGH, "Primary outcome"),
        (OUTCOMES + "secondaryOutcomes", "outcomes.secondary_changed", Level.MEDIUM,
         "Secondary outcome"),
        (ARMS, "arms.changed", Level.HIGH, "Arms and interventions"),
        (ELIGIBILITY, "eligibility.changed", Level.MEDIUM, "Eligibility"),
    ):  # fmt: skip
        found = change.under(path)
        if found:
            yield _counted_event(kind, level, words, path, found)
    yield from _sponsor(change)
    yield from _sites(change)
    contacts = [c for prefix in CONTACTS for c in change.under(prefix)]
    if contacts:
        yield Event(
            "contacts.changed",
            Level.LOW,
            f"Contacts changed ({counted(len(contacts), 'field')}).",
            {"fields": len(contacts)},
        )


def _counts(found: Sequence[FieldChange]) -> tuple[int, int, int]:
    """(items added, removed, edited): an item is a list entry (``…[key]``); a field that is
    not in a list counts as one edited item; a whole list added or removed counts its items."""
    added = removed = 0
    edited: set[str] = set()
    for c in found:
        whole = c.old if c.kind == "removed" else c.new
        if c.kind != "changed" and (c.path.endswith("]") or isinstance(whole, list)):
            n = len(whole) if isinstance(whole, list) and not c.path.endswith("]") else 1
            if c.kind == "added":
                added += n
            else:
                removed += n
        else:
            edited.add(c.path.split("]", 1)[0])
    return added, removed, len(edited)


def _counted_event(
    kind: str, level: Level, words: str, path: str, found: Sequence[FieldChange]
) -> Event:
    added, removed, edited = _counts(found)
    parts = [
        f"{n} {verb}" for n, verb in ((added, "added"), (removed, "removed"), (edited, "edited"))
        if n
    ]  # fmt: skip
    detail = ", ".join(parts) if parts else counted(len(found), "field") + " changed"
    return Event(
        kind,
        level,
        f"{words} changed: {detail}.",
        {"added": added, "removed": removed, "edited": edited, "fields": len(found)},
    )


def _sponsor(change: Change) -> Iterator[Event]:
    if not change.touches(LEAD_SPONSOR):
        return
    old = dig(change.old, "protocolSection", "sponsorCollaboratorsModule", "leadSponsor", "name")
    new = dig(change.new, "protocolSection", "sponsorCollaboratorsModule", "leadSponsor", "name")
    if not isinstance(new, str) or old == new:
        return
    before = one_line(old, 200) if isinstance(old, str) else None
    after = one_line(new, 200)
    summary = (
        f"Lead sponsor changed from {before} to {after}."
        if before
        else (f"Lead sponsor set to {after}.")
    )
    yield Event("sponsor.changed", Level.HIGH, summary, {"from": before, "to": after})


def _sites(change: Change) -> Iterator[Event]:
    found = [c for c in change.under(LOCATIONS) if not c.schema_path.startswith(SITE_CONTACTS)]
    if not found:
        return
    status_paths = {c.path for c in found if c.schema_path == LOCATIONS + ".status"}
    added, removed, edited = _counts([c for c in found if c.path not in status_paths])
    status = len(status_paths)
    parts = [
        f"{n} {w}" for n, w in ((added, "added"), (removed, "removed"),
                                (status, "with a new recruiting status"), (edited, "edited"))
        if n
    ]  # fmt: skip
    yield Event(
        "sites.changed",
        Level.LOW,
        f"Sites changed: {', '.join(parts)}.",
        {"added": added, "removed": removed, "status_changed": status, "edited": edited},
    )
