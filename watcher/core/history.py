"""One history per trial: which registry versions to import, and where they go.

Why pure and apart: the rules that keep alerts exact live here, and they are
easiest to trust as small functions over plain values.

* A version ctwatch *observed* is the truth it alerted on. Imported versions
  are only ever placed *before* the first observed one: the registry's versions
  that are older than anything ctwatch saw. Versions the registry made between
  two observed ones are not imported (ctwatch's own diff, already alerted,
  covers that span), and versions newer than the newest observed one are left
  for ``check`` to see (and alert on). So the newest version is always one
  ctwatch observed, and the next check never diffs against an import.
* The website numbers versions from 1 (the API's ``version`` + 1). An observed
  version gets its number by matching its ``lastUpdateSubmitDate`` to the
  version list's ``date``; on a day with two versions, the later one (the
  record ctwatch fetched was the day's last state).
* The order of a trial's versions (their per-trial number, 1…n) is: imported
  versions by registry number, then observed ones in the order they were seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

IMPORTED = "registry"
OBSERVED = "observed"


def version_ref(number: int | None, registry_version: int | None) -> str:
    """How a version is named everywhere (``history`` prints it, ``diff``/``show`` take it).

    ``#3``: the third version ctwatch observed of this trial, numbered when it
    was recorded and never renumbered. ``r7``: a version imported from the
    registry's history, named by the registry's own number (it has no ctwatch
    number: it is older than the first one ctwatch saw, and imports come
    later). Both names are fixed once given, so a backfill changes neither.
    """
    if number is not None:
        return f"#{number}"
    if registry_version is not None:
        return f"r{registry_version}"
    return "#?"


@dataclass(frozen=True)
class ListedVersion:
    """One entry of the registry's version list (every field but number and date optional)."""

    number: int
    """As the website shows it: the API's 0-based ``version`` + 1."""
    date: str
    """The version's submission date (``yyyy-mm-dd``)."""
    status: str | None = None
    module_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class Held:
    """What planning needs to know about one stored version."""

    id: int
    source: str
    registry_version: int | None
    submitted: str | None
    last_update_posted: str | None = None


@dataclass(frozen=True)
class ImportPlan:
    """What to do for one trial, given its stored versions and the registry's list."""

    numbering: dict[int, int] = field(default_factory=dict)
    """Observed version id -> the registry number learnt for it."""
    fetch: tuple[ListedVersion, ...] = ()
    """Registry versions to import, oldest first."""
    unplaced: bool = False
    """Observed versions exist but nothing tells which registry version they are."""


def numbers_by_date(listed: Sequence[ListedVersion]) -> dict[str, int]:
    """``date -> registry number``; on a day with several versions, the last one."""
    out: dict[str, int] = {}
    for entry in listed:
        out[entry.date] = max(entry.number, out.get(entry.date, 0))
    return out


def learn_numbers(stored: Sequence[Held], listed: Sequence[ListedVersion]) -> dict[int, int]:
    """Registry numbers for observed versions that have none yet, by submission date."""
    by_date = numbers_by_date(listed)
    return {
        v.id: by_date[v.submitted]
        for v in stored
        if v.source == OBSERVED
        and v.registry_version is None
        and v.submitted is not None
        and v.submitted in by_date
    }


def plan_import(stored: Sequence[Held], listed: Sequence[ListedVersion]) -> ImportPlan:
    """The registry versions to import and the observed versions to number.

    Imports are the listed versions the store does not hold that are older than
    the first observed version (all of them when ctwatch observed none).
    """
    numbering = learn_numbers(stored, listed)
    held = {v.registry_version for v in stored if v.registry_version is not None}
    held |= set(numbering.values())
    missing = [v for v in sorted(listed, key=lambda e: e.number) if v.number not in held]
    first = next((v for v in stored if v.source == OBSERVED), None)
    if first is None:
        return ImportPlan(numbering, tuple(missing))
    number = numbering.get(first.id, first.registry_version)
    if number is not None:
        older = [v for v in missing if v.number < number]
    elif first.submitted is not None:
        older = [v for v in missing if v.date < first.submitted]
    elif first.last_update_posted is not None:
        older = [v for v in missing if v.date < first.last_update_posted]
    else:
        return ImportPlan(numbering, (), unplaced=bool(missing))
    return ImportPlan(numbering, tuple(older))


Slot = tuple[str, int]
"""A version in the new order: ``("stored", id)`` or ``("new", registry number)``."""


def import_order(
    stored: Sequence[Held], new_numbers: Sequence[int], numbering: dict[int, int]
) -> list[Slot]:
    """The trial's versions after an import: imported by registry number, then observed.

    ``stored`` is in its current order; ``numbering`` holds registry numbers
    learnt in the same step.
    """
    imported: list[tuple[int, Slot]] = [(n, ("new", n)) for n in new_numbers]
    observed: list[Slot] = []
    for version in stored:
        if version.source == OBSERVED:
            observed.append(("stored", version.id))
        else:
            number = numbering.get(version.id, version.registry_version) or 0
            imported.append((number, ("stored", version.id)))
    return [slot for _, slot in sorted(imported, key=lambda pair: pair[0])] + observed


def moved(before: Sequence[Slot], after: Sequence[Slot]) -> list[tuple[Slot, Slot | None]]:
    """Versions whose predecessor is new or different after a reordering, each with it.

    Their stored changes (relative to the version before them) must be computed
    again; the first version has no predecessor (None).
    """
    previous_of = {slot: (before[i - 1] if i else None) for i, slot in enumerate(before)}
    out: list[tuple[Slot, Slot | None]] = []
    for index, slot in enumerate(after):
        predecessor = after[index - 1] if index else None
        if slot not in previous_of or previous_of[slot] != predecessor:
            out.append((slot, predecessor))
    return out
