"""Search URLs -> API v2 parameters, table by table from API_FACTS §12 (ctrdata's mapping)."""

from __future__ import annotations

import pytest

from watcher.core.search_url import (
    SearchQuery,
    SearchQueryError,
    from_params,
    from_url,
    looks_like_url,
    suggested_name,
)

SITE = "https://clinicaltrials.gov/search?"

# (website query string, the API parameters it becomes) - one row per fact of §12
TRANSLATIONS = [
    ("cond=Rectal%20Cancer", {"query.cond": "Rectal Cancer"}),
    ("term=AREA%5BConditionSearch%5D%22x%22", {"query.term": 'AREA[ConditionSearch]"x"'}),
    ("intr=PD-1", {"query.intr": "PD-1"}),
    ("titles=CAPEOX", {"query.titles": "CAPEOX"}),
    ("outc=survival", {"query.outc": "survival"}),
    ("spons=Roche", {"query.spons": "Roche"}),
    ("lead=Roche", {"query.lead": "Roche"}),
    ("id=ABC-123", {"query.id": "ABC-123"}),
    ("locn=Mayo%20Clinic", {"query.locn": "AREA[LocationFacility]Mayo Clinic"}),
    ("country=France", {"query.locn": "AREA[LocationCountry]France"}),
    ("state=Ohio", {"query.locn": "AREA[LocationState]Ohio"}),
    ("city=Lyon", {"query.locn": "AREA[LocationCity]Lyon"}),
    (  # several location parts: one query.locn, joined with ","
        "locn=X&country=United%20States",
        {"query.locn": "AREA[LocationFacility]X,AREA[LocationCountry]United States"},
    ),
    (  # state equal to city: dropped, as ctrdata does
        "city=New%20York&state=New%20York&country=United%20States",
        {"query.locn": "AREA[LocationCountry]United States,AREA[LocationCity]New York"},
    ),
    (  # locStr is a display string: dropped when a place is given
        "locStr=Lyon,%20France&city=Lyon&country=France",
        {"query.locn": "AREA[LocationCountry]France,AREA[LocationCity]Lyon"},
    ),
    ("lat=41.5&lng=-81.7&distance=50", {"filter.geo": "distance(41.5,-81.7,50mi)"}),
    ("aggFilters=results:with,status:com", {"aggFilters": "results:with,status:com"}),
    ("start=2023-01-01_2023-12-31",
     {"filter.advanced": "AREA[StartDate]RANGE[2023-01-01,2023-12-31]"}),
    ("primComp=_2025-06-30", {"filter.advanced": "AREA[PrimaryCompletionDate]RANGE[MIN,2025-06-30]"}),
    ("studyComp=2024-01-01_", {"filter.advanced": "AREA[CompletionDate]RANGE[2024-01-01,MAX]"}),
    ("firstPost=2026-01-01_", {"filter.advanced": "AREA[StudyFirstPostDate]RANGE[2026-01-01,MAX]"}),
    ("resFirstPost=2020_2021", {"filter.advanced": "AREA[ResultsFirstPostDate]RANGE[2020,2021]"}),
    ("lastUpdPost=2026-01-05_", {"filter.advanced": "AREA[LastUpdatePostDate]RANGE[2026-01-05,MAX]"}),
    ("ageRange=18d_64y",
     {"filter.advanced": "AREA[MinimumAge]RANGE[18d, MAX] AND AREA[MaximumAge]RANGE[MIN, 64y]"}),
    (  # every date clause ANDed into one filter.advanced
        "start=2023-01-01_&lastUpdPost=2026-01-05_",
        {"filter.advanced": "AREA[StartDate]RANGE[2023-01-01,MAX] AND "
                            "AREA[LastUpdatePostDate]RANGE[2026-01-05,MAX]"},
    ),
    (  # UI-only parameters are dropped; empty ones ask for nothing
        "cond=asthma&sort=LastUpdatePostDate&rank=3&viewType=Card&page=2&intr=",
        {"query.cond": "asthma"},
    ),
]  # fmt: skip


@pytest.mark.parametrize(("query", "params"), TRANSLATIONS, ids=[q for q, _ in TRANSLATIONS])
def test_website_parameters_translate_as_api_facts_say(query: str, params: dict[str, str]) -> None:
    assert from_url(SITE + query).mapping == params


def test_the_combined_example_of_the_issue() -> None:
    url = (
        "https://clinicaltrials.gov/search?cond=Rectal%20Cancer&intr=PD-1"
        "&aggFilters=status:rec%20not"
    )
    query = from_url(url)
    assert query.mapping == {
        "query.cond": "Rectal Cancer",
        "query.intr": "PD-1",
        "aggFilters": "status:rec not",
    }
    assert query.params == tuple(sorted(query.mapping.items()))  # canonical order
    assert SearchQuery.from_fingerprint(query.fingerprint) == query


def test_aggfilters_are_checked_and_merged_one_pair_per_filter() -> None:
    query = from_url(SITE + "aggFilters=status:rec,phase:2%203,status:not%20REC,phase:na")
    assert query.mapping["aggFilters"] == "status:rec not,phase:2 3 NA"


