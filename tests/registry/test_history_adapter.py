"""The `/api/int` adapter against the double and hostile servers: one line, never a hang."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import load_fixture, write_config
from tests.support.histories import seed_history
from tests.support.trickle import TrickleServer
from watcher.app import App
from watcher.config import load_config
from watcher.registry.client import RegistryClient
from watcher.registry.history import HistoryClient, HistoryUnavailable, history_base
from watcher.registry.http import HttpPolicy
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.registry_history import HistoricVersion

NCT = "NCT06850103"


@pytest.mark.parametrize(
    ("v2", "expected"),
    [
        ("https://clinicaltrials.gov/api/v2", "https://clinicaltrials.gov/api/int"),
        ("http://127.0.0.1:8080/api/v2/", "http://127.0.0.1:8080/api/int"),
        ("https://mirror.example.org/ctgov/api/v2", "https://mirror.example.org/ctgov/api/int"),
        ("https://mirror.example.org/registry", "https://mirror.example.org/api/int"),
    ],
)
def test_the_base_follows_registry_url(v2: str, expected: str) -> None:
    assert history_base(v2) == expected


def history_client(
    url: str, timeout: float = 30.0, deadline: float = 120.0
) -> tuple[RegistryClient, HistoryClient]:
    policy = HttpPolicy(timeout=timeout, deadline=deadline, pace=0, retries=0, backoff=0)
    client = RegistryClient(url, policy)
    return client, HistoryClient(client.http, url)


def test_the_list_shape_with_its_extra_parts(registry: RegistryDouble) -> None:
    real = load_fixture("synthetic", "NCT09000101.int-history.json")
    sample = seed_history()
    versions = [
        HistoricVersion(e["date"], sample.versions[0].study, e.get("status"), ())
        for e in real["changes"]
    ]
    registry.history.set(NCT, versions, {k: v for k, v in real.items() if k != "changes"})
    client, history = history_client(registry.url)
    listed = history.versions(NCT)
    assert [(v.number, v.date) for v in listed][-1] == (10, "2023-03-01")
    answer = registry.history.answer(f"/api/int/studies/{NCT}/history")
    assert answer is not None
    served = json.loads(answer[1])
    assert served["originalData"]["enrollmentInfo"] == {"count": 420, "type": "ESTIMATED"}
    client.close()


def test_a_version_must_be_the_one_asked_for(registry: RegistryDouble) -> None:
    sample = seed_history()
    registry.history.set(NCT, sample.versions)
    client, history = history_client(registry.url)
    assert history.version(NCT, 2)["protocolSection"]["statusModule"]["overallStatus"] == (
        "RECRUITING"
    )
    other = f"/api/int/studies/{NCT}/history/1"
    for body, words in (
        ({"studyVersion": 7, "study": sample.versions[1].study}, "answered as version 7"),
        ({"studyVersion": 1, "study": seed_history("NCT01234567").versions[1].study},
         "the record of NCT01234567"),
        ({"studyVersion": 1}, "no study record"),
    ):  # fmt: skip
        registry.fail_next(200, json.dumps(body), content_type="application/json",
                           path_prefix=other)  # fmt: skip
        with pytest.raises(HistoryUnavailable, match=words):
            history.version(NCT, 2)
    client.close()


def test_qc_bookkeeping_of_the_internal_api_is_dropped(registry: RegistryDouble) -> None:
    study = seed_history().versions[0].study
    study["resultsSection"] = {
        "outcomeMeasuresModule": {"outcomeMeasures": [{"title": "PFS", "reviewUnit": {}}]},
        "measureCategoriesReviewUnit": {"resetReasons": ["QC"]},
    }
    registry.history.set(NCT, [HistoricVersion("2025-02-20", study)])
    client, history = history_client(registry.url)
    record = history.version(NCT, 1)
    assert record["resultsSection"] == {
        "outcomeMeasuresModule": {"outcomeMeasures": [{"title": "PFS"}]}
    }
    client.close()


def test_redirects_off_the_registry_host_are_not_followed(registry: RegistryDouble) -> None:
    registry.history.set(NCT, seed_history().versions)
    client, history = history_client(registry.url)
    registry.fail_next(302, headers={"Location": "http://evil.example/api/int/x"},
                       path_prefix="/api/int/")  # fmt: skip
    with pytest.raises(HistoryUnavailable, match="redirected to another host"):
        history.versions(NCT)
    assert [r.path for r in registry.requests] == [f"/api/int/studies/{NCT}/history"]
    client.close()


def test_a_trickling_history_endpoint_is_cut_off_at_the_deadline() -> None:
    answer = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + b'{"changes":' * 50
    with TrickleServer(answer, interval=0.05) as slow:
        client, history = history_client(f"{slow.origin}/api/v2", timeout=1.0, deadline=1.0)
        started = time.monotonic()
        with pytest.raises(HistoryUnavailable, match=r"did not answer in full within 1 s"):
            history.versions(NCT)
        assert time.monotonic() - started < 4
        client.close()


def test_one_pace_for_both_apis(tmp_path: Path, registry: RegistryDouble) -> None:
    """The history adapter shares the v2 client's JsonGetter: 1 request/s in total."""
    registry.history.set(NCT, seed_history().versions)
    config = load_config(write_config(tmp_path, registry.url, [NCT]), {})
    app = App.build(config, out=io.StringIO())
    assert app.backfiller.client.http is app.registry.http
    app.close()
    waits: list[float] = []
    client = RegistryClient(
        registry.url, HttpPolicy(pace=1.0, retries=0), clock=lambda: 100.0, sleep=waits.append
    )
    history = HistoryClient(client.http, registry.url)
    client.data_timestamp()
    history.versions(NCT)
    history.version(NCT, 1)
    assert waits == [1.0, 1.0]  # each request waited for the one before, whichever API
    client.close()


def test_the_double_answers_unknown_trials_and_versions_like_a_registry(
    registry: RegistryDouble,
) -> None:
    registry.history.set(NCT, seed_history().versions)
    base = f"{registry.origin()}/api/int/studies"
    with httpx.Client() as http:
        assert http.get(f"{base}/NCT00000001/history").status_code == 404
        assert http.get(f"{base}/{NCT}/history/4").status_code == 404  # versions 0-3 only
        listed = http.get(f"{base}/{NCT}/history").json()
        assert [(e["version"], e["status"]) for e in listed["changes"]][:2] == [
            (0, "NOT_YET_RECRUITING"),
            (1, "RECRUITING"),
        ]
        other = http.get(f"{base}/{NCT}/elsewhere")
        assert other.status_code == 404 and other.headers["content-type"] == "text/html"
    client, history = history_client(registry.url)
    with pytest.raises(
        HistoryUnavailable, match=r"\(HTTP 404 from http://127\.0\.0\.1:\d+/api/int"
    ):
        history.versions("NCT00000001")
    client.close()
