"""What the registry double understands of a search: simple, documented matching rules.

The double is not Essie. It answers the parameters ctwatch's searches send
(API_FACTS §2 and §12) with rules simple enough to predict in a test:

* **Terms.** A ``query.*`` value is split into terms: words, or phrases in
  double quotes. A study matches when *every* term occurs, case-insensitively,
  as a substring of at least one of the value's fields:

  ============== ===================================================================
  parameter      fields searched
  ============== ===================================================================
  query.cond     conditions, keywords
  query.intr     intervention names and other names
  query.titles   brief title, official title, acronym
  query.outc     primary and secondary outcome measures
  query.spons    lead sponsor and collaborator names
  query.lead     lead sponsor name
  query.id       NCT ID, aliases, org study ID, secondary IDs
  query.locn     location facility, city, state, country
  query.patient  conditions, keywords, titles, brief summary
  query.term     every text of the record
  ============== ===================================================================

  ``AREA[Piece]words`` narrows the words after it to one field (``query.locn``
  from a URL is ``AREA[LocationFacility]X,AREA[LocationCountry]Y``: parts are
  split at ``,`` and each must hold; unlike Essie, two parts may be met by two
  different sites). ``AND``, ``OR``, ``NOT`` and parentheses are not
  understood: a 400 says so.
* **filter.overallStatus** - a comma- or pipe-separated list of statuses; the
  study's overall status must be one of them (an unknown status is a 400).
* **aggFilters** - ``status``, ``phase`` and ``studyType`` pairs (options ORed
  within a pair, pairs ANDed): status keys as on the website (``rec``, ``not``,
  ``com``…), phases ``0`` (early phase 1) to ``4`` and ``NA``, study types
  ``int``, ``obs`` (``obs_patreg``: patient registries) and ``exp*``
  (expanded access). As on the registry, an unknown option key is no error:
  it matches nothing. Other filters (``ages``, ``results``…) are a 400.
* **filter.advanced** - date ranges on any date field, ANDed (see
  :func:`watcher.testing.registry_query.parse_advanced`).
* ``filter.geo``, ``filter.synonyms`` and the ``postFilter.*`` twins are a 400
  ("not supported by the registry double"); any other unknown parameter too.

Facets (the texts and codes these rules read) are taken from a study the
first time a search needs it and kept until the study is put again.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core.fields import field_table
from watcher.testing.registry_query import BadRequest, Clause, in_range, split_list

SEARCH_AREAS: dict[str, tuple[str, ...]] = {
    "query.cond": ("Condition", "Keyword"),
    "query.intr": ("InterventionName", "InterventionOtherName"),
    "query.titles": ("BriefTitle", "OfficialTitle", "Acronym"),
    "query.outc": ("PrimaryOutcomeMeasure", "SecondaryOutcomeMeasure"),
    "query.spons": ("LeadSponsorName", "CollaboratorName"),
    "query.lead": ("LeadSponsorName",),
    "query.id": ("NCTId", "NCTIdAlias", "OrgStudyId", "SecondaryId"),
    "query.locn": ("LocationFacility", "LocationCity", "LocationState", "LocationCountry"),
    "query.patient": ("Condition", "Keyword", "BriefTitle", "OfficialTitle", "BriefSummary"),
    "query.term": (),  # every text
}
ANSWERED = frozenset({"format", "markupFormat", "fields", "sort", "countTotal", "pageSize",
                      "pageToken", "filter.ids", "filter.advanced", "filter.overallStatus",
                      "aggFilters", *SEARCH_AREAS})  # fmt: skip
REFUSED = frozenset({"filter.geo", "filter.synonyms", "postFilter.overallStatus", "postFilter.geo",
                     "postFilter.advanced", "postFilter.synonyms", "postFilter.ids"})  # fmt: skip
AGG_VALUES: dict[str, dict[str, str]] = {
    "status": {"rec": "RECRUITING", "act": "ACTIVE_NOT_RECRUITING", "not": "NOT_YET_RECRUITING",
               "com": "COMPLETED", "ter": "TERMINATED", "enr": "ENROLLING_BY_INVITATION",
               "sus": "SUSPENDED", "wit": "WITHDRAWN", "unk": "UNKNOWN", "ava": "AVAILABLE",
               "nla": "NO_LONGER_AVAILABLE", "tna": "TEMPORARILY_NOT_AVAILABLE",
               "afm": "APPROVED_FOR_MARKETING"},
    "phase": {"0": "EARLY_PHASE1", "1": "PHASE1", "2": "PHASE2", "3": "PHASE3", "4": "PHASE4",
              "NA": "NA"},
    "studyType": {"int": "INTERVENTIONAL", "obs": "OBSERVATIONAL", "obs_patreg": "REGISTRY",
                  "exp": "EXPANDED_ACCESS", "exp_treat": "EXPANDED_ACCESS",
                  "exp_indiv": "EXPANDED_ACCESS", "exp_inter": "EXPANDED_ACCESS"},
}  # fmt: skip
STATUSES = frozenset(AGG_VALUES["status"].values())
_TERM = re.compile(r'"([^"]*)"|(\S+)')
_AREA_PART = re.compile(r"^\s*AREA\[([^\]]+)\](.*)$", re.DOTALL)
_OPERATORS = frozenset({"AND", "OR", "NOT"})

Terms = tuple[tuple[str, ...], tuple[str, ...]]
"""``(pieces searched, terms)``: every term must occur in one of the pieces (none: all)."""


@dataclass(frozen=True)
class Criteria:
    """A search's conditions, parsed once per query (hashable: query results are cached)."""

    terms: tuple[Terms, ...] = ()
    statuses: frozenset[str] | None = None
    agg: tuple[tuple[str, frozenset[str]], ...] = ()

    def matches(self, facets: Facets) -> bool:
        for pieces, terms in self.terms:
            texts = facets.texts(pieces)
            if not all(any(term in text for text in texts) for term in terms):
                return False
        if self.statuses is not None and facets.status not in self.statuses:
            return False
        return all(facets.agg_values(name) & wanted for name, wanted in self.agg)


