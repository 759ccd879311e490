"""The registry double's search rules (watcher/testing/registry_search.py), over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study


def trial(nct: str, title: str, *, conditions: list[str], status: str = "RECRUITING",
          phase: str = "PHASE2", start: str = "2024-03", country: str = "France",
          kind: str = "INTERVENTIONAL", drugs: tuple[str, ...] = ()) -> dict[str, Any]:  # fmt: skip
    study = make_study(nct, title, status=status, phase=phase, sites=1)
    proto = study["protocolSection"]
    proto["conditionsModule"] = {"conditions": conditions, "keywords": ["immunotherapy"]}
    proto["statusModule"]["startDateStruct"] = {"date": start, "type": "ACTUAL"}
    proto["contactsLocationsModule"]["locations"][0]["country"] = country
    proto["designModule"]["studyType"] = kind
    proto["armsInterventionsModule"] = {
        "interventions": [{"type": "DRUG", "name": d} for d in drugs]
    }
    return study


STUDIES = [
    trial("NCT00000001", "Rectal A", conditions=["Rectal Cancer"], drugs=("Pembrolizumab",)),
    trial("NCT00000002", "Rectal B", conditions=["Locally Advanced Rectal Cancer"],
          status="NOT_YET_RECRUITING", phase="PHASE3", start="2025-11-02", country="Japan"),
    trial("NCT00000003", "Colon", conditions=["Colon Cancer"], status="COMPLETED",
          phase="EARLY_PHASE1", start="2019", kind="OBSERVATIONAL"),
    trial("NCT00000004", "Rectal D", conditions=["rectal cancer"], status="TERMINATED",
          drugs=("Nivolumab", "Capecitabine")),
]  # fmt: skip


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with RegistryDouble(STUDIES) as double, httpx.Client(base_url=double.url) as http:
        yield http


def ids(client: httpx.Client, **params: str) -> list[str]:
    response = client.get("/studies", params={"fields": "NCTId", "pageSize": "100", **params})
    assert response.status_code == 200, response.text
    return [
        s["protocolSection"]["identificationModule"]["nctId"] for s in response.json()["studies"]
    ]


def test_terms_match_case_insensitively_every_term_somewhere(client: httpx.Client) -> None:
    assert ids(client, **{"query.cond": "RECTAL cancer"}) == [
        "NCT00000001", "NCT00000002", "NCT00000004",
    ]  # fmt: skip
    assert ids(client, **{"query.cond": '"advanced rectal"'}) == ["NCT00000002"]
    assert ids(client, **{"query.cond": "immunotherapy colon"}) == ["NCT00000003"]  # a keyword
    assert ids(client, **{"query.intr": "nivolumab"}) == ["NCT00000004"]
    assert ids(client, **{"query.titles": "rectal b"}) == ["NCT00000002"]
    assert ids(client, **{"query.term": "capecitabine"}) == ["NCT00000004"]  # anywhere


def test_location_parts_each_hold(client: httpx.Client) -> None:
    locn = "AREA[LocationCountry]Japan"
    assert ids(client, **{"query.locn": locn}) == ["NCT00000002"]
    both = "AREA[LocationFacility]Site 1,AREA[LocationCountry]France"
    assert ids(client, **{"query.locn": both, "query.cond": "rectal"}) == [
        "NCT00000001", "NCT00000004",
    ]  # fmt: skip


def test_status_phase_and_study_type_filters(client: httpx.Client) -> None:
    rectal = {"query.cond": "rectal"}
    assert ids(client, **rectal, **{"filter.overallStatus": "RECRUITING|terminated"}) == [
        "NCT00000001", "NCT00000004",
    ]  # fmt: skip
    assert ids(client, **rectal, aggFilters="status:rec not") == ["NCT00000001", "NCT00000002"]
    assert ids(client, aggFilters="status:rec not,phase:3") == ["NCT00000002"]
    assert ids(client, aggFilters="phase:0") == ["NCT00000003"]
    assert ids(client, aggFilters="studyType:obs") == ["NCT00000003"]
    assert ids(client, aggFilters="phase:phase3") == []  # a wrong key matches nothing


def test_date_ranges_on_any_date_field_and_with_ids(client: httpx.Client) -> None:
    since = "AREA[StartDate]RANGE[2024-01-01,MAX]"
    assert ids(client, **{"filter.advanced": since}) == [
        "NCT00000001", "NCT00000002", "NCT00000004",
    ]  # fmt: skip
    both = f"({since}) AND AREA[StartDate]RANGE[MIN,2024]"  # a month counts as its first day
    assert ids(client, **{"filter.advanced": both}) == ["NCT00000001", "NCT00000004"]
    combined = {"filter.advanced": since, "filter.ids": "NCT00000002,NCT00000003"}
    assert ids(client, **combined, **{"query.cond": "rectal"}) == ["NCT00000002"]


def test_count_total_counts_the_search(client: httpx.Client) -> None:
    params = {"query.cond": "rectal", "pageSize": "2", "countTotal": "true", "fields": "NCTId"}
    first = client.get("/studies", params=params).json()
    assert first["totalCount"] == 3 and len(first["studies"]) == 2
    rest = client.get("/studies", params={**params, "pageToken": first["nextPageToken"]}).json()
    assert "totalCount" not in rest and len(rest["studies"]) == 1


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"query.cnd": "x"}, "Invalid prefix in parameter name: query.cnd"),
        ({"filter.geo": "distance(1,2,3mi)"}, "not supported by the registry double"),
        ({"aggFilters": "ages:adult"}, "aggFilters filter `ages` is not supported"),
        ({"query.cond": "a OR b"}, "operators and parentheses are not supported"),
        ({"query.locn": "AREA[Nowhere]x"}, "Unknown area name"),
        ({"filter.overallStatus": "OPEN"}, "Invalid value in parameter `overallStatus`: `OPEN`"),
        ({"filter.advanced": "AREA[MinimumAge]RANGE[18 years,MAX]"}, "is not a date"),
    ],
)
def test_what_the_double_does_not_understand_is_a_400(
    client: httpx.Client, params: dict[str, str], message: str
) -> None:
    response = client.get("/studies", params=params)
    assert response.status_code == 400
    assert message in response.text
