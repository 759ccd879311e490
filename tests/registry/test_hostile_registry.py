"""A registry that lies, trickles, loops or sends garbage: nothing is skipped, nothing hangs.

Each test makes the registry double (or a trickling socket) misbehave over
real HTTP on 127.0.0.1 and checks the promise: the fault is named in one line,
the cycle is recorded as failed (so the next one catches up) - or, when one
trial alone failed, that trial is fetched again until it is recorded - other
trials are not harmed, and no traceback reaches the terminal.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, write_config
from tests.support.search_setup import DAY1 as SEARCH_DAY1
from tests.support.search_setup import DAY2 as SEARCH_DAY2
from tests.support.search_setup import RECTAL, refresh, search_config, trial
from tests.support.search_setup import check as search_check
from tests.support.trickle import TrickleServer
from watcher.app import App
from watcher.config import load_config
from watcher.registry.client import RegistryClient
from watcher.registry.errors import RegistryRejected, RegistryUnavailable
from watcher.registry.http import HttpPolicy
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

TRIALS = [f"NCT0000000{i}" for i in range(1, 4)]
DAY1 = "2026-01-05T09:00:06"
DAY2 = "2026-01-06T09:00:06"


def studies() -> list[dict[str, Any]]:
    return [make_study(n, f"Trial {n}", last_update="2025-12-15") for n in TRIALS]


def config_for(tmp_path: Path, url: str, *, incremental: bool = True, extra: str = "") -> Path:
    path = write_config(tmp_path, url, TRIALS, incremental=incremental)
    if extra:
        path.write_text(path.read_text().replace("retries = 2\n", f"retries = 2\n{extra}\n"))
    return path


def runs(tmp_path: Path) -> list[tuple[int, str | None, str | None]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute(
            "SELECT complete, error, data_timestamp FROM runs ORDER BY id"
        ).fetchall()


def page(*items: Any, token: str | None = None, total: int | None = None) -> str:
    body: dict[str, Any] = {"studies": list(items)}
    if token is not None:
        body["nextPageToken"] = token
    if total is not None:
        body["totalCount"] = total
    return json.dumps(body)


def publish_past_a_stale_copy(reg: RegistryDouble) -> dict[str, Any]:
    """The second trial completes (posted 2026-01-05); returns its old copy, which a
    stale replica would still serve."""
    stale = make_study(TRIALS[1], f"Trial {TRIALS[1]}", last_update="2025-12-15")
    reg.put(changed(stale, status="COMPLETED", last_update="2026-01-05"))
    return stale


def full_fetch(params: Any) -> bool:
    """A request for whole records (no ``fields``): the fetch after the listing."""
    return "fields" not in params


def test_a_record_without_protocol_section_fails_only_its_batch_and_is_retried(
    tmp_path: Path,
) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url, incremental=False)
        good = [reg.get(n) for n in TRIALS[:2]]
        reg.fail_next(200, page(*good, {"protocolSection": None}), content_type="application/json")
        # asking for the third trial alone fails too (three attempts): it stays in doubt
        reg.fail_next(503, "busy", path_prefix=f"/api/v2/studies/{TRIALS[2]}", times=3)
        first = run_cli(config, "check")
        assert first.exit_code == 0, first.stderr
        assert "Traceback" not in first.stderr
        assert "new 2 · not found 0 · errors 1 (NCT00000003)" in first.stdout  # never "not found"
        status = json.loads(run_cli(config, "status", "--json").stdout)
        third = {r["nct_id"]: r for r in status["trials"]}["NCT00000003"]
        assert third["last_error"] == "the registry returned 1 record without an NCT ID"
        assert runs(tmp_path)[-1][:2] == (1, None)  # complete: the failing trial alone is
        second = run_cli(config, "check")  # fetched again, in full, until it is recorded
        assert "new 1 · not found 0 · errors 0" in second.stdout


def test_a_record_that_cannot_be_recorded_fails_alone(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url, incremental=False)
        bad = reg.get(TRIALS[1])
        assert bad is not None
        bad["protocolSection"]["identificationModule"]["briefTitle"] = "lone surrogate \ud800"
        others = [reg.get(TRIALS[0]), reg.get(TRIALS[2])]
        body = page(others[0], bad, others[1]).encode("utf-8", "surrogatepass")
        reg.fail_next(200, body, content_type="application/json")
        result = run_cli(config, "check")
        assert result.exit_code == 0
        assert "new 2 · not found 0 · errors 1 (NCT00000002)" in result.stdout
        assert "NCT00000002: could not record: unexpected" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_corrupt_gzip_body_is_a_failed_cycle_not_a_traceback(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url, incremental=False)
        reg.fail_next(
            200,
            b"\x1f\x8b\x08\x00garbage-not-gzip",
            content_type="application/json",
            headers={"Content-Encoding": "gzip"},
            times=3,
        )
        result = run_cli(config, "check")
        assert result.exit_code == 1
        assert "sent a body that could not be decoded" in result.stderr
        assert "Traceback" not in result.stderr
        complete, error, _ = runs(tmp_path)[-1]
        assert complete == 0 and error is not None and "could not be decoded" in error
        health = run_cli(config, "health")
        assert health.exit_code == 1 and "failed" in health.stderr


def test_a_gzip_bomb_is_refused_not_inflated(tmp_path: Path) -> None:
    bomb = gzip.compress(b'{"studies": [' + b" " * (40 * 1024 * 1024) + b"]}")
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        reg.fail_next(
            200, bomb, content_type="application/json", headers={"Content-Encoding": "gzip"}
        )
        policy = HttpPolicy(pace=0, retries=0, backoff=0, max_body=4 * 1024 * 1024)
        with RegistryClient(reg.url, policy) as client:
            result = client.fetch_studies(["NCT00000001"])
        # over the cap: the client asked for less (a batch of one cannot shrink: failed)
        assert "over 4 MB" in result.failed["NCT00000001"]


def test_redirects_stay_on_the_registry_host(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        client = RegistryClient(reg.url, HttpPolicy(pace=0, retries=0))
        reg.fail_next(
            302,
            headers={"Location": "http://evil.example/api/v2/version"},
            path_prefix="/api/v2/version",
        )
        with pytest.raises(RegistryRejected, match="redirected to another host"):
            client.data_timestamp()
        same_host = f"{reg.origin()}/api/v2/version"
        reg.fail_next(307, headers={"Location": same_host}, path_prefix="/api/v2/version")
        assert client.data_timestamp() == DAY1  # followed: same host
        reg.fail_next(302, headers={"Location": same_host}, path_prefix="/api/v2/version", times=20)
        with pytest.raises(RegistryRejected, match="redirected more than 5 times"):
            client.data_timestamp()
        client.close()


def test_a_trickling_registry_is_cut_off_at_the_deadline() -> None:
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n" + b'{"dataTimestamp":' * 50
    )
    with TrickleServer(answer, interval=0.05) as slow:
        policy = HttpPolicy(timeout=1.0, deadline=1.5, pace=0, retries=1, backoff=0)
        client = RegistryClient(f"{slow.origin}/api/v2", policy)
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable, match=r"did not answer in full within 1\.5 s"):
            client.data_timestamp()
        elapsed = time.monotonic() - started
        client.close()
    assert elapsed < 6  # two attempts of 1.5 s, not minutes of trickle
    assert slow.connections == 2


def test_an_endless_page_token_is_an_error(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        client = RegistryClient(reg.url, HttpPolicy(pace=0, retries=0))
        one = reg.get(TRIALS[0])
        for token in ("a", "b"):  # always one more page, never repeating a token
            reg.fail_next(200, page(one, token=token, total=1), content_type="application/json")
        result = client.fetch_studies(TRIALS)
        assert set(result.failed.values()) == {"registry kept paging past 2 pages for 1 result"}
        reg.fail_next(200, page(one, token="same"), content_type="application/json", times=3)
        again = client.fetch_studies(TRIALS)
        assert set(again.failed.values()) == {"registry answered with a page token that repeats"}
        client.close()


def test_an_absurd_retry_after_fails_fast_without_overflow(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url)
        reg.fail_next(
            429,
            "slow down",
            headers={"Retry-After": "1000000000000"},
            path_prefix="/api/v2/version",
        )
        result = run_cli(config, "check")
        assert result.exit_code == 1
        assert "asked to wait 21600 s; the next cycle tries again" in result.stderr
        assert "Traceback" not in result.stderr


def test_the_user_agent_keeps_the_httpx_token_and_a_403_is_named(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url)
        reg.fail_next(403, "Forbidden", path_prefix="/api/v2/version")
        result = run_cli(config, "check")
        assert result.exit_code == 1
        assert "refused by the registry (HTTP 403) — see registry.user_agent" in result.stderr
        agent = reg.requests[0].user_agent
        assert agent.startswith("ctwatch/") and " python-httpx/" in agent
        reg.fail_next(403, "Forbidden", when=full_fetch)  # a batch refused: errors, not "not found"
        second = run_cli(config, "check")
        assert "not found 0 · errors 3" in second.stdout
        custom = config_for(
            tmp_path, reg.url, extra='user_agent = "acme-monitor/2 python-httpx/0.28"'
        )
        run_cli(custom, "check")
        assert reg.requests[-1].user_agent == "acme-monitor/2 python-httpx/0.28"


def test_the_lookback_window_costs_no_extra_full_fetch(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url)
        assert run_cli(config, "check").exit_code == 0
        # a late record: appears in the next refresh with a post date before the last one processed
        late = changed(make_study(TRIALS[0], f"Trial {TRIALS[0]}", last_update="2025-12-15"),
                       status="SUSPENDED", last_update="2026-01-03")  # fmt: skip
        reg.put(late)
        reg.set_data_timestamp(DAY2)
        reg.reset_requests()
        out = run_cli(config, "check").stdout
        assert "Overall Status: Recruiting → Suspended" in out
        listing, fetch = reg.requests[1], reg.requests[2]
        assert listing.params["filter.advanced"] == "AREA[LastUpdatePostDate]RANGE[2026-01-02,MAX]"
        assert fetch.params["filter.ids"] == TRIALS[0]
        # next refresh: the same late record is listed again (inside the window), unchanged
        reg.set_data_timestamp("2026-01-07T09:00:06")
        reg.reset_requests()
        quiet = run_cli(config, "check").stdout
        assert "changed 0" in quiet
        assert [r.path for r in reg.requests] == ["/api/v2/version", "/api/v2/studies"]


def test_a_stale_copy_is_not_taken_and_is_fetched_again(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url)
        run_cli(config, "check")
        stale = publish_past_a_stale_copy(reg)
        reg.set_data_timestamp(DAY2)
        reg.fail_next(200, page(stale), content_type="application/json", when=full_fetch)
        first = run_cli(config, "check")
        assert "changed 0" in first.stdout and "errors 1 (NCT00000002)" in first.stdout
        status = json.loads(run_cli(config, "status", "--json").stdout)
        row = {r["nct_id"]: r for r in status["trials"]}[TRIALS[1]]
        assert "older copy (posted 2025-12-15, listed as 2026-01-05)" in row["last_error"]
        assert runs(tmp_path)[-1][:3] == (1, None, DAY2)  # the watermark moves: the trial …
        reg.reset_requests()  # … is fetched again although dataTimestamp has not moved
        second = run_cli(config, "check")
        assert "Overall Status: Recruiting → Completed" in second.stdout
        assert reg.requests[-1].params["filter.ids"] == TRIALS[1]


def test_a_duplicate_in_one_page_keeps_the_newest_copy(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url, incremental=False)
        run_cli(config, "check")
        old = make_study(TRIALS[0], f"Trial {TRIALS[0]}", last_update="2025-12-15")
        new = changed(old, status="TERMINATED", last_update="2026-01-05")
        others = [reg.get(n) for n in TRIALS[1:]]
        reg.fail_next(200, page(new, old, *others), content_type="application/json")
        out = run_cli(config, "check").stdout
        assert "Overall Status: Recruiting → Terminated" in out
        assert "errors 0" in out


def test_an_unparseable_data_timestamp_is_never_the_watermark(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp="soon™") as reg:
        config = config_for(tmp_path, reg.url)
        assert run_cli(config, "check").exit_code == 0
        assert run_cli(config, "check").exit_code == 0
        assert [r[2] for r in runs(tmp_path)] == [None, None]
        # "moved" every time: the second cycle listed what changed instead of skipping
        assert [r.path for r in reg.requests[-2:]] == ["/api/v2/version", "/api/v2/studies"]


def test_an_unforeseen_fault_fails_the_cycle_and_never_moves_the_watermark(tmp_path: Path) -> None:
    @contextmanager
    def broken_progress(total: int) -> Iterator[Callable[[int], None] | None]:
        def advance(count: int) -> None:
            raise OSError(errno.EPIPE, "Broken pipe")

        yield advance

    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = load_config(config_for(tmp_path, reg.url), {})
        app = App.build(config, out=io.StringIO(), progress=broken_progress)
        report, _ = app.check()
        app.close()
        assert report.failure == "unexpected BrokenPipeError: [Errno 32] Broken pipe"
        assert runs(tmp_path) == [(0, "unexpected BrokenPipeError: [Errno 32] Broken pipe", None)]
        reg.reset_requests()
        again = run_cli(config_for(tmp_path, reg.url), "check")
        assert again.exit_code == 0 and "new 3" in again.stdout  # nothing was taken as done


def test_ctrl_c_mid_cycle_is_never_a_complete_cycle(tmp_path: Path) -> None:
    @contextmanager
    def ctrl_c(total: int) -> Iterator[Callable[[int], None] | None]:
        def advance(count: int) -> None:
            raise KeyboardInterrupt

        yield advance

    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        path = config_for(tmp_path, reg.url)
        assert run_cli(path, "check").exit_code == 0
        reg.put(changed(make_study(TRIALS[0], f"Trial {TRIALS[0]}", last_update="2025-12-15"),
                        status="SUSPENDED", last_update="2026-01-05"))  # fmt: skip
        reg.set_data_timestamp(DAY2)
        app = App.build(load_config(path, {}), out=io.StringIO(), progress=ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            app.check()
        app.close()
        assert runs(tmp_path)[-1] == (0, "interrupted before it finished", None)
        again = run_cli(path, "check")  # the refresh was not taken as processed
        assert "Overall Status: Recruiting → Suspended" in again.stdout


def test_one_trial_failing_for_good_costs_no_full_fetch_and_is_told_once(
    tmp_path: Path,
) -> None:
    """A stale copy of one trial, served cycle after cycle: the others stay incremental."""
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url)
        run_cli(config, "check")
        stale = publish_past_a_stale_copy(reg)
        reg.fail_next(200, page(stale), content_type="application/json", when=full_fetch, times=4)
        outs = []
        for day in range(2, 6):
            reg.set_data_timestamp(f"2026-01-0{day + 4}T09:00:06")
            reg.reset_requests()
            outs.append(run_cli(config, "check").stdout)
            full = [r for r in reg.requests if r.path.endswith("/studies") and full_fetch(r.params)]
            assert [r.params["filter.ids"] for r in full] == [TRIALS[1]]  # it alone, in full
        assert [r[0] for r in runs(tmp_path)] == [1, 1, 1, 1, 1]
        assert all("errors 1 (NCT00000002)" in out for out in outs)
        told = [out for out in outs if "ctwatch: NCT00000002 cannot be checked" in out]
        assert len(told) == 1 and "alerts sent 1" in outs[2]  # after the third, once
        assert "The last 3 checks of NCT00000002 failed: the registry returned an older" in told[0]
        recovered = run_cli(config, "check").stdout  # the registry serves the real copy again
        assert "Overall Status: Recruiting → Completed" in recovered
        assert "ctwatch: NCT00000002 is checked again" in recovered
        assert "errors 0" in run_cli(config, "check").stdout


def test_one_batch_failing_while_others_are_read_is_registry_trouble(tmp_path: Path) -> None:
    with RegistryDouble(studies(), data_timestamp=DAY1) as reg:
        config = config_for(tmp_path, reg.url, incremental=False, extra="batch_size = 1")
        run_cli(config, "check")
        reg.fail_next(503, "down", times=3, when=lambda p: p.get("filter.ids") == TRIALS[2])
        result = run_cli(config, "check")
        assert result.exit_code == 0  # the registry was read; the cycle completed
        assert "errors 1 (NCT00000003)" in result.stdout
        assert "1 of 3 registry requests failed: registry answered HTTP 503" in result.stderr
        assert "cannot be checked" not in result.stdout  # the request failed, not the trial
        complete, error, _ = runs(tmp_path)[-1]
        assert complete == 1 and error is not None and error.startswith("1 of 3 registry")


def test_ctrl_c_in_the_searches_after_a_failed_batch_is_not_complete(tmp_path: Path) -> None:
    """A batch failed (the run carries a registry error), then Ctrl-C lands while a followed
    search's joining member is fetched: the run is interrupted, never complete."""

    @contextmanager
    def ctrl_c(total: int) -> Iterator[Callable[[int], None] | None]:
        def advance(count: int) -> None:
            if total == 1:  # the joining member's baseline fetch
                raise KeyboardInterrupt

        yield advance

    a, b, c, w, w2 = (f"NCT0000000{i}" for i in (1, 2, 3, 5, 6))
    lung = {"condition": "Lung"}
    listed = [trial(a, "A"), trial(b, "B"), trial(c, "C", **lung), trial(w, "W", **lung)]
    with RegistryDouble([*listed, trial(w2, "W2", **lung)], data_timestamp=SEARCH_DAY1) as reg:
        watch = f'[[watch]]\nname = "w"\ntrials = ["{w}", "{w2}"]\n'
        follow = f'url = "{RECTAL}"\nfollow = true'
        path = search_config(tmp_path, reg, follow, watch=watch, extra="batch_size = 1")
        search_check(path)
        late = {"last": "2026-01-05"}
        refresh(
            reg,
            SEARCH_DAY2,
            trial(c, "C", condition="Rectal cancer", **late),
            trial(w, "W", status="SUSPENDED", **lung, **late),
            trial(w2, "W2", status="SUSPENDED", **lung, **late),
        )
        reg.fail_next(
            503, "down", times=3, when=lambda p: "fields" not in p and p.get("filter.ids") == w
        )
        app = App.build(load_config(path, {}), out=io.StringIO(), progress=ctrl_c)
        with pytest.raises(KeyboardInterrupt):
            app.check()
        app.close()
        complete, error, stamp = runs(tmp_path)[-1]
        assert (complete, error, stamp) == (0, "interrupted before it finished", None)
