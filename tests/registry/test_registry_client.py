"""The registry client against the registry double over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from watcher.registry.client import RegistryClient
from watcher.registry.errors import RegistryRejected, RegistryUnavailable
from watcher.registry.http import HttpPolicy
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study


def ids(n: int, start: int = 1) -> list[str]:
    return [f"NCT{start + i:08d}" for i in range(n)]


def studies(nct_ids: list[str]) -> list[dict[str, object]]:
    return [make_study(n, f"Trial {n}", sites=1) for n in nct_ids]


class Sleeps:
    """Records requested sleeps instead of sleeping (tests never wait)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def client(
    url: str, sleeps: Sleeps | None = None, *, batch_size: int = 1000, **policy: Any
) -> RegistryClient:
    options: dict[str, Any] = {"pace": 0.0, "retries": 3, "backoff": 1.0}
    options.update(policy)
    return RegistryClient(
        url, HttpPolicy(**options), batch_size=batch_size, sleep=sleeps or Sleeps()
    )


def test_many_trials_per_request_with_paging() -> None:
    wanted = ids(7)
    with RegistryDouble(studies(wanted), max_page_size=3) as reg, client(reg.url) as c:
        result = c.fetch_studies(wanted)
        assert sorted(result.records) == wanted
        assert result.missing == [] and result.failed == {}
        calls = reg.requests
    assert len(calls) == 3  # 3 + 3 + 1, one batch
    first = calls[0].params
    assert first["filter.ids"] == ",".join(wanted)
    paging = {"pageToken", "countTotal"}  # what the SPEC lets differ between pages
    for later in calls[1:]:  # same parameters on every page, plus the token
        assert {k: v for k, v in later.params.items() if k not in paging} == {
            k: v for k, v in first.items() if k not in paging
        }
        assert later.params["pageToken"]
    assert "ctwatch/" in calls[0].user_agent and "change monitor" in calls[0].user_agent


def test_batches_of_one_thousand() -> None:
    wanted = ids(2100)
    with RegistryDouble(studies(wanted)) as reg, client(reg.url) as c:
        result = c.fetch_studies(wanted)
        assert len(result.records) == 2100
        assert [len(r.params["filter.ids"].split(",")) for r in reg.requests] == [1000, 1000, 100]


def test_unknown_ids_are_not_found_and_aliases_resolve() -> None:
    merged = make_study("NCT00000002", "Merged trial")
    merged["protocolSection"]["identificationModule"]["nctIdAliases"] = ["NCT00000009"]
    with RegistryDouble([make_study("NCT00000001", "One"), merged]) as reg, client(reg.url) as c:
        result = c.fetch_studies(["NCT00000001", "NCT00000009", "NCT99999999"])
    assert sorted(result.records) == ["NCT00000001", "NCT00000009"]
    assert (
        result.records["NCT00000009"]["protocolSection"]["identificationModule"]["nctId"]
        == "NCT00000002"
    )
    assert result.missing == ["NCT99999999"]


def test_5xx_then_success_is_retried_with_backoff() -> None:
    sleeps = Sleeps()
    with RegistryDouble(studies(ids(2))) as reg, client(reg.url, sleeps) as c:
        reg.fail_next(503, "upstream connect error", times=2)
        result = c.fetch_studies(ids(2))
        assert len(result.records) == 2
        assert [r.status for r in reg.requests] == [503, 503, 200]
    assert len(sleeps.calls) == 2
    assert 0.5 <= sleeps.calls[0] <= 1.0 and 1.0 <= sleeps.calls[1] <= 2.0  # exponential, jittered


def test_retry_after_is_honoured() -> None:
    sleeps = Sleeps()
    with RegistryDouble(studies(ids(1))) as reg, client(reg.url, sleeps) as c:
        reg.fail_next(429, "slow down", headers={"Retry-After": "7"})
        assert len(c.fetch_studies(ids(1)).records) == 1
    assert sleeps.calls == [7.0]