def check_params(params: Mapping[str, str]) -> None:
    """A 400 for a parameter the double does not answer (it must never ignore one)."""
    for name in params:
        if name in REFUSED:
            raise BadRequest(f"Parameter `{name}` is not supported by the registry double")
        if name not in ANSWERED:
            raise BadRequest(f"Invalid prefix in parameter name: {name}")


def parse_criteria(params: Mapping[str, str]) -> Criteria | None:
    """The search conditions in ``params`` (None: it asks for none)."""
    terms = tuple(t for key in SEARCH_AREAS if key in params for t in _terms(key, params[key]))
    statuses = None
    if "filter.overallStatus" in params:
        statuses = frozenset(s.upper() for s in split_list(params["filter.overallStatus"]))
        for status in statuses - STATUSES:
            raise BadRequest(f"Invalid value in parameter `overallStatus`: `{status}`")
    agg = _agg(params["aggFilters"]) if "aggFilters" in params else ()
    if not terms and statuses is None and not agg:
        return None
    return Criteria(terms, statuses, agg)


def _terms(key: str, value: str) -> list[Terms]:
    parts = [p for p in re.split(r",(?=\s*AREA\[)", value) if p.strip()]
    out = []
    for part in parts:
        pieces, text = SEARCH_AREAS[key], part
        match = _AREA_PART.match(part)
        if match is not None:
            info = field_table().resolve(match.group(1).strip())
            if info is None:
                raise BadRequest(f"Error parsing query in {key}: Unknown area name: `{match[1]}`")
            pieces, text = (info.piece,), match.group(2)
        words = [(q or w) for q, w in _TERM.findall(text)]
        if any(w in _OPERATORS or "(" in w or ")" in w for w in words):
            raise BadRequest(
                f"Error parsing query in {key}: operators and parentheses are not supported "
                "by the registry double"
            )
        if words:
            out.append((pieces, tuple(w.lower() for w in words)))
    return out


def _agg(value: str) -> tuple[tuple[str, frozenset[str]], ...]:
    out = []
    for pair in split_list(value):
        name, _, options = pair.partition(":")
        table = AGG_VALUES.get(name.strip())
        if table is None:
            raise BadRequest(f"aggFilters filter `{name}` is not supported by the registry double")
        # an unknown option key maps to nothing: matches nothing, as on the registry
        out.append((name.strip(), frozenset(table[o] for o in options.split() if o in table)))
    return tuple(out)


class Facets:
    """The texts and codes of one study that the rules read (lower-cased texts)."""

    def __init__(self, study: Mapping[str, Any]) -> None:
        self._study = study
        self._texts: dict[str, tuple[str, ...]] = {}
        self.status = _first(_values(study, _path("OverallStatus")))
        self._dates: dict[str, str | None] = {}

    def texts(self, pieces: Sequence[str]) -> list[str]:
        if not pieces:
            return [self._all()]
        return [t for piece in pieces for t in self._piece(piece)]

    def agg_values(self, name: str) -> set[str]:
        if name == "status":
            return {self.status} if self.status else set()
        if name == "phase":
            return set(_values(self._study, _path("Phase")))
        kind = _first(_values(self._study, _path("StudyType")))
        registry = _values(self._study, _path("PatientRegistry")) == [True]
        return {kind or "", "REGISTRY"} if registry else {kind or ""}

    def date(self, path: str) -> str | None:
        if path not in self._dates:
            self._dates[path] = _first(_values(self._study, path))
        return self._dates[path]

    def _piece(self, piece: str) -> tuple[str, ...]:
        if piece not in self._texts:
            found = _values(self._study, _path(piece))
            self._texts[piece] = tuple(str(v).lower() for v in found if isinstance(v, str))
        return self._texts[piece]

    def _all(self) -> str:
        if "*" not in self._texts:
            self._texts["*"] = (" ".join(_strings(self._study)).lower(),)
        return self._texts["*"][0]


class SearchIndex:
    """Facets per study, taken lazily from the double's stored JSON, dropped on change."""

    def __init__(self) -> None:
        self._facets: dict[str, Facets] = {}

    def forget(self, nct_id: str) -> None:
        self._facets.pop(nct_id, None)

    def select(
        self,
        candidates: Iterable[str],
        bodies: Mapping[str, str],
        clauses: Sequence[Clause],
        criteria: Criteria | None,
    ) -> list[str]:
        """The candidates whose dates are in every clause's range and that meet ``criteria``."""
        out = []
        for nct in candidates:
            facets = self._facets.get(nct)
            if facets is None:
                facets = self._facets[nct] = Facets(json.loads(bodies[nct]))
            if all(in_range(facets.date(path), low, high) for path, low, high in clauses) and (
                criteria is None or criteria.matches(facets)
            ):
                out.append(nct)
        return out


def _path(piece: str) -> str:
    info = field_table().resolve(piece)
    assert info is not None, piece
    return info.path


def _values(value: Any, path: str) -> list[Any]:
    """Every value at a dotted path, lists expanded at any level."""
    current = [value]
    for key in path.split("."):
        following = []
        for item in current:
            items = item if isinstance(item, list) else [item]
            following += [i[key] for i in items if isinstance(i, dict) and key in i]
        current = following
    return [v for item in current for v in (item if isinstance(item, list) else [item])]


def _first(values: list[Any]) -> str | None:
    return next((v for v in values if isinstance(v, str)), None)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
