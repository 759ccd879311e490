"""Teams delivery end to end: `ctwatch check` -> outbox -> httpx -> a Workflows double over HTTP."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support.alert_cases import CASES
from tests.support.hook_setup import (
    TEAMS_SIG,
    assert_nothing_stored,
    baseline_then_change,
    hook_config,
    outbox,
    run,
)
from tests.support.teams_double import TeamsDouble
from watcher.alerts.teams import PACE, TeamsNotifier
from watcher.alerts.teams_card import MAX_BYTES
from watcher.config import TeamsConfig
from watcher.core.destination import Destination
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study

WATCH = 'teams = ["${TEAMS_URL}"]'


def setup(
    tmp_path: Path, registry: RegistryDouble, url: str, extra: str = "", more: str = ""
) -> tuple[Path, dict[str, str]]:
    config = hook_config(tmp_path, registry, [SEED_NCT], WATCH, extra=extra, more=more)
    return config, {"TEAMS_URL": url}


def check(config: Path, env: dict[str, str], *args: str) -> str:
    result = run(config, *args, "check", env=env, secrets=(TEAMS_SIG,))
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout + result.stderr


def texts(value: Any) -> list[str]:
    """Every TextRun's text in a card, in order."""
    if isinstance(value, dict):
        own = [value["text"]] if value.get("type") == "TextRun" else []
        return own + [t for item in value.values() for t in texts(item)]
    if isinstance(value, list):
        return [t for item in value for t in texts(item)]
    return []