@pytest.mark.parametrize(
    ("status", "body", "ctype", "message"),
    [
        (200, "<html><body>Service maintenance</body></html>", "text/html", "text/html, not JSON"),
        (
            200,
            '{"studies": [{"protocolSection": {"identificationModule"',
            "application/json",
            "truncated",
        ),
        (502, "bad gateway", "text/plain", "HTTP 502"),
    ],
)
def test_bad_bodies_are_errors_never_data(status: int, body: str, ctype: str, message: str) -> None:
    with RegistryDouble(studies(ids(2))) as reg, client(reg.url, retries=2) as c:
        reg.fail_next(status, body, content_type=ctype, times=3)
        result = c.fetch_studies(ids(2))
        assert result.records == {} and result.missing == []
        assert set(result.failed) == set(ids(2))
        assert message in result.failed["NCT00000001"]
        assert result.all_failed
        assert len(reg.requests) == 3  # first try + 2 retries


def test_html_once_then_json_recovers() -> None:
    with RegistryDouble(studies(ids(1))) as reg, client(reg.url) as c:
        reg.fail_next(200, "<html>oops</html>", content_type="text/html")
        assert list(c.fetch_studies(ids(1)).records) == ids(1)


def test_malformed_id_is_rejected_without_retry() -> None:
    with RegistryDouble(studies(ids(1))) as reg, client(reg.url) as c:
        result = c.fetch_studies(["NCT00000001", "NCT123"])
        assert len(reg.requests) == 1
    assert "HTTP 400" in result.failed["NCT123"]
    assert "incorrect format" in result.failed["NCT123"]


def test_connection_refused_is_unavailable() -> None:
    with RegistryDouble() as reg:
        url = reg.url
    with client(url, retries=1) as c:  # the double is stopped: nothing listens
        result = c.fetch_studies(ids(1))
        with pytest.raises(RegistryUnavailable, match="cannot reach the registry"):
            c.data_timestamp()
    assert result.all_failed


def test_a_short_answer_fails_the_trials_it_left_out_never_not_found() -> None:
    wanted = ids(2)
    with RegistryDouble(studies(wanted)) as reg, client(reg.url, retries=1) as c:
        c.recovery = 0  # no asking again (tests/registry/test_doubtful_answers.py does)
        short = {"totalCount": 2, "studies": [reg.get(wanted[0])]}
        reg.fail_next(200, json.dumps(short), content_type="application/json")
        result = c.fetch_studies(wanted)
    assert list(result.records) == [wanted[0]] and result.missing == []
    assert result.failed == {
        wanted[1]: "the registry counted 2 results but served 1 distinct trial"
    }


def test_too_long_requests_halve_the_batch() -> None:
    wanted = ids(40)
    with RegistryDouble(studies(wanted), max_url_length=200) as reg, client(reg.url) as c:
        result = c.fetch_studies(wanted)
        assert sorted(result.records) == wanted
        sizes = [len(r.params["filter.ids"].split(",")) for r in reg.requests if r.status == 200]
        assert 414 in [r.status for r in reg.requests]
        assert max(sizes) <= 10 and sum(sizes) == 40
        assert c.batch_size <= 10


def test_pacing_spaces_requests() -> None:
    now = [100.0]
    sleeps = Sleeps()

    def sleep(seconds: float) -> None:
        sleeps(seconds)
        now[0] += seconds

    with RegistryDouble(studies(ids(3)), max_page_size=1) as reg:
        c = RegistryClient(reg.url, HttpPolicy(pace=1.0), clock=lambda: now[0], sleep=sleep)
        c.fetch_studies(ids(3))
        c.close()
    assert sleeps.calls == [1.0, 1.0]  # three pages, one second apart


def test_version_probe() -> None:
    with RegistryDouble(data_timestamp="2026-11-24T09:00:06") as reg, client(reg.url) as c:
        assert c.data_timestamp() == "2026-11-24T09:00:06"


def test_rejected_is_not_unavailable() -> None:
    assert not issubclass(RegistryRejected, RegistryUnavailable)


@pytest.mark.parametrize(
    ("status", "body"),
    [(431, "Request Header Fields Too Large"), (400, "Request URI too long for this server")],
)
def test_other_length_errors_halve_the_batch(status: int, body: str) -> None:
    wanted = ids(8)
    with RegistryDouble(studies(wanted)) as reg, client(reg.url) as c:
        reg.fail_next(status, body)
        result = c.fetch_studies(wanted)
        assert sorted(result.records) == wanted
        assert [len(r.params["filter.ids"].split(",")) for r in reg.requests] == [8, 4, 4]
