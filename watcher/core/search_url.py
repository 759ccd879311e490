"""A registry search, as API v2 parameters: from a pasted website URL or from ``params``.

Why a module of its own, and pure: the translation is the one place where a
search can go silently wrong. A wrong ``aggFilters`` option key is no error on
the registry - it matches nothing, for ever (a public project asked for
``phase:phase3`` and got 0 studies on every call); a ``locStr`` without its
``country``/``state``/``city`` searches a display string (the site showed
3,203 studies, the naive translation fetched 7); a query made only of NCT IDs
makes the registry ignore every filter. So every such mistake is refused here,
naming the parameter or option itself, before anything is recorded. It lives
in ``core`` because the config checks every search when it is loaded (the
config layer sits below the registry client, which sends these parameters).

The mapping follows API_FACTS §12 (ctrdata's tested translation):
``cond``/``term``/``intr``/``titles``/``outc``/``spons``/``lead``/``id`` ->
``query.*``; ``locn``, ``country``, ``state``, ``city`` -> one ``query.locn``
of ``AREA[Location…]`` parts joined with ``,``; ``lat``/``lng``/``distance``
-> ``filter.geo`` (miles assumed: the site's unit is not established); date
ranges and ``ageRange`` -> clauses ANDed into one ``filter.advanced``;
``aggFilters`` validated and passed on (one pair per filter); ``sort``,
``rank``, ``viewType`` and ``page`` dropped (UI only). An API URL
(``…/api/v2/studies?query.cond=…``) is read as ``params``.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit

SITE_HOSTS = frozenset({"clinicaltrials.gov", "www.clinicaltrials.gov"})
SEARCH_PATHS = frozenset({"/search", "/expert-search"})
API_PATH = "/api/v2/studies"
QUERY_KEYS = {
    "cond": "query.cond",
    "term": "query.term",
    "intr": "query.intr",
    "titles": "query.titles",
    "outc": "query.outc",
    "spons": "query.spons",
    "lead": "query.lead",
    "id": "query.id",
}
LOCATION_KEYS = {  # in the order they are joined into query.locn
    "locn": "LocationFacility",
    "country": "LocationCountry",
    "state": "LocationState",
    "city": "LocationCity",
}
DATE_KEYS = {
    "start": "StartDate",
    "primComp": "PrimaryCompletionDate",
    "studyComp": "CompletionDate",
    "firstPost": "StudyFirstPostDate",
    "resFirstPost": "ResultsFirstPostDate",
    "lastUpdPost": "LastUpdatePostDate",
}
UI_ONLY = frozenset({"sort", "rank", "viewType", "page"})
GEO_KEYS = ("lat", "lng", "distance")
KNOWN_URL_KEYS = frozenset(
    [*QUERY_KEYS, *LOCATION_KEYS, *DATE_KEYS, *GEO_KEYS, *UI_ONLY, "locStr", "ageRange",
     "aggFilters"]
)  # fmt: skip
AGG_OPTIONS: dict[str, tuple[str, ...]] = {
    "status": ("rec", "act", "not", "com", "ter", "enr", "sus", "wit", "unk",
               "ava", "nla", "tna", "afm"),
    "phase": ("0", "1", "2", "3", "4", "NA"),
    "studyType": ("int", "obs", "obs_patreg", "exp", "exp_treat", "exp_indiv", "exp_inter"),
    "ages": ("child", "adult", "older"),
    "results": ("with", "without"),
    "docs": ("prot", "sap", "icf"),
    "funderType": ("industry", "nih", "fed", "other"),
    "sex": ("f", "m"),
    "healthy": ("y",),
    "violation": ("y",),
    "ressub": (),  # added 2026-01-22; its option keys are not established: passed as given
}  # fmt: skip
STATUSES = frozenset({
    "ACTIVE_NOT_RECRUITING", "COMPLETED", "ENROLLING_BY_INVITATION", "NOT_YET_RECRUITING",
    "RECRUITING", "SUSPENDED", "TERMINATED", "WITHDRAWN", "AVAILABLE", "NO_LONGER_AVAILABLE",
    "TEMPORARILY_NOT_AVAILABLE", "APPROVED_FOR_MARKETING", "WITHHELD", "UNKNOWN",
})  # fmt: skip
API_KEYS = frozenset(
    [*QUERY_KEYS.values(), "query.locn", "query.patient", "aggFilters"]
    + [f"{prefix}.{name}" for prefix in ("filter", "postFilter")
       for name in ("overallStatus", "geo", "advanced", "synonyms")]
)  # fmt: skip
SET_BY_CTWATCH = frozenset({"fields", "pageSize", "pageToken", "countTotal", "format",
                            "markupFormat", "sort"})  # fmt: skip
_NCT_ONLY = re.compile(r"^\s*(?:NCT[0-9]{8}[\s,]*)+$", re.IGNORECASE)
_DATE = re.compile(r"^[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?$")
_AGE = re.compile(r"^[0-9]+(?:\.[0-9]+)?[dwmy]?$")
_NUMBER = re.compile(r"^-?[0-9]+(?:\.[0-9]+)?$")
_DISTANCE = re.compile(r"^[0-9]+(?:\.[0-9]+)?(?:mi|km)?$")
_SLUG = re.compile(r"[^a-z0-9]+")
_AREA = re.compile(r"AREA\[[^\]]*\]")


_SPELLED_OUT = {
    "condition": "cond", "conditions": "cond", "disease": "cond",
    "intervention": "intr", "interventions": "intr", "treatment": "intr",
    "sponsor": "spons", "location": "locn", "title": "titles", "outcome": "outc",
    "status": "aggFilters", "phase": "aggFilters",
}  # fmt: skip
"""Words people type for the site's short parameter names."""


