"""Signed webhooks end to end: `ctwatch check` -> outbox -> httpx -> a verifying receiver.

The receiver checks every request with the ``standardwebhooks`` package, as an
integrator's would, and records every ``webhook-id`` it sees.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import hmac
import json
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.support.hook_setup import (
    SECRET,
    assert_nothing_stored,
    baseline_then_change,
    hook_config,
    outbox,
    run,
)
from tests.support.http_sink import DROPPED
from tests.support.trickle import TrickleServer
from tests.support.webhook_receiver import WebhookReceiver
from watcher.core.destination import Destination
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT

WATCH = 'webhook = ["${HOOK_URL}"]'
SIGNED = '\n[webhooks]\nsecret = "${CTWATCH_WEBHOOK_SECRET}"\n'
SECRETS = (SECRET, SECRET.removeprefix("whsec_"), "/hooks/ctwatch-7f3a9c")


def setup(
    tmp_path: Path, registry: RegistryDouble, url: str, extra: str = SIGNED, more: str = ""
) -> tuple[Path, dict[str, str]]:
    config = hook_config(tmp_path, registry, [SEED_NCT], WATCH, extra=extra, more=more)
    return config, {"HOOK_URL": url, "CTWATCH_WEBHOOK_SECRET": SECRET}


def check(config: Path, env: dict[str, str], *args: str) -> str:
    result = run(config, *args, "check", env=env, secrets=SECRETS)
    assert result.exit_code in (0, 1), result.stderr
    return result.stdout + result.stderr


def test_a_change_arrives_signed_and_verifiable(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="TERMINATED", why_stopped="Funding ended")
    assert receiver.received == []  # the baseline was silent
    assert "alerts sent 1" in check(config, env, "--log-level", "debug")
    (request,) = receiver.received
    assert request.note == "verified"  # by the standardwebhooks package
    (delivery,) = receiver.deliveries
    event = delivery.payload
    assert event["type"] == "trial.changed" and event["version"] == 1
    assert event["id"] == delivery.webhook_id == request.headers["webhook-id"]
    assert delivery.webhook_id.startswith("msg_1_")
    data = event["data"]
    assert (
        data["nct_id"] == SEED_NCT and data["headline"] == "Overall Status: Recruiting → Terminated"
    )
    assert {c["label"] for c in data["changes"]} == {"Overall Status", "Why Stopped"}
    assert data["links"]["history"] == f"https://clinicaltrials.gov/study/{SEED_NCT}?tab=history"
    # the signature, recomputed by hand from the spec: v1,base64(HMAC-SHA256(id.timestamp.body))
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = (
        f"{delivery.webhook_id}.{request.headers['webhook-timestamp']}.".encode() + request.body
    )
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    assert request.headers["webhook-signature"] == f"v1,{expected}"
    assert "alerts sent 0" in check(config, env)  # a normal re-run never duplicates
    assert len(receiver.received) == 1
    assert_nothing_stored(tmp_path, *SECRETS)


def test_a_retry_after_a_dropped_connection_carries_the_same_id(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="SUSPENDED")
    receiver.fail_next(drop=True)  # read, then hung up on
    out = check(config, env)
    assert "alerts pending 1" in out and "cannot reach webhook 127.0.0.1:" in out
    receiver.lose_answers(1)  # acted on, but the answer never arrives
    assert "alerts pending 1" in check(config, env)
    assert "alerts sent 1" in check(config, env)
    first, second, third = receiver.received
    assert [r.status for r in receiver.received] == [DROPPED, DROPPED, 200]
    assert (
        first.headers["webhook-id"] == second.headers["webhook-id"] == third.headers["webhook-id"]
    )
    assert first.body == second.body == third.body  # the same event, re-signed per attempt
    assert third.note == "duplicate"  # the receiver recognised the retry by its id
    assert len(receiver.deliveries) == 1


def test_rate_limits_and_server_errors_are_retried(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="COMPLETED")
    receiver.fail_next(429, "slow down", headers={"Retry-After": "30"})
    assert "answered HTTP 429: slow down" in check(config, env)
    receiver.fail_next(503, "maintenance")
    assert "answered HTTP 503: maintenance" in check(config, env)
    assert "alerts sent 1" in check(config, env)
    assert len(receiver.deliveries) == 1
    assert len(set(receiver.ids)) == 1


def test_gone_and_other_client_errors_fail_for_good(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    more = '\n[[watch]]\nname = "second"\ntrials = ["NCT06850103"]\nwebhook = ["${OTHER_URL}"]\n'
    config, env = setup(tmp_path, registry, receiver.url(), more=more)
    env["OTHER_URL"] = receiver.url("/hooks/unknown")  # the receiver answers 404
    baseline_then_change(config, registry, env, status="COMPLETED")
    receiver.fail_next(410, "this hook was deleted")
    out = check(config, env)
    assert "alerts sent 0 · alerts failed 2" in out
    assert "answered HTTP 410: gone (the receiver wants no more events)" in out
    assert "answered HTTP 404: no such hook" in out
    assert "alerts sent 0" in check(config, env)  # failed rows are not retried
    assert len(receiver.received) == 2


def test_an_error_that_echoes_the_url_and_secret_is_masked_everywhere(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="SUSPENDED")
    echo = json.dumps({"message": f"bad key {SECRET} for {receiver.url()} ?token=abc123xyz"})
    receiver.fail_next(403, echo, content_type="application/json", times=2)
    out = check(config, env, "--log-level", "debug")
    assert "alerts failed 1" in out and "answered HTTP 403: bad key *** for ***" in out
    status = json.loads(run(config, "status", "--json", env=env, secrets=SECRETS).stdout)
    (problem,) = status["alert_problems"]
    assert problem["destination"] == Destination.webhook(receiver.url()).describe()
    assert problem["error"].startswith("webhook 127.0.0.1:")
    assert "***" in problem["error"] and "abc123xyz" not in problem["error"]
    run(config, "status", env=env, secrets=SECRETS)
    test_alert = run(config, "test-alert", env=env, secrets=SECRETS)
    assert test_alert.exit_code == 1 and "HTTP 403" in test_alert.stdout
    assert_nothing_stored(tmp_path, *SECRETS, receiver.url(), "abc123xyz")


def test_an_error_body_is_masked_before_it_is_cut_and_never_decompressed(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="SUSPENDED")
    padding = "x" * 160  # the echoed secret straddles the 200-character cut
    receiver.fail_next(503, f"{padding} {receiver.url()} {SECRET}")
    out = check(config, env)
    assert f"answered HTTP 503: {padding} ***" in out
    bomb = gzip.compress(b"\0" * 20_000_000)  # 20 MB of zeros in about 20 KB
    receiver.fail_next(500, bomb, headers={"Content-Encoding": "gzip"})
    assert "answered HTTP 500: (a compressed body)" in check(config, env)
    assert "alerts sent 1" in check(config, env)


def test_a_redirect_is_not_followed(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    with WebhookReceiver(SECRET) as elsewhere:
        config, env = setup(tmp_path, registry, receiver.url())
        baseline_then_change(config, registry, env, status="SUSPENDED")
        receiver.fail_next(307, headers={"Location": elsewhere.url()})
        out = check(config, env)
        assert "answered HTTP 307, a redirect; not followed (check the URL)" in out
        assert elsewhere.received == []  # the body (and any secret) stayed home


def test_without_a_secret_events_go_unsigned(tmp_path: Path, registry: RegistryDouble) -> None:
    with WebhookReceiver(None) as plain:
        config, env = setup(tmp_path, registry, plain.url(), extra="")
        baseline_then_change(config, registry, env, status="SUSPENDED")
        assert "alerts sent 1" in check(config, env)
        (request,) = plain.received
        assert "webhook-signature" not in request.headers
        assert request.headers["webhook-id"].startswith("msg_")


@pytest.mark.parametrize(("key", "section"), [("teams", "teams"), ("webhook", "webhooks")])
def test_a_trickling_endpoint_is_cut_off(
    tmp_path: Path, registry: RegistryDouble, key: str, section: str
) -> None:
    """Teams and webhooks share one POST: its total deadline holds against a slow loris."""
    answer = b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\n\r\n"
    with TrickleServer(answer, interval=0.05) as slow:
        extra = f'\n[{section}]\ntimeout = "1s"\n'
        config = hook_config(tmp_path, registry, [SEED_NCT], f'{key} = ["${{URL}}"]', extra)
        env = {"URL": f"{slow.origin}/hooks/x?sig=trickle-sig-123"}
        baseline_then_change(config, registry, env, status="SUSPENDED")
        out = check(config, env)
    assert "alerts sent 0 · alerts pending 1" in out
    assert "(no complete answer within 1 s)" in out
    assert "trickle-sig-123" not in out


def test_watches_sharing_a_webhook_get_one_event_and_notices_arrive_too(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    more = '\n[[watch]]\nname = "twin"\ntrials = ["NCT06850103"]\nwebhook = ["${HOOK_URL}"]\n'
    extra = SIGNED + "\n[alerts]\ntrouble_after = 1\n"
    config, env = setup(tmp_path, registry, receiver.url(), extra=extra, more=more)
    baseline_then_change(config, registry, env, status="SUSPENDED")
    assert "alerts sent 1" in check(config, env)  # one event for two watches
    registry.fail_next(503, "down", times=10)
    result = run_cli(config, "check", env=env)
    assert result.exit_code == 1 and "alerts sent 1" in result.stdout
    types = [d.payload["type"] for d in receiver.deliveries]
    assert types == ["trial.changed", "ctwatch.notice"]
    notice = receiver.deliveries[1].payload["data"]
    assert notice["headline"] == "checks are failing" and notice["nct_id"] is None


def test_test_alert_sends_a_test_event(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config, env = setup(tmp_path, registry, receiver.url())
    result = run(config, "test-alert", env=env, secrets=SECRETS)
    assert result.exit_code == 0
    assert result.stdout.startswith("ok      webhook 127.0.0.1:")
    (delivery,) = receiver.deliveries
    assert delivery.payload["type"] == "test" and delivery.webhook_id.startswith("msg_test_")
    assert outbox(tmp_path) == []  # test alerts bypass the outbox


def test_a_manual_retry_of_a_given_up_alert_keeps_its_webhook_id_and_gets_a_fresh_age(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    """A receiver that stored the event but kept answering 500: the retry is a duplicate."""
    config, env = setup(tmp_path, registry, receiver.url())
    baseline_then_change(config, registry, env, status="SUSPENDED")
    receiver.fail_next(500, "busy")
    assert "alerts pending 1" in check(config, env)
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:  # queued six days ago
        conn.execute(
            "UPDATE outbox SET created_at = '2020-01-01T00:00:00Z', next_attempt_at = created_at"
        )
    receiver.fail_next(500, "busy")
    assert "alerts failed 1" in check(config, env)  # past give_up_after: failed
    queued_at = queued(tmp_path)
    retried = run(config, "outbox", "retry", "--failed", env=env, secrets=SECRETS)
    assert retried.exit_code == 0, retried.stderr
    receiver.fail_next(500, "busy")
    assert "alerts pending 1" in check(config, env)  # its age counts from the retry
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        conn.execute("UPDATE outbox SET next_attempt_at = '2020-01-01T00:00:00Z'")
    assert "alerts sent 1" in check(config, env)
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 4 and ids[1] == ids[2] == ids[3]  # one id since it was queued (in 2020)
    assert queued(tmp_path) == queued_at  # the same row, queued at the same time


def queued(tmp_path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
        return conn.execute("SELECT id, created_at FROM outbox ORDER BY id").fetchall()