def test_change_reaches_teams_as_an_adaptive_card(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    baseline_then_change(
        config, registry, env, status="ACTIVE_NOT_RECRUITING", last_update="2026-01-15"
    )
    assert teams.received == []  # the baseline was silent
    assert "alerts sent 1" in check(config, env, "--log-level", "debug")
    (posted,) = teams.cards
    assert posted.flow == "alerts" and posted.size <= MAX_BYTES
    assert texts(posted.card)[0] == (
        "NCT06850103 · Overall Status: Recruiting → Active, not recruiting"
    )
    (request,) = teams.received
    assert request.status == 202 and request.headers["content-type"] == "application/json"
    (row,) = outbox(tmp_path)
    assert row[0] == Destination.teams(teams.url()).key  # a reference...
    assert row[0].startswith("teams:127.0.0.1:") and "sig" not in row[0]  # ...not the URL
    assert_nothing_stored(tmp_path, TEAMS_SIG, teams.url(), "/workflows/")
    assert "alerts sent 0" in check(config, env)  # a normal re-run never duplicates
    assert len(teams.cards) == 1


def test_watches_sharing_a_workflows_url_get_one_card(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    more = f"""
[[watch]]
name = "status-only"
trials = ["{SEED_NCT}"]
teams = ["${{TEAMS_URL}}", "${{OTHER_URL}}"]
fields = ["OverallStatus"]
"""
    config, env = setup(tmp_path, registry, teams.url(), more=more)
    env["OTHER_URL"] = teams.url("oncology")
    baseline_then_change(config, registry, env, status="SUSPENDED", last_update="2026-02-01")
    assert "alerts sent 2" in check(config, env)
    flows = sorted(c.flow for c in teams.cards)
    assert flows == ["alerts", "oncology"]  # one per URL, not one per watch
    alerts = next(c for c in teams.cards if c.flow == "alerts")
    oncology = next(c for c in teams.cards if c.flow == "oncology")
    assert "Last Update Posted: " in texts(alerts.card)  # the unfiltered watch shares the URL
    assert "Last Update Posted: " not in texts(oncology.card)  # only what that watch asked for


def test_rate_limit_waits_for_retry_after_then_delivers_once(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    baseline_then_change(config, registry, env, status="COMPLETED")
    teams.fail_next(429, "slow down", headers={"Retry-After": "120"})
    out = check(config, env)
    assert "alerts sent 0 · alerts pending 1" in out and "answered HTTP 429" in out
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        (due,) = conn.execute("SELECT next_attempt_at FROM outbox").fetchone()
    waited = datetime.strptime(due, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert waited >= datetime.now(UTC) + timedelta(seconds=110)  # Retry-After, not 1 min
    assert "alerts sent 1" in check(config, env)  # an explicit check tries it anyway
    assert [r.status for r in teams.received] == [429, 202]
    assert len(teams.cards) == 1


def test_server_errors_and_dropped_connections_are_retried(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    baseline_then_change(config, registry, env, status="COMPLETED")
    teams.fail_next(502, "<html>bad gateway</html>", content_type="text/html")
    assert "HTTP 502: an HTML page" in check(config, env)
    teams.fail_next(drop=True)
    out = check(config, env)
    assert "alerts pending 1" in out and "cannot reach Teams 127.0.0.1:" in out
    assert "alerts sent 1" in check(config, env)
    assert len(teams.cards) == 1


def test_too_large_is_resent_once_shortened(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    baseline_then_change(config, registry, env, status="COMPLETED")
    teams.fail_next(413, "Request Entity Too Large")
    assert "alerts sent 1" in check(config, env)
    assert [r.status for r in teams.received] == [413, 202]
    (posted,) = teams.cards
    assert "1 change: too long to show here; see the history." in texts(posted.card)


def test_a_flow_that_refuses_even_the_short_card_fails_for_good(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with TeamsDouble(signature=TEAMS_SIG, max_bytes=600) as tiny:
        config, env = setup(tmp_path, registry, tiny.url())
        baseline_then_change(config, registry, env, status="COMPLETED")
        out = check(config, env)
        assert "alerts failed 1" in out
        assert "refused the card as too large (HTTP 413), shortened too" in out
        assert [r.status for r in tiny.received] == [413, 413]
        assert "alerts sent 0" in check(config, env)  # failed rows are not retried
        assert len(tiny.received) == 2


def test_a_wrong_signature_fails_for_good_and_echoes_are_masked(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    wrong = teams.url(signature="revoked-signature-999")
    config, env = setup(tmp_path, registry, wrong)
    baseline_then_change(config, registry, env, status="SUSPENDED")
    echo = json.dumps(
        {"error": {"code": "DirectApiAuthorizationRequired", "message": f"bad request to {wrong}"}}
    )
    teams.fail_next(401, echo, content_type="application/json")
    secrets = (TEAMS_SIG, "revoked-signature-999", wrong)
    result = run(config, "--log-level", "debug", "check", env=env, secrets=secrets)
    assert "alerts failed 1" in result.stdout
    said = "answered HTTP 401: DirectApiAuthorizationRequired: bad request to ***"
    assert said in result.stderr  # the log line, masked
    status = json.loads(run(config, "status", "--json", env=env, secrets=secrets).stdout)
    (problem,) = status["alert_problems"]
    assert problem["status"] == "failed"
    assert problem["destination"] == Destination.teams(wrong).describe()
    assert problem["destination"].startswith("Teams 127.0.0.1:")
    run(config, "status", env=env, secrets=secrets)
    assert_nothing_stored(tmp_path, *secrets)
    test_alert = run(config, "test-alert", env=env, secrets=secrets)  # the real double's 401
    assert test_alert.exit_code == 1
    assert "DirectApiAuthorizationRequired" in test_alert.stdout


def test_an_url_removed_from_the_config_fails_its_queued_alerts_visibly(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    baseline_then_change(config, registry, env, status="SUSPENDED")
    teams.fail_next(503)
    check(config, env)
    old = Destination.teams(teams.url()).describe()
    env["TEAMS_URL"] = teams.url("renamed-flow")  # the user replaced the flow
    out = check(config, env)
    assert f"failed for good: {old} is no longer configured" in out
    assert teams.cards == []  # never sent to a guess


def test_a_digest_card_over_digest_over(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    trials = [f"NCT0000{i:04d}" for i in range(1, 5)]
    for nct in trials:
        registry.put(make_study(nct, f"Trial number {nct}"))
    config = hook_config(tmp_path, registry, trials, WATCH, extra="\n[teams]\ndigest_over = 3\n")
    env = {"TEAMS_URL": teams.url()}
    check(config, env)
    for nct in trials:
        registry.put(changed(make_study(nct, f"Trial number {nct}"), status="COMPLETED"))
    assert "alerts sent 4" in check(config, env)
    (digest,) = teams.cards
    assert texts(digest.card)[0] == "ctwatch: 4 trials changed"
    assert all(any(t.startswith(nct) for t in texts(digest.card)) for nct in trials)


def test_test_alert_names_the_host_never_the_url(
    tmp_path: Path, registry: RegistryDouble, teams: TeamsDouble
) -> None:
    config, env = setup(tmp_path, registry, teams.url())
    registry.put(seed_study())
    result = run(config, "test-alert", env=env, secrets=(TEAMS_SIG, "/workflows/"))
    assert result.exit_code == 0, result.stdout
    reference = Destination.teams(teams.url()).target.rsplit("/", 1)[1]
    port = teams.origin().rsplit(":", 1)[1]
    assert result.stdout == f"ok      Teams 127.0.0.1:{port} ({reference})\n"
    (posted,) = teams.cards
    assert texts(posted.card)[0] == "ctwatch test alert"


def test_posts_to_one_url_are_paced_under_the_workflows_throttle(teams: TeamsDouble) -> None:
    waits: list[float] = []
    now = [100.0]

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    destination, other = Destination.teams(teams.url()), Destination.teams(teams.url("b"))
    urls = {destination: teams.url(), other: teams.url("b")}
    section = TeamsConfig(timeout=timedelta(seconds=5))
    notifier = TeamsNotifier(section, urls, sleep=sleep, monotonic=lambda: now[0])
    alert = CASES["status_change"]()
    notifier.send(destination, alert)
    notifier.send(destination, alert)  # at once: waits
    notifier.send(other, alert)  # another URL: does not
    now[0] += 1.0
    notifier.send(destination, alert)  # long after: does not
    assert waits == [PACE]
    assert [c.flow for c in teams.cards] == ["alerts", "alerts", "b", "alerts"]