def _did_you_mean(key: str) -> str:
    """`` (did you mean 'cond'?)`` for a misspelt or spelled-out parameter name."""
    known = sorted(KNOWN_URL_KEYS)
    guess = _SPELLED_OUT.get(key.lower())
    if guess is None:
        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        guess = close[0] if close else None
    return f" (did you mean {guess!r}?)" if guess else ""


def _q(text: str, limit: int = 60) -> str:
    """A user's text as quoted in a problem: ``repr`` (control characters shown), cut."""
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


class SearchQueryError(ValueError):
    """A search that cannot be translated; ``problems`` names each offending part."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


@dataclass(frozen=True)
class SearchQuery:
    """API v2 ``/studies`` parameters of one search, sorted by name (the canonical form)."""

    params: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, params: Mapping[str, str]) -> SearchQuery:
        return cls(tuple(sorted(params.items())))

    @property
    def mapping(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def fingerprint(self) -> str:
        """The parameters as one JSON text: the same search is the same text."""
        return json.dumps(dict(self.params), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_fingerprint(cls, text: str) -> SearchQuery:
        """Read back a :attr:`fingerprint` (checked again, as ``params``)."""
        value = json.loads(text)
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise SearchQueryError(["a stored search is not a table of text parameters"])
        return from_params(value)

    def describe(self, limit: int = 200) -> str:
        """``query.cond=Rectal Cancer · aggFilters=status:rec not`` (cut to ``limit``)."""
        text = " · ".join(f"{k}={v}" for k, v in self.params)
        return text if len(text) <= limit else text[: limit - 1] + "…"


def looks_like_url(text: str) -> bool:
    """Whether a user's text is meant as a URL (not an NCT ID or a name)."""
    return "://" in text or text.lower().startswith(("clinicaltrials.gov/", "www."))


def from_url(url: str) -> SearchQuery:
    """The API parameters of a website search URL (or an API ``/studies`` URL)."""
    text = url.strip()
    try:  # urlsplit refuses some texts outright: a '[' in the host (an unclosed IPv6 form)
        parts = urlsplit(text if "://" in text else "https://" + text)
        host = (parts.hostname or "").lower()
    except ValueError as exc:
        raise SearchQueryError([_not_a_search(text, f"{exc}; ")]) from None
    path = parts.path.rstrip("/") or "/"
    if parts.scheme not in ("http", "https") or host not in SITE_HOSTS:
        raise SearchQueryError([_not_a_search(text)])
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    if path == API_PATH:
        repeated = _repeated(pairs, "API parameter")
        if repeated:
            raise SearchQueryError(repeated)
        return from_params(dict(pairs))
    if path not in SEARCH_PATHS:
        raise SearchQueryError([_not_a_search(text)])
    problems = _repeated(pairs, "URL parameter")
    for key in dict.fromkeys(k for k, _ in pairs):
        if key == "patient":
            problems.append(
                "URL parameter 'patient' has no established API form; use "
                'params = { "query.patient" = "…" } instead'
            )
        elif key not in KNOWN_URL_KEYS:
            problems.append(f"unknown URL parameter {_q(key)}{_did_you_mean(key)}")
    given = {k: v.strip() for k, v in pairs if v.strip()}  # an empty one asks for nothing
    params = {QUERY_KEYS[k]: v for k, v in given.items() if k in QUERY_KEYS}
    _location(given, params, problems)
    _geo(given, params, problems)
    _advanced(given, params, problems)
    if "aggFilters" in given:
        params["aggFilters"] = _agg_filters(given["aggFilters"], problems)
    problems += _nct_only(params, {v: k for k, v in QUERY_KEYS.items()})
    if not params and not problems:
        problems.append("the URL has no search parameters (it would match the whole registry)")
    if problems:
        raise SearchQueryError(problems)
    return SearchQuery.of(params)


