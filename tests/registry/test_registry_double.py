"""The registry double answers like ClinicalTrials.gov API v2 (API_FACTS.md §1-3, §5).

These run real HTTP against 127.0.0.1 with httpx, the same way the registry client
will, so a behaviour pinned here is a behaviour the client can rely on.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.paths import CTGOV
from watcher.testing.registry_double import RegistryDouble

RECORDS = CTGOV / "records"


def make_study(
    nct_id: str,
    *,
    updated: str = "2025-12-01",
    status: str = "RECRUITING",
    aliases: list[str] | None = None,
    facilities: list[str] | None = None,
    has_results: bool | None = None,
) -> dict[str, Any]:
    """A small, real-shaped study record."""
    identification: dict[str, Any] = {
        "nctId": nct_id,
        "orgStudyIdInfo": {"id": f"ORG-{nct_id[-4:]}"},
        "organization": {"fullName": "Example University Hospital", "class": "OTHER"},
        "briefTitle": f"Study {nct_id} of Something Important",
    }
    if aliases:
        identification["nctIdAliases"] = aliases
    protocol: dict[str, Any] = {
        "identificationModule": identification,
        "statusModule": {
            "statusVerifiedDate": updated[:7],
            "overallStatus": status,
            "expandedAccessInfo": {"hasExpandedAccess": False},
            "startDateStruct": {"date": "2025-02", "type": "ACTUAL"},
            "studyFirstSubmitDate": "2025-02-10",
            "lastUpdateSubmitDate": updated,
            "lastUpdatePostDateStruct": {"date": updated, "type": "ACTUAL"},
        },
        "conditionsModule": {"conditions": ["Rectal Cancer"]},
    }
    if facilities is not None:
        protocol["contactsLocationsModule"] = {
            "locations": [
                {"facility": name, "city": "Hangzhou", "country": "China"} for name in facilities
            ]
        }
    study: dict[str, Any] = {
        "protocolSection": protocol,
        "derivedSection": {
            "miscInfoModule": {"versionHolder": "2025-12-01"},
            "conditionBrowseModule": {"meshes": [{"id": "D012004", "term": "Rectal Neoplasms"}]},
        },
    }
    if has_results is not None:
        study["hasResults"] = has_results
    return study


def nct(n: int) -> str:
    return f"NCT{n:08d}"


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    studies = [make_study(nct(n), updated=f"2025-{n % 12 + 1:02d}-15") for n in range(1, 31)]
    with RegistryDouble(studies) as double:
        yield double


@pytest.fixture
def client(registry: RegistryDouble) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=registry.url, timeout=5) as http:
        yield http


def study_ids(page: dict[str, Any]) -> list[str]:
    return [s["protocolSection"]["identificationModule"]["nctId"] for s in page["studies"]]


def test_version_reports_data_timestamp(registry: RegistryDouble, client: httpx.Client) -> None:
    response = client.get("/version")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"apiVersion": "2.0.5", "dataTimestamp": "2026-11-20T09:00:06"}

    registry.set_data_timestamp("2026-11-21T09:00:06")
    assert client.get("/version").json()["dataTimestamp"] == "2026-11-21T09:00:06"


def test_filter_ids_pages_through_the_requested_set(
    registry: RegistryDouble, client: httpx.Client
) -> None:
    wanted = [nct(n) for n in range(3, 28)]  # 25 IDs -> pages of 10, 10, 5
    params = {"filter.ids": ",".join(wanted), "pageSize": "10"}
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        response = client.get(
            "/studies", params={**params, **({"pageToken": token} if token else {})}
        )
        assert response.status_code == 200
        page = response.json()
        pages += 1
        seen += study_ids(page)
        token = page.get("nextPageToken")
        if token is None:
            break
        assert isinstance(token, str)
        assert not re.search(r"NCT|\d{8}", token)  # opaque, not an ID or offset in clear
    assert pages == 3
    assert len(seen) == len(set(seen)) == 25
    assert set(seen) == set(wanted)
    assert seen == sorted(seen)  # the double's order is deterministic: by nctId
    assert [r.params.get("pageToken") is None for r in registry.requests] == [True, False, False]


def test_pipe_separated_ids_and_page_size_coercion(client: httpx.Client) -> None:
    response = client.get(
        "/studies", params={"filter.ids": f"{nct(1)}|{nct(2)}", "pageSize": "99999"}
    )
    assert response.status_code == 200
    assert study_ids(response.json()) == [nct(1), nct(2)]
    assert "nextPageToken" not in response.json()


def test_default_page_size_is_ten_and_no_filter_means_all(client: httpx.Client) -> None:
    first = client.get("/studies").json()
    assert len(first["studies"]) == 10
    assert "totalCount" not in first
    second = client.get("/studies", params={"pageToken": first["nextPageToken"]}).json()
    assert study_ids(second) == [nct(n) for n in range(11, 21)]


@pytest.mark.parametrize("page_size", ["abc", "0", "-5", "1.5"])
def test_bad_page_size_is_400_text(client: httpx.Client, page_size: str) -> None:
    response = client.get("/studies", params={"pageSize": page_size})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")


def test_page_token_reused_with_changed_parameters_is_400(client: httpx.Client) -> None:
    params = {"filter.ids": ",".join(nct(n) for n in range(1, 21)), "pageSize": "5"}
    token = client.get("/studies", params=params).json()["nextPageToken"]

    # pageSize and countTotal may change between pages ...
    same = client.get(
        "/studies", params={**params, "pageSize": "7", "countTotal": "true", "pageToken": token}
    )
    assert same.status_code == 200
    assert study_ids(same.json()) == [nct(n) for n in range(6, 13)]
    assert "totalCount" not in same.json()

    # ... anything else may not.
    changed = client.get("/studies", params={**params, "fields": "NCTId", "pageToken": token})
    assert changed.status_code == 400
    assert changed.headers["content-type"].startswith("text/plain")
    assert changed.text == "Invalid pageToken"

    other_ids = {**params, "filter.ids": nct(1), "pageToken": token}
    assert client.get("/studies", params=other_ids).status_code == 400
    assert client.get("/studies", params={**params, "pageToken": "garbage!"}).status_code == 400


def test_malformed_id_rejects_the_whole_request(client: httpx.Client) -> None:
    response = client.get("/studies", params={"filter.ids": f"{nct(1)},NCT123,{nct(2)}"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == "filter.ids has incorrect format for value NCT123"


def test_unknown_well_formed_ids_are_simply_absent(client: httpx.Client) -> None:
    response = client.get("/studies", params={"filter.ids": f"NCT99999999,{nct(4)},NCT88888888"})
    assert response.status_code == 200
    assert study_ids(response.json()) == [nct(4)]

    empty = client.get("/studies", params={"filter.ids": "NCT99999999"})
    assert empty.status_code == 200
    assert empty.json() == {"studies": []}


def test_alias_matches_and_comes_back_under_canonical_id(
    registry: RegistryDouble, client: httpx.Client
) -> None:
    registry.put(make_study("NCT06850103", aliases=["NCT06000001"]))
    response = client.get("/studies", params={"filter.ids": f"nct06000001,{nct(2)}"})
    assert response.status_code == 200
    assert study_ids(response.json()) == [nct(2), "NCT06850103"]

    # Both the alias and the canonical ID in one request: still one record.
    both = client.get("/studies", params={"filter.ids": "NCT06000001,NCT06850103"})
    assert study_ids(both.json()) == ["NCT06850103"]


def test_fields_projection_keeps_nesting(client: httpx.Client) -> None:
    response = client.get(
        "/studies", params={"filter.ids": nct(1), "fields": "NCTId,LastUpdatePostDate"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "studies": [
            {
                "protocolSection": {
                    "identificationModule": {"nctId": nct(1)},
                    "statusModule": {"lastUpdatePostDateStruct": {"date": "2025-02-15"}},
                }
            }
        ]
    }


def test_fields_modules_paths_lists_and_has_results(registry: RegistryDouble) -> None:
    registry.put(make_study(nct(40), facilities=["Site A", "Site B"], has_results=False))
    with httpx.Client(base_url=registry.url, timeout=5) as client:
        params = {"filter.ids": nct(40)}
        full = client.get("/studies", params=params).json()["studies"][0]
        assert full["hasResults"] is False

        module = client.get("/studies", params={**params, "fields": "StatusModule"}).json()
        assert module["studies"][0] == {
            "protocolSection": {"statusModule": full["protocolSection"]["statusModule"]}
        }

        dotted = client.get(
            "/studies", params={**params, "fields": "protocolSection.statusModule|NCTId"}
        ).json()["studies"][0]
        assert set(dotted["protocolSection"]) == {"identificationModule", "statusModule"}
        assert "hasResults" not in dotted

        listed = client.get("/studies", params={**params, "fields": "LocationFacility"}).json()
        assert listed["studies"][0] == {
            "protocolSection": {
                "contactsLocationsModule": {
                    "locations": [{"facility": "Site A"}, {"facility": "Site B"}]
                }
            }
        }

        flags = client.get("/studies", params={**params, "fields": "NCTId,HasResults"}).json()
        assert flags["studies"][0]["hasResults"] is False

        bad = client.get("/studies", params={**params, "fields": "NCTId,StudyDesign"})
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("text/plain")
        assert bad.text == "Parameter 'fields' contains invalid field name: 'StudyDesign'"


def test_filter_advanced_last_update_range(client: httpx.Client) -> None:
    def matching(expr: str) -> list[str]:
        response = client.get(
            "/studies",
            params={"filter.advanced": expr, "fields": "NCTId", "pageSize": "1000"},
        )
        assert response.status_code == 200, response.text
        return study_ids(response.json())

    # Study n was last updated on 2025-(n % 12 + 1)-15.
    since_november = matching("AREA[LastUpdatePostDate]RANGE[2025-11-01,MAX]")
    assert since_november == [nct(n) for n in range(1, 31) if n % 12 + 1 >= 11]
    window = matching("AREA[LastUpdatePostDate]RANGE[MIN, 2025-02-15]")
    assert window == [nct(n) for n in range(1, 31) if n % 12 + 1 <= 2]
    assert len(matching("AREA[LastUpdatePostDate]RANGE[MIN,MAX]")) == 30
    assert matching("AREA[LastUpdatePostDate]RANGE[2026-01-01,MAX]") == []

    combined = client.get(
        "/studies",
        params={
            "filter.ids": f"{nct(10)},{nct(11)},{nct(12)}",
            "filter.advanced": "AREA[LastUpdatePostDate]RANGE[2025-12-01,MAX]",
        },
    )
    assert study_ids(combined.json()) == [nct(11)]

    for bad in ("AREA[LastUpdatePostDate]2025", "AREA[NoSuchArea]RANGE[MIN,MAX]", "cancer"):
        response = client.get("/studies", params={"filter.advanced": bad})
        assert response.status_code == 400
        assert response.text.startswith("Error parsing query in filter.advanced: ")


def test_count_total_on_first_page_only(client: httpx.Client) -> None:
    params = {"pageSize": "12", "countTotal": "true"}
    first = client.get("/studies", params=params).json()
    assert first["totalCount"] == 30
    second = client.get("/studies", params={**params, "pageToken": first["nextPageToken"]}).json()
    assert "totalCount" not in second
    last = client.get("/studies", params={**params, "pageToken": second["nextPageToken"]}).json()
    assert len(last["studies"]) == 6
    assert "nextPageToken" not in last


def test_overlong_request_line_is_414(registry: RegistryDouble, client: httpx.Client) -> None:
    too_many = ",".join(nct(n) for n in range(1, 1501))  # ~18,000 characters
    response = client.get("/studies", params={"filter.ids": too_many})
    assert response.status_code == 414
    assert response.headers["content-type"].startswith("text/plain")

    half = ",".join(nct(n) for n in range(1, 751))
    again = client.get("/studies", params={"filter.ids": half, "pageSize": "1000"})
    assert again.status_code == 200
    assert len(again.json()["studies"]) == 30
    assert [r.status for r in registry.requests] == [414, 200]


def test_fail_next_503_then_normal(registry: RegistryDouble, client: httpx.Client) -> None:
    registry.fail_next(503, "upstream connect error", times=2)
    registry.fail_next(429, "slow down", headers={"Retry-After": "7"})
    params = {"filter.ids": nct(1)}

    for _ in range(2):
        response = client.get("/studies", params=params)
        assert response.status_code == 503
        assert response.text == "upstream connect error"
    limited = client.get("/studies", params=params)
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "7"
    assert study_ids(client.get("/studies", params=params).json()) == [nct(1)]

    assert [r.status for r in registry.requests] == [503, 503, 429, 200]
    assert registry.bytes_sent == sum(r.bytes_sent for r in registry.requests)
    registry.reset_requests()
    assert registry.requests == []
    assert registry.bytes_sent == 0


def test_fail_next_html_and_truncated_json(registry: RegistryDouble, client: httpx.Client) -> None:
    html = "<!DOCTYPE html><html><body>Service maintenance</body></html>"
    registry.fail_next(200, html, content_type="text/html")
    registry.fail_next(
        200, '{"studies":[{"protocolSection":{"identi', content_type="application/json"
    )

    # A fault only hits paths under its prefix: /version is answered normally.
    assert client.get("/version").status_code == 200

    page = client.get("/studies")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.text == html

    truncated = client.get("/studies")
    assert truncated.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        truncated.json()

    assert client.get("/studies").json()["studies"]


def test_single_study_endpoint(registry: RegistryDouble, client: httpx.Client) -> None:
    study = make_study("NCT06850103", aliases=["NCT06000001"])
    registry.put(study)

    ok = client.get("/studies/NCT06850103")
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "application/json"
    assert ok.json() == study

    missing = client.get("/studies/NCT99999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/plain")
    assert missing.text == "NCT number NCT99999999 not found"

    moved = client.get("/studies/NCT06000001")
    assert moved.status_code == 301
    assert moved.headers["location"] == "/api/v2/studies/NCT06850103"
    followed = client.get("/studies/NCT06000001", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json() == study

    malformed = client.get("/studies/NCT123")
    assert malformed.status_code == 400
    assert malformed.headers["content-type"].startswith("text/plain")
    assert "has incorrect format" in malformed.text


def test_other_paths_get_an_nginx_html_404(client: httpx.Client) -> None:
    for path in ("/api/query/full_studies", "/api/v2/nothing", "/api/v2/studies/NCT00000001/x"):
        response = client.get(f"http://{client.base_url.host}:{client.base_url.port}{path}")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert "<center>nginx</center>" in response.text


def test_put_replace_remove_and_get(registry: RegistryDouble, client: httpx.Client) -> None:
    query = {
        "filter.ids": f"{nct(2)},{nct(50)}",
        "filter.advanced": "AREA[LastUpdatePostDate]RANGE[MIN,MAX]",
    }
    assert study_ids(client.get("/studies", params=query).json()) == [nct(2)]
    registry.put(make_study(nct(50)))  # a new study shows up in a query already answered
    assert study_ids(client.get("/studies", params=query).json()) == [nct(2), nct(50)]

    study = make_study(nct(5), status="RECRUITING")
    registry.put(study)
    study["protocolSection"]["statusModule"]["overallStatus"] = "MUTATED"  # not seen
    assert (
        client.get(f"/studies/{nct(5)}").json()["protocolSection"]["statusModule"]["overallStatus"]
        == "RECRUITING"
    )

    registry.put(make_study(nct(5), status="COMPLETED", aliases=["NCT07000005"]))
    got = registry.get(nct(5))
    assert got is not None
    assert got["protocolSection"]["statusModule"]["overallStatus"] == "COMPLETED"
    projected = client.get(
        "/studies", params={"filter.ids": "NCT07000005", "fields": "OverallStatus"}
    )
    assert projected.json()["studies"][0]["protocolSection"]["statusModule"] == {
        "overallStatus": "COMPLETED"
    }

    registry.remove(nct(5))
    registry.remove(nct(5))  # idempotent
    assert registry.get(nct(5)) is None
    assert len(registry) == 30
    assert client.get("/studies", params={"filter.ids": "NCT07000005"}).json() == {"studies": []}
    assert client.get(f"/studies/{nct(5)}").status_code == 404

    with pytest.raises(ValueError, match="nctId"):
        registry.put({"protocolSection": {}})


def test_keep_alive_stop_is_prompt_and_quiet(capfd: pytest.CaptureFixture[str]) -> None:
    double = RegistryDouble([make_study(nct(1))]).start()
    url = double.url
    with httpx.Client(base_url=url, timeout=5) as client:
        assert client.get("/version").status_code == 200
        assert client.get("/nowhere").status_code == 404
        # Leave the keep-alive connection open while stopping.
        double.stop()
    with pytest.raises(httpx.ConnectError), httpx.Client(timeout=1) as fresh:
        fresh.get(f"{url}/version")
    double.stop()  # a second stop is harmless

    # A client that hangs up mid-conversation does not print tracebacks either.
    with RegistryDouble([make_study(nct(1))]) as other:
        port = int(other.url.split(":")[2].split("/")[0])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            raw.sendall(b"GET /api/v2/studies HTTP/1.1\r\nHost: x\r\n\r\n")
    assert capfd.readouterr().err == ""


def test_real_records_round_trip() -> None:
    files = sorted(p for p in RECORDS.glob("*.json") if re.fullmatch(r"NCT\d{8}", p.stem))
    assert len(files) > 15
    records = {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in files}

    with (
        RegistryDouble(records.values()) as double,
        httpx.Client(base_url=double.url, timeout=10) as client,
    ):
        response = client.get(
            "/studies", params={"filter.ids": ",".join(records), "pageSize": "1000"}
        )
        assert response.status_code == 200
        studies = response.json()["studies"]
        assert "nextPageToken" not in response.json()
        fetched = {s["protocolSection"]["identificationModule"]["nctId"]: s for s in studies}
        assert fetched.keys() == records.keys()
        for nct_id, record in records.items():
            assert fetched[nct_id] == record, nct_id

        # A second snapshot of a record replaces the first, as a data rebuild would.
        for snapshot in RECORDS.glob("NCT*.snapshot-*.json"):
            newer = json.loads(snapshot.read_text(encoding="utf-8"))
            double.put(newer)
            nct_id = newer["protocolSection"]["identificationModule"]["nctId"]
            assert client.get(f"/studies/{nct_id}").json() == newer
