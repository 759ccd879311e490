"""A search's news about one trial: what happened, in words, and the card to judge it by.

Why a card of its own: someone told "a new trial matches your search" must
decide in five seconds whether it matters - so the alert carries the facts
that decide it (sponsor, phase, status, conditions, interventions,
enrollment, start, where, when first posted), read once from the record when
the event is found and stored with it (the outbox row's payload, the
``search_events`` row). Delivery, feeds and every renderer read the same
frozen facts; none of them needs the record again.

Lists are cut here, once: the first few items and a count of the rest
("+4 more"), so no sponsor's 300 conditions can blow a message's size limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

from watcher.core.describe import display_value
from watcher.core.diff import FieldChange, Kind
from watcher.core.record import dig, first_posted, last_update_posted, nct_id, overall_status, title
from watcher.core.text import one_line

EventKind = Literal["new", "matches", "left"]
KINDS: tuple[EventKind, ...] = ("new", "matches", "left")
WORDS: dict[str, str] = {"new": "New trial", "matches": "Now matches", "left": "No longer matches"}
OUTBOX_KINDS = {kind: f"search.{kind}" for kind in KINDS}
"""The outbox row kinds, which are also the webhook event types."""
SHOWN_ITEMS = 3
SHOWN_COUNTRIES = 5
_PHASE_PATH = "protocolSection.designModule.phases"
_STATUS_PATH = "protocolSection.statusModule.overallStatus"


def _texts(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str) and v.strip()] if isinstance(value, list) else []


def _date(record: Any, struct: str) -> str | None:
    value = dig(record, "protocolSection", "statusModule", struct, "date")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class TrialCard:
    """The facts of one trial a search alert shows (all optional but the NCT ID)."""

    nct_id: str
    title: str = ""
    sponsor: str | None = None
    phases: tuple[str, ...] = ()
    status: str | None = None
    conditions: tuple[str, ...] = ()
    conditions_total: int = 0
    interventions: tuple[str, ...] = ()
    interventions_total: int = 0
    enrollment: int | None = None
    enrollment_type: str | None = None
    start: str | None = None
    locations: int = 0
    countries: tuple[str, ...] = ()
    countries_total: int = 0
    first_posted: str | None = None
    last_update_posted: str | None = None
    in_registry: bool = True
    """False when the registry no longer returns the trial (a left member)."""

    @classmethod
    def of(cls, record: Any, requested: str | None = None) -> TrialCard:
        """The card of a full record (defensive: any part may be missing)."""
        proto = dig(record, "protocolSection")
        conditions = _texts(dig(proto, "conditionsModule", "conditions"))
        interventions = [
            i["name"]
            for i in dig(proto, "armsInterventionsModule", "interventions") or []
            if isinstance(i, dict) and isinstance(i.get("name"), str)
        ]
        sites = dig(proto, "contactsLocationsModule", "locations")
        sites = [s for s in sites if isinstance(s, dict)] if isinstance(sites, list) else []
        countries = list(dict.fromkeys(_texts([s.get("country") for s in sites])))
        enrollment = dig(proto, "designModule", "enrollmentInfo")
        count = dig(enrollment, "count")
        sponsor = dig(proto, "sponsorCollaboratorsModule", "leadSponsor", "name")
        return cls(
            nct_id=(nct_id(record) or requested or "").upper(),
            title=title(record),
            sponsor=sponsor if isinstance(sponsor, str) else None,
            phases=tuple(_texts(dig(proto, "designModule", "phases"))),
            status=overall_status(record),
            conditions=tuple(conditions[:SHOWN_ITEMS]),
            conditions_total=len(conditions),
            interventions=tuple(interventions[:SHOWN_ITEMS]),
            interventions_total=len(interventions),
            enrollment=count if isinstance(count, int) and not isinstance(count, bool) else None,
            enrollment_type=dig(enrollment, "type") if isinstance(count, int) else None,
            start=_date(record, "startDateStruct"),
            locations=len(sites),
            countries=tuple(countries[:SHOWN_COUNTRIES]),
            countries_total=len(countries),
            first_posted=first_posted(record),
            last_update_posted=last_update_posted(record),
        )

    @classmethod
    def absent(cls, nct: str, known_title: str = "") -> TrialCard:
        """A trial the registry no longer returns: only what ctwatch knew."""
        return cls(nct_id=nct, title=known_title, in_registry=False)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialCard:
        """Read back :meth:`to_json` (unknown keys ignored: a newer ctwatch may add some)."""
        names = set(cls.__dataclass_fields__)
        values: dict[str, Any] = {
            k: tuple(v) if isinstance(v, list) else v for k, v in data.items() if k in names
        }
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    def facts(self, limit: int = 300) -> list[tuple[str, str]]:
        """``(label, words)`` for each known fact, in the order every renderer shows them."""
        out: list[tuple[str, str]] = []
        if self.sponsor:
            out.append(("Lead sponsor", one_line(self.sponsor, limit)))
        if self.phases:
            out.append(("Phase", display_value(_PHASE_PATH, list(self.phases), limit)))
        if self.status:
            out.append(("Overall status", display_value(_STATUS_PATH, self.status, limit)))
        if self.conditions_total:
            out.append(("Conditions", _listed(self.conditions, self.conditions_total, limit)))
        if self.interventions_total:
            shown = _listed(self.interventions, self.interventions_total, limit)
            out.append(("Interventions", shown))
        if self.enrollment is not None:
            kind = f" ({self.enrollment_type.lower()})" if self.enrollment_type else ""
            out.append(("Enrollment", f"{self.enrollment:,}{kind}"))
        if self.start:
            out.append(("Start date", self.start))
        if self.locations:
            where = _listed(self.countries, self.countries_total, limit)
            sites = f"{self.locations:,} site{'s' if self.locations != 1 else ''}"
            out.append(("Locations", f"{sites} in {where}" if where else sites))
        if self.first_posted:
            out.append(("First posted", self.first_posted))
        if not self.in_registry:
            out.append(("Registry", "no longer returned by ClinicalTrials.gov"))
        return out


def _listed(items: Sequence[str], total: int, limit: int) -> str:
    """``A, B, C (+4 more)``, each item on one line and cut to ``limit // 3``."""
    shown = ", ".join(one_line(item, max(limit // 3, 20)) for item in items)
    rest = total - len(items)
    return f"{shown} (+{rest} more)" if rest > 0 else shown


@dataclass(frozen=True)
class SearchEvent:
    """One member event of one search, with the trial's card."""

    kind: EventKind
    search: str
    card: TrialCard

    @property
    def words(self) -> str:
        """``New trial``, ``Now matches`` or ``No longer matches``."""
        return WORDS[self.kind]

    @property
    def headline(self) -> str:
        """``New trial · search “rectal-io”``: what happened and in which search."""
        return f"{self.words} · search “{self.search}”"

    @property
    def outbox_kind(self) -> str:
        return OUTBOX_KINDS[self.kind]


def event_payload(event: SearchEvent, changes: Sequence[FieldChange] = ()) -> dict[str, Any]:
    """What an outbox row and a ``search_events`` row keep: the event, its card, and the
    field changes that explain a departure (when ctwatch recorded them)."""
    return {
        "event": event.kind,
        "search": event.search,
        "card": event.card.to_json(),
        "changes": [
            {"path": c.path, "label": c.label, "kind": c.kind, "old": c.old, "new": c.new}
            for c in changes
        ],
    }


def read_payload(payload: dict[str, Any]) -> tuple[SearchEvent, tuple[FieldChange, ...]]:
    """Inverse of :func:`event_payload`; ValueError for a payload that is not one."""
    kind = payload.get("event")
    card = payload.get("card")
    if kind not in KINDS or not isinstance(card, dict):
        raise ValueError("not a search event payload")
    changes = tuple(
        _change(c)
        for c in payload.get("changes") or ()
        if isinstance(c, dict) and {"path", "label", "kind"} <= c.keys()
    )
    search = str(payload.get("search", ""))
    return SearchEvent(cast(EventKind, kind), search, TrialCard.from_json(card)), changes


def _change(item: dict[str, Any]) -> FieldChange:
    path, label, kind = str(item["path"]), str(item["label"]), cast(Kind, item["kind"])
    return FieldChange(path, label, kind, item.get("old"), item.get("new"))