def from_params(given: Mapping[str, str]) -> SearchQuery:
    """Check API parameters written by hand (``params = { "query.cond" = "…" }``)."""
    problems: list[str] = []
    params: dict[str, str] = {}
    for key, raw in given.items():
        value = raw.strip()
        if key in SET_BY_CTWATCH:
            problems.append(f"params key {_q(key)} is set by ctwatch; leave it out")
        elif key in ("filter.ids", "postFilter.ids"):
            problems.append(f"params key {_q(key)}: a list of trials is a [[watch]], not a search")
        elif key not in API_KEYS:
            problems.append(f"unknown params key {_q(key)}")
        elif not value:
            problems.append(f"params key {_q(key)} is empty")
        elif key == "aggFilters":
            params[key] = _agg_filters(value, problems)
        elif key.endswith(".overallStatus"):
            params[key] = _statuses(key, value, problems)
        else:
            params[key] = value
    problems += _nct_only(params, {})
    if not params and not problems:
        problems.append("params has no search parameters (it would match the whole registry)")
    if problems:
        raise SearchQueryError(problems)
    return SearchQuery.of(params)


def suggested_name(query: SearchQuery, taken: Iterable[str] = ()) -> str:
    """A readable name for a search made in Slack: ``rectal-cancer-pd-1`` (``-2`` if taken)."""
    values = [v for k, v in query.params if k.startswith("query.")] or [
        v for k, v in query.params if k == "aggFilters"
    ]
    words = _SLUG.sub("-", _AREA.sub(" ", " ".join(values)).lower()).strip("-")
    base = words[:40].strip("-") or "search"
    used = set(taken)
    name, number = base, 2
    while name in used:
        name, number = f"{base}-{number}", number + 1
    return name


def _not_a_search(url: str, why: str = "") -> str:
    shown = url if len(url) <= 80 else url[:79] + "…"
    return (
        f"{shown!r} is not a registry search URL "
        f"({why}copy it from https://clinicaltrials.gov/search?… after searching)"
    )


def _repeated(pairs: list[tuple[str, str]], what: str) -> list[str]:
    seen: set[str] = set()
    twice: dict[str, None] = {}
    for key, _ in pairs:
        if key in seen:
            twice[key] = None
        seen.add(key)
    return [f"{what} {_q(key)} is given more than once" for key in twice]


def _location(given: Mapping[str, str], params: dict[str, str], problems: list[str]) -> None:
    """``locn``/``country``/``state``/``city`` -> one ``query.locn``; ``locStr`` alone refused."""
    place = {k: given[k] for k in LOCATION_KEYS if k in given}
    if place.get("state") is not None and place.get("state") == place.get("city"):
        del place["state"]  # as ctrdata does: the site repeats a city-state
    if "locStr" in given and not place.keys() & {"country", "state", "city"}:
        problems.append(
            "URL parameter 'locStr' is a display name only: without 'country', 'state' or "
            "'city' it cannot be searched (pick the place from the site's list, then copy the URL)"
        )
    if place:
        params["query.locn"] = ",".join(f"AREA[{LOCATION_KEYS[k]}]{v}" for k, v in place.items())


def _geo(given: Mapping[str, str], params: dict[str, str], problems: list[str]) -> None:
    present = [k for k in GEO_KEYS if k in given]
    if not present:
        return
    if len(present) < len(GEO_KEYS):
        missing = ", ".join(repr(k) for k in GEO_KEYS if k not in given)
        problems.append(f"URL parameter {_q(present[0])} needs {missing} too (a distance search)")
        return
    lat, lng, distance = (given[k] for k in GEO_KEYS)
    for key, value in (("lat", lat), ("lng", lng)):
        if not _NUMBER.match(value):
            problems.append(f"URL parameter {_q(key)} is not a number: {_q(value)}")
    if not _DISTANCE.match(distance):
        problems.append(f"URL parameter 'distance' is not a distance: {_q(distance)}")
        return
    unit = "" if distance.endswith(("mi", "km")) else "mi"
    params["filter.geo"] = f"distance({lat},{lng},{distance}{unit})"


