"""Contract: the registry's own ``/studies`` pages, byte for byte, through the client's parsing.

The pages in tests/fixtures/ctgov/pages were captured from ClinicalTrials.gov by
other projects (provenance in tests/fixtures/MANIFEST.tsv): full records and
``fields=``-restricted search pages, with and without ``totalCount`` and
``nextPageToken``. An httpx transport serves each file's bytes unchanged, so
what is pinned here is how :class:`~watcher.registry.client.RegistryClient` and
:class:`~watcher.registry.searches.SearchReader` read the real answers: which
studies, what count, which token is followed with which parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.paths import CTGOV
from watcher.core.search_url import SearchQuery
from watcher.registry.client import RegistryClient
from watcher.registry.errors import RegistryUnavailable
from watcher.registry.http import HttpPolicy
from watcher.registry.searches import SearchReader, TooManyMatches

PAGES = sorted((CTGOV / "pages").glob("*.page.json"))
BASE = "https://clinicaltrials.gov/api/v2"
END = b'{"studies": []}'  # what the registry serves past the last page: no token


def page(name: str) -> bytes:
    return (CTGOV / "pages" / f"{name}.page.json").read_bytes()


def ids(body: bytes) -> list[str]:
    studies = json.loads(body)["studies"]
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in studies]


class PageServer:
    """Answers ``GET /studies`` with the given bodies in order (then :data:`END`), as JSON,
    and keeps every request it was sent."""

    def __init__(self, *bodies: bytes) -> None:
        self.bodies = list(bodies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        assert request.url.path == "/api/v2/studies", request.url
        body = self.bodies.pop(0) if self.bodies else END
        return httpx.Response(200, content=body, headers={"content-type": "application/json"})

    def params(self, index: int) -> dict[str, str]:
        return dict(self.requests[index].url.params)

    def client(self) -> RegistryClient:
        policy = HttpPolicy(pace=0, retries=0, backoff=0, timeout=5, deadline=10)
        return RegistryClient(BASE, policy, transport=httpx.MockTransport(self))


def test_there_are_real_pages_of_every_shape() -> None:
    bodies = [json.loads(p.read_bytes()) for p in PAGES]
    assert len(bodies) >= 10
    shapes = {("totalCount" in b, "nextPageToken" in b) for b in bodies}
    assert shapes == {(True, True), (True, False), (False, True), (False, False)}


@pytest.mark.parametrize("path", PAGES, ids=lambda p: p.name.removesuffix(".page.json"))
def test_a_first_page_gives_its_studies_and_its_count(path: Path) -> None:
    raw = path.read_bytes()
    expected: dict[str, Any] = json.loads(raw)
    server = PageServer(raw)
    params = {"query.cond": "x", "fields": "NCTId,BriefTitle", "pageSize": "5"}
    with server.client() as client:
        first = next(iter(client.pages(params)))
    assert first.studies == expected["studies"]  # every value as the registry wrote it
    assert first.total == expected.get("totalCount")
    assert server.params(0) == {**params, "countTotal": "true"}  # only the first page counts
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    "path",
    [p for p in PAGES if "nextPageToken" in json.loads(p.read_bytes())],
    ids=lambda p: p.name.removesuffix(".page.json"),
)
def test_the_real_token_is_followed_with_the_same_parameters(path: Path) -> None:
    raw = path.read_bytes()
    token = json.loads(raw)["nextPageToken"]
    server = PageServer(raw)
    params = {"query.intr": "Keytruda", "fields": "NCTId,OverallStatus", "pageSize": "3"}
    with server.client() as client:
        pages = list(client.pages(params))
    assert [len(p.studies) for p in pages] == [len(json.loads(raw)["studies"]), 0]
    assert pages[1].total is None
    assert server.params(1) == {**params, "pageToken": token}  # no countTotal after the first


def test_a_fields_restricted_search_page_is_a_preview() -> None:
    raw = page("biomcp_search_keytruda_limit3_20260811")
    server = PageServer(raw)
    query = SearchQuery.of({"query.intr": '"Keytruda"'})
    with server.client() as client:
        preview = SearchReader(client).preview(query, rows=3)
    studies = json.loads(raw)["studies"]
    assert preview.total == 2924
    assert [(r.nct_id, r.status, r.title) for r in preview.rows] == [
        (
            s["protocolSection"]["identificationModule"]["nctId"],
            s["protocolSection"]["statusModule"]["overallStatus"],
            s["protocolSection"]["identificationModule"]["briefTitle"],
        )
        for s in studies
    ]
    sent = server.params(0)
    assert sent["fields"] == "NCTId,BriefTitle,OverallStatus" and sent["pageSize"] == "3"
    assert sent["query.intr"] == '"Keytruda"' and len(server.requests) == 1


def test_a_search_counted_past_its_limit_stops_at_the_first_page() -> None:
    server = PageServer(page("biomcp_search_age_count_20260811"))  # totalCount 598,101
    with server.client() as client, pytest.raises(TooManyMatches) as too_many:
        SearchReader(client).members(SearchQuery.of({"query.term": "cancer"}), 5000)
    assert too_many.value.count == 598101 and str(too_many.value) == "598,101 trials match"
    assert len(server.requests) == 1  # the other 598 pages are never asked for


@pytest.mark.parametrize(
    "name", ["biomcp_search_phelan_limit50_20260811", "biomcp_search_nsclc_egfr_l858r_20260811"]
)
def test_a_whole_search_on_one_real_page_gives_its_members(name: str) -> None:
    raw = page(name)
    server = PageServer(raw)
    with server.client() as client:
        members = SearchReader(client).members(SearchQuery.of({"query.cond": "x"}), 100)
    assert members == set(ids(raw)) and len(members) == json.loads(raw)["totalCount"]
    assert server.params(0)["fields"] == "NCTId" and len(server.requests) == 1


def test_real_pages_that_end_short_of_their_count_fail_the_search() -> None:
    """21 counted, 5 + 5 served (the later page carries no totalCount, as the registry
    sends it), then an end: no member may be taken for gone on such an answer."""
    first, later = (
        page("biomcp_search_phelan_limit5_20260811"),
        page("biomcp_search_phelan_next_20260811"),
    )
    server = PageServer(first, later)
    with server.client() as client, pytest.raises(RegistryUnavailable) as short:
        SearchReader(client).members(SearchQuery.of({"query.cond": "Phelan-McDermid"}), 100)
    assert "counted 21 results but served 10 distinct trials" in str(short.value)
    assert server.params(1)["pageToken"] == json.loads(first)["nextPageToken"]
    assert server.params(2)["pageToken"] == json.loads(later)["nextPageToken"]


@pytest.mark.parametrize("name", ["aact_NCT06388018", "aact_NCT03281889"])
def test_a_full_real_record_page_is_fetched_by_id(name: str) -> None:
    raw = page(name)
    (nct,) = ids(raw)
    server = PageServer(raw)
    with server.client() as client:
        result = client.fetch_studies([nct, "NCT09999999"])
    assert result.records == {nct: json.loads(raw)["studies"][0]}
    assert result.missing == ["NCT09999999"] and result.failed == {}  # no count: no doubt
    assert server.params(0)["filter.ids"] == f"{nct},NCT09999999"


def test_a_real_page_with_a_token_and_no_count_is_read_to_its_end() -> None:
    raw = page("cyanheads_studies_2025-06-17T11-16-37-179Z")
    wanted = ids(raw)
    server = PageServer(raw)
    with server.client() as client:
        result = client.fetch_studies(wanted, fields=["NCTId", "BriefTitle"])
    assert sorted(result.records) == sorted(wanted) and result.missing == []
    assert server.params(0)["fields"] == "NCTId,BriefTitle"
    assert server.params(1)["pageToken"] == json.loads(raw)["nextPageToken"]
