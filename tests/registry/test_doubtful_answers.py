"""Answers that cannot be taken at their word: a study nobody asked for, a short answer.

Over real HTTP against the registry double: the double serves a canned page
(``fail_next``) and the client must neither call a requested trial "not found"
nor give up on it before asking again in smaller pieces.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tests.support.search_setup import RECTAL, trial
from watcher.core.search_url import from_url
from watcher.registry.client import RegistryClient
from watcher.registry.http import HttpPolicy
from watcher.registry.searches import SearchReader
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study

TRIALS = [f"NCT0000001{i}" for i in range(8)]
POLICY = HttpPolicy(pace=0, backoff=0, retries=0)
SINCE = "AREA[LastUpdatePostDate]RANGE[2000-01-01,MAX]"


def page(studies: list[dict[str, Any] | None], total: int) -> str:
    return json.dumps({"studies": studies, "totalCount": total})


def batched(params: Mapping[str, str]) -> bool:
    """A ``filter.ids`` request for more than one trial."""
    return "," in params.get("filter.ids", "")


def test_an_unrequested_study_makes_the_absent_ones_failed_never_missing() -> None:
    stranger = make_study("NCT09999999", "Nobody asked")
    with RegistryDouble([make_study(n, n) for n in TRIALS[:3]]) as reg:
        served = [reg.get(TRIALS[0]), reg.get(TRIALS[1]), stranger]
        reg.fail_next(200, page(served, 3), content_type="application/json")
        with RegistryClient(reg.url, POLICY, recovery=0) as client:
            result = client.fetch_studies(TRIALS[:3])
    assert sorted(result.records) == TRIALS[:2]
    assert result.missing == []  # never "no longer in the registry"
    assert result.failed == {TRIALS[2]: "the registry returned 1 record ctwatch did not ask for"}


def test_an_unrequested_study_is_asked_for_again_at_once() -> None:
    stranger = make_study("NCT09999999", "Nobody asked")
    with RegistryDouble([make_study(n, n) for n in TRIALS[:3]]) as reg:
        served = [reg.get(TRIALS[0]), reg.get(TRIALS[1]), stranger]
        reg.fail_next(200, page(served, 3), content_type="application/json")
        with RegistryClient(reg.url, POLICY) as client:
            result = client.fetch_studies(TRIALS[:3])
        assert [r.path for r in reg.requests][-1] == f"/api/v2/studies/{TRIALS[2]}"
    assert sorted(result.records) == TRIALS[:3] and not result.failed and not result.missing


def test_a_registry_that_keeps_answering_short_is_asked_in_halves_then_one_by_one() -> None:
    with RegistryDouble([make_study(n, n) for n in TRIALS]) as reg:
        # every multi-ID request answers short: four of the eight are left out
        short = page([reg.get(n) for n in TRIALS[:4]], len(TRIALS))
        reg.fail_next(200, short, content_type="application/json", times=1)
        reg.fail_next(200, page([], 4), content_type="application/json", times=50, when=batched)
        with RegistryClient(reg.url, POLICY) as client:
            result = client.fetch_studies(TRIALS)
        paths = [r.path for r in reg.requests]
    assert sorted(result.records) == TRIALS and not result.failed and not result.missing
    assert paths.count("/api/v2/studies") == 3  # the batch, then the four left in halves
    assert paths[3:] == [f"/api/v2/studies/{n}" for n in TRIALS[4:]]


def test_asking_again_stays_within_its_request_budget() -> None:
    with RegistryDouble([make_study(n, n) for n in TRIALS]) as reg:
        reg.fail_next(200, page([], 8), content_type="application/json", times=100)
        reg.fail_next(500, "down", path_prefix="/api/v2/studies/", times=100)
        with RegistryClient(reg.url, POLICY, recovery=5) as client:
            result = client.fetch_studies(TRIALS)
        assert len(reg.requests) == 1 + 5
    assert sorted(result.failed) == TRIALS and not result.missing


def test_one_by_one_a_404_is_not_found_and_an_alias_is_followed() -> None:
    renamed = make_study(TRIALS[1], "Renamed")
    renamed["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT00000099"]
    with RegistryDouble([make_study(TRIALS[0], "A"), renamed]) as reg:
        reg.fail_next(200, page([], 3), content_type="application/json")
        with RegistryClient(reg.url, POLICY) as client:
            result = client.fetch_studies([TRIALS[0], "NCT00000099", "NCT00000098"])
    assert sorted(result.records) == [TRIALS[0], "NCT00000099"]
    assert result.missing == ["NCT00000098"] and not result.failed


def test_with_a_filter_one_by_one_keeps_the_filter() -> None:
    with RegistryDouble([make_study(n, n) for n in TRIALS[:2]]) as reg:
        reg.fail_next(200, page([reg.get(TRIALS[0])], 2), content_type="application/json")
        with RegistryClient(reg.url, POLICY) as client:
            result = client.fetch_studies(TRIALS[:2], fields=["NCTId"], advanced=SINCE)
        last = reg.requests[-1]
    # /studies/{id} cannot filter: the one left out is asked for alone, with the filter
    assert last.path == "/api/v2/studies"
    assert last.params["filter.ids"] == TRIALS[1]
    assert last.params["filter.advanced"] == SINCE
    assert not result.failed and TRIALS[0] in result.records


def test_one_by_one_an_html_404_is_doubt_not_gone() -> None:
    nginx = "<html><head><title>404 Not Found</title></head><body>nginx</body></html>"
    with RegistryDouble([make_study(TRIALS[0], "A")]) as reg:
        reg.fail_next(200, page([reg.get(TRIALS[0])], 2), content_type="application/json")
        reg.fail_next(404, nginx, content_type="text/html", path_prefix="/api/v2/studies/")
        with RegistryClient(reg.url, POLICY) as client:
            result = client.fetch_studies(TRIALS[:2])
    assert result.missing == [] and list(result.failed) == [TRIALS[1]]


def test_a_renamed_search_member_is_still_the_one_asked_for() -> None:
    renamed = trial("NCT00000077", "Renamed trial")
    renamed["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT00000066"]
    with RegistryDouble([renamed]) as reg, RegistryClient(reg.url, POLICY) as client:
        matching = SearchReader(client).still_matching(from_url(RECTAL), ["NCT00000066"])
    assert matching == {"NCT00000066"}  # answered under its new ID: no doubt, no error