# (query string, the problem named) - every refusal names the parameter or option itself
REFUSALS = [
    ("cond=x&foo=1", "unknown URL parameter 'foo'"),
    ("cond=x&aggFilters=phase:phase3", "unknown aggFilters option 'phase3' for 'phase'"),
    ("cond=x&aggFilters=stage:3", "unknown aggFilters filter 'stage'"),
    ("cond=x&aggFilters=status", "aggFilters pair 'status' is not filter:options"),
    ("cond=x&aggFilters=status:", "aggFilters filter 'status' has no option"),
    ("locStr=Paris", "URL parameter 'locStr' is a display name only"),
    ("id=NCT06850103", "URL parameter 'id' is made only of NCT IDs"),
    ("term=NCT06850103,%20nct05180006", "URL parameter 'term' is made only of NCT IDs"),
    ("cond=x&cond=y", "URL parameter 'cond' is given more than once"),
    ("start=2023-01-01", "URL parameter 'start' should be FROM_TO"),
    ("start=01/02/2023_", "URL parameter 'start': '01/02/2023' is not a date"),
    ("lat=41.5&lng=-81.7", "URL parameter 'lat' needs 'distance' too"),
    ("patient=asthma", "URL parameter 'patient' has no established API form"),
    ("sort=x", "the URL has no search parameters"),
]


@pytest.mark.parametrize(("query", "problem"), REFUSALS, ids=[q for q, _ in REFUSALS])
def test_mistakes_are_refused_naming_the_parameter(query: str, problem: str) -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_url(SITE + query)
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_every_mistake_is_named_at_once() -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_url(SITE + "foo=1&bar=2&aggFilters=phase:phase3")
    assert caught.value.problems[:2] == [
        "unknown URL parameter 'foo'",
        "unknown URL parameter 'bar'",
    ]
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    "url",
    [
        "https://example.org/search?cond=x",
        "ftp://clinicaltrials.gov/search?cond=x",
        "https://clinicaltrials.gov/study/NCT06850103",
        "https://clinicaltrials.gov.evil.example/search?cond=x",
        "https://[clinicaltrials.gov/search?cond=x",  # urlsplit itself refuses it
    ],
)
def test_only_registry_search_urls_are_read(url: str) -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_url(url)
    assert "is not a registry search URL" in str(caught.value)


def test_a_url_python_cannot_split_is_named_not_a_crash() -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_url("https://[clinicaltrials.gov/search?cond=x")
    assert caught.value.problems == [
        "'https://[clinicaltrials.gov/search?cond=x' is not a registry search URL "
        "(Invalid IPv6 URL; copy it from https://clinicaltrials.gov/search?… after searching)"
    ]


def test_the_site_without_scheme_www_and_the_expert_page_are_searches() -> None:
    for url in (
        "clinicaltrials.gov/search?cond=x",
        "https://www.clinicaltrials.gov/search/?cond=x",
        "https://clinicaltrials.gov/expert-search?term=x",
    ):
        assert looks_like_url(url)
        assert from_url(url).params


def test_an_api_url_is_read_as_its_parameters() -> None:
    url = "https://clinicaltrials.gov/api/v2/studies?query.cond=asthma&filter.overallStatus=recruiting"
    assert from_url(url).mapping == {
        "query.cond": "asthma",
        "filter.overallStatus": "RECRUITING",
    }
    with pytest.raises(SearchQueryError, match="params key 'pageSize' is set by ctwatch"):
        from_url(url + "&pageSize=5")


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"query.cnd": "x"}, "unknown params key 'query.cnd'"),
        ({"query.cond": "x", "fields": "NCTId"}, "params key 'fields' is set by ctwatch"),
        ({"filter.ids": "NCT06850103"}, "params key 'filter.ids': a list of trials is a [[watch]]"),
        ({"query.cond": "x", "filter.overallStatus": "OPEN"}, "unknown status 'OPEN'"),
        ({"query.cond": "x", "aggFilters": "phase:phase3"}, "unknown aggFilters option 'phase3'"),
        ({"query.id": "NCT06850103 NCT05180006"}, "params key 'query.id' is made only of NCT IDs"),
        ({"query.cond": " "}, "params key 'query.cond' is empty"),
        ({}, "params has no search parameters"),
    ],
)
def test_params_are_checked_like_urls(params: dict[str, str], problem: str) -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_params(params)
    assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_params_pass_api_parameters_through() -> None:
    query = from_params(
        {
            "query.cond": "Rectal Cancer",
            "filter.overallStatus": "recruiting, NOT_YET_RECRUITING",
            "filter.advanced": "AREA[StartDate]RANGE[2024-01-01,MAX]",
        }
    )
    assert query.mapping["filter.overallStatus"] == "RECRUITING|NOT_YET_RECRUITING"
    assert query.mapping["filter.advanced"] == "AREA[StartDate]RANGE[2024-01-01,MAX]"


def test_names_for_searches_made_in_slack_are_readable_and_free() -> None:
    query = from_url(SITE + "cond=Rectal%20Cancer&intr=PD-1&country=France&aggFilters=status:rec")
    assert suggested_name(query) == "rectal-cancer-pd-1-france"
    assert suggested_name(query, ["rectal-cancer-pd-1-france"]) == "rectal-cancer-pd-1-france-2"
    only_filters = from_url(SITE + "aggFilters=phase:3")
    assert suggested_name(only_filters) == "phase-3"


def test_a_hostile_parameter_is_quoted_short_and_inert() -> None:
    with pytest.raises(SearchQueryError) as caught:
        from_url(SITE + "cond=x&" + "%1B%5B31m" + "y" * 500 + "=1")
    (problem,) = caught.value.problems
    assert problem.startswith("unknown URL parameter '\\x1b[31myyy")  # the escape shown, inert
    assert "\x1b" not in problem and len(problem) < 100