def _advanced(given: Mapping[str, str], params: dict[str, str], problems: list[str]) -> None:
    """Date ranges and ``ageRange``, ANDed into one ``filter.advanced``."""
    clauses = []
    for key, area in DATE_KEYS.items():
        if key in given:
            bounds = _range(key, given[key], _DATE, "a date (YYYY-MM-DD)", problems)
            if bounds is not None:
                clauses.append(f"AREA[{area}]RANGE[{bounds[0] or 'MIN'},{bounds[1] or 'MAX'}]")
    if "ageRange" in given:
        ages = _range("ageRange", given["ageRange"], _AGE, "an age (e.g. 18y)", problems)
        if ages is not None:
            if ages[0]:
                clauses.append(f"AREA[MinimumAge]RANGE[{ages[0]}, MAX]")
            if ages[1]:
                clauses.append(f"AREA[MaximumAge]RANGE[MIN, {ages[1]}]")
    if clauses:
        params["filter.advanced"] = " AND ".join(clauses)


def _range(
    key: str, value: str, pattern: re.Pattern[str], what: str, problems: list[str]
) -> tuple[str, str] | None:
    low, sep, high = value.partition("_")
    if not sep:
        shown = f"URL parameter {_q(key)}"
        problems.append(f"{shown} should be FROM_TO (either may be empty): {_q(value)}")
        return None
    bad = [bound for bound in (low, high) if bound and not pattern.match(bound)]
    for bound in bad:
        problems.append(f"URL parameter {_q(key)}: {_q(bound)} is not {what}")
    if not low and not high:
        problems.append(f"URL parameter {_q(key)} has neither bound: {_q(value)}")
        return None
    return None if bad else (low, high)


def _agg_filters(value: str, problems: list[str]) -> str:
    """Validate ``aggFilters``: known filters, known option keys, one pair per filter."""
    merged: dict[str, list[str]] = {}
    for pair in (p.strip() for p in re.split(r"[,|]", value)):
        if not pair:
            continue
        name, sep, options = pair.partition(":")
        name = name.strip()
        known = AGG_OPTIONS.get(name)
        if not sep:
            problems.append(f"aggFilters pair {_q(pair)} is not filter:options (e.g. status:rec)")
            continue
        if known is None:
            known_names = ", ".join(AGG_OPTIONS)
            problems.append(f"unknown aggFilters filter {_q(name)} (known: {known_names})")
            continue
        chosen = merged.setdefault(name, [])
        for option in options.split():
            canonical = next((o for o in known if o.lower() == option.lower()), None)
            if canonical is None and known:
                problems.append(
                    f"unknown aggFilters option {_q(option)} for {_q(name)} "
                    f"(known: {', '.join(known)}; a wrong key matches nothing)"
                )
            elif (canonical or option) not in chosen:
                chosen.append(canonical or option)
        if not options.split():
            problems.append(f"aggFilters filter {_q(name)} has no option")
    return ",".join(f"{name}:{' '.join(options)}" for name, options in merged.items() if options)


def _statuses(key: str, value: str, problems: list[str]) -> str:
    chosen = [s.strip().upper() for s in re.split(r"[,|]", value) if s.strip()]
    for status in chosen:
        if status not in STATUSES:
            problems.append(f"params key {_q(key)}: unknown status {_q(status)}")
    return "|".join(dict.fromkeys(chosen))


def _nct_only(params: Mapping[str, str], website: Mapping[str, str]) -> list[str]:
    """A query made only of NCT IDs switches every filter off (SPEC): that is a watch."""
    out = []
    for key, value in params.items():
        if key.startswith("query.") and _NCT_ONLY.match(value):
            where = (
                f"URL parameter {_q(website[key])}" if key in website else f"params key {_q(key)}"
            )
            out.append(
                f"{where} is made only of NCT IDs ({value[:60]}): the registry then ignores "
                "every filter; watch these trials with a [[watch]] instead"
            )
    return out
