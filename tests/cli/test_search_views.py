"""Where searches show: ``ctwatch search`` (a preview), ``status``, the search's Atom feed,
``/metrics``, and ``test-alert``."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_cli
from tests.support.search_setup import DAY1, DAY2, RECTAL, check, refresh, search_config, trial
from tests.web.test_web import ATOM, ENV, FEED_TOKEN, web
from watcher.testing.registry_double import RegistryDouble

A, B, C, D = "NCT00000001", "NCT00000002", "NCT00000003", "NCT00000004"
SERVER = '[server]\nlisten = "127.0.0.1:0"\nfeed_token = "${CTWATCH_FEED_TOKEN}"\n'


@pytest.fixture
def reg() -> Iterator[RegistryDouble]:
    studies = [trial(A, "Trial A"), trial(B, "Trial B"), trial(C, "Trial C", condition="Lung")]
    with RegistryDouble(studies, data_timestamp=DAY1) as double:
        yield double


def test_search_previews_a_url_recording_nothing(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg)
    result = run_cli(config, "search", RECTAL)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[:5] == [
        "API parameters:",
        "  aggFilters = status:rec",
        "  query.cond = rectal cancer",
        "The registry counts 2 matching trials (max_trials 5,000); the first 2:",
        "  NCT00000001  Recruiting               Trial A",
    ]
    (request,) = reg.requests
    assert request.params["pageSize"] == "10" and request.params["countTotal"] == "true"
    assert request.params["fields"] == "NCTId,BriefTitle,OverallStatus"
    assert not (tmp_path / "ctwatch.db").exists()
    by_name = json.loads(run_cli(config, "search", "rectal", "--json").stdout)
    assert by_name["count"] == 2 and by_name["params"]["query.cond"] == "rectal cancer"
    assert [m["nct_id"] for m in by_name["matches"]] == [A, B]


def test_search_names_mistakes_and_registry_trouble(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg)
    bad = run_cli(config, "search", "https://clinicaltrials.gov/search?cond=x&foo=1&bar=2")
    assert bad.exit_code == 2
    assert bad.stderr == (
        "ctwatch: URL: unknown URL parameter 'foo'\nctwatch: URL: unknown URL parameter 'bar'\n"
    )
    unsplittable = run_cli(config, "search", "https://[clinicaltrials.gov/search?cond=x")
    assert unsplittable.exit_code == 2, unsplittable.stderr
    assert unsplittable.stderr.startswith(
        "ctwatch: URL: 'https://[clinicaltrials.gov/search?cond=x' is not a registry search URL"
    )
    assert len(unsplittable.stderr.splitlines()) == 1
    unknown = run_cli(config, "search", "nope")
    assert (
        unknown.exit_code == 2
        and "neither a registry search URL nor a [[search]]" in unknown.stderr
    )
    reg.fail_next(503, "down", times=5)
    down = run_cli(config, "search", RECTAL)
    assert down.exit_code == 1 and "the registry could not be read" in down.stderr


def test_status_lists_each_search(tmp_path: Path, reg: RegistryDouble) -> None:
    lung = 'url = "https://clinicaltrials.gov/search?cond=lung"\nfollow = true'
    config = search_config(tmp_path, reg, f'url = "{RECTAL}"\n[[search]]\nname = "lung"\n{lung}')
    check(config)
    data = run_cli(config, "status", "--json")
    searches = json.loads(data.stdout)["searches"]
    assert [(s["name"], s["members"], s["follow"]) for s in searches] == [
        ("rectal", 2, False),
        ("lung", 1, True),
    ]
    assert [t["nct_id"] for t in json.loads(data.stdout)["trials"]] == [C]  # followed: listed
    table = run_cli(config, "status").stdout
    assert "Searches\n  rectal (config): 2 trials · last check " in table
    assert (
        "  lung (config, follow): 1 trial · last check " in table and "last event none yet" in table
    )


def test_a_search_feed_carries_its_news_and_metrics_count_searches(
    tmp_path: Path, reg: RegistryDouble
) -> None:
    config = search_config(tmp_path, reg, watch=SERVER)
    check(config, env=ENV)
    refresh(reg, DAY2, trial(D, "Trial D", first="2026-01-05", last="2026-01-05"),
            trial(B, "Trial B", status="COMPLETED", last="2026-01-05"))  # fmt: skip
    check(config, env=ENV)
    with web(config) as origin:
        feed = httpx.get(f"{origin}/feeds/search/rectal.atom", params={"token": FEED_TOKEN})
        missing = httpx.get(f"{origin}/feeds/search/nope.atom", params={"token": FEED_TOKEN})
        metrics = httpx.get(f"{origin}/metrics").text
    assert feed.status_code == 200 and missing.status_code == 404
    entries = ET.fromstring(feed.content).findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert sorted(t or "" for t in titles) == [
        "New trial: NCT00000004 — Trial D",
        "No longer matches: NCT00000002 — Trial B",
    ]
    links = {e.find(f"{ATOM}link").get("href") for e in entries}  # type: ignore[union-attr]
    assert "https://clinicaltrials.gov/study/NCT00000004" in links
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(metrics)
        for s in family.samples
    }
    assert samples[("ctwatch_searches", ())] == 1
    assert samples[("ctwatch_search_members", (("search", "rectal"),))] == 2
    assert samples[("ctwatch_searches_over_max_trials", ())] == 0
    file = run_cli(config, "feed", "search/rectal", env=ENV)
    assert file.exit_code == 0 and b"New trial: NCT00000004" in file.stdout_bytes


def test_test_alert_reaches_a_searchs_destinations(tmp_path: Path, reg: RegistryDouble) -> None:
    config = search_config(tmp_path, reg)
    result = run_cli(config, "test-alert", "--watch", "rectal")
    assert result.exit_code == 0, result.stderr
    assert "[TEST] test alert for search “rectal”" in result.stdout
    assert result.stdout.endswith("ok      console\n")
