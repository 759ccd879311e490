"""``[server] public_url``: alerts link to the trial's page, a digest's "…and N more" to
``/changes`` filtered to exactly the change sets it did not show."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.support.hook_setup import SECRET, baseline_then_change, hook_config, receiver, run
from tests.support.story import record_story, slipping_records
from tests.support.webhook_receiver import WebhookReceiver
from tests.web.ui.conftest import serve
from watcher.alerts.delivery import Deliverer
from watcher.alerts.email_message import build_message
from watcher.alerts.teams_card import digest_card
from watcher.core.render import MAX_LINKED_SETS, Alert, changes_url
from watcher.slack.blocks import digest_message
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT

__all__ = ["receiver"]  # the fixture, used by name
SITE = "https://ctwatch.example.org"
WATCH = 'webhook = ["${HOOK_URL}"]'
SERVER = (
    f'\n[server]\nlisten = "127.0.0.1:0"\npublic_url = "{SITE}/"\n'
    '\n[webhooks]\nsecret = "${CTWATCH_WEBHOOK_SECRET}"\n'
)


def test_a_webhook_alert_carries_the_trial_page(
    tmp_path: Path, registry: RegistryDouble, receiver: WebhookReceiver
) -> None:
    config = hook_config(tmp_path, registry, [SEED_NCT], WATCH, extra=SERVER)
    env = {"HOOK_URL": receiver.url(), "CTWATCH_WEBHOOK_SECRET": SECRET}
    baseline_then_change(config, registry, env, status="TERMINATED", why_stopped="Funding ended")
    result = run(config, "check", env=env, secrets=())
    assert result.exit_code == 0, result.stderr
    (delivery,) = receiver.deliveries
    data = delivery.payload["data"]
    page = f"{SITE}/trials/{SEED_NCT}"  # the trailing slash of public_url is dropped
    assert data["url"] == page and data["links"]["page"] == page
    assert data["links"]["history"].startswith("https://clinicaltrials.gov/")
    feed = run(config, "feed", "all", env=env, secrets=())
    assert f'href="{page}"' in feed.stdout  # the feed entry's link


def _alerts(tmp_path: Path, trials: int) -> list[Alert]:
    """Alerts as the deliverer rebuilds them, for ``trials`` changed trials."""
    store = Store.open(tmp_path / "ctwatch.db")
    try:
        for index in range(trials):
            nct = f"NCT0{index:07d}"
            record_story(store, nct, slipping_records(nct, 2))
        with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
            changed = [r[0] for r in conn.execute("SELECT id FROM versions WHERE change_count > 0")]
        from watcher.core.destination import Destination  # noqa: PLC0415
        from watcher.store.rows import OutboxClaim  # noqa: PLC0415

        hook = Destination("webhook", ("https://hooks.example/x",))
        claims = [
            OutboxClaim(vid, vid, f"NCT0{i:07d}", hook, None, 0) for i, vid in enumerate(changed)
        ]
        return Deliverer(store, {}, site=SITE).alerts_for(claims)
    finally:
        store.close()


def test_digests_link_the_rest_to_exactly_those_change_sets(tmp_path: Path) -> None:
    alerts = _alerts(tmp_path, 60)
    assert all(a.page_url == f"{SITE}/trials/{a.nct_id}" for a in alerts)
    _, blocks = digest_message(alerts)
    more = blocks[-2]["text"]["text"]
    assert "…and" in more and f"<{SITE}/changes?set=" in more
    url = more.split("<", 1)[1].split("|", 1)[0]
    shown = len(blocks) - 3  # header, the "more" section, the context
    sets = [int(s) for s in parse_qs(urlsplit(url).query)["set"][0].split(",")]
    assert sets == [a.change_set for a in alerts[shown:]]
    content = digest_card(alerts, limit=12_000)["attachments"][0]["content"]
    teams_shown = sum(1 for e in content["body"] if e.get("type") == "Container")
    assert 0 < teams_shown < len(alerts)
    (action,) = content["actions"]
    teams_sets = parse_qs(urlsplit(action["url"]).query)["set"][0].split(",")
    assert [int(s) for s in teams_sets] == [a.change_set for a in alerts[teams_shown:]]
    email = build_message(alerts[0], "ctwatch@example.org", ["a@example.org"], _now())
    assert f"{SITE}/trials/{alerts[0].nct_id}" in email.as_string()


def test_the_set_link_opens_exactly_those_changes(tmp_path: Path) -> None:
    alerts = _alerts(tmp_path, 5)
    url = changes_url(alerts[2:])
    assert url is not None
    sets = parse_qs(urlsplit(url).query)["set"][0]
    services, _ = serve(tmp_path, tmp_path / "ctwatch.db", 'listen = "127.0.0.1:0"')
    try:
        assert services.web is not None
        answer = httpx.get(f"{services.web.origin}/changes?format=json&set={sets}")
        got = [c["change_set"] for c in answer.json()["changes"]]
        assert sorted(got) == sorted(a.change_set or 0 for a in alerts[2:])
    finally:
        services.stop()


def test_without_public_url_no_link_and_a_huge_rest_links_the_log(tmp_path: Path) -> None:
    plain = Alert(SEED_NCT, "t", ())
    assert plain.page_url is None and changes_url([plain]) is None
    many = [Alert(SEED_NCT, "t", (), site=SITE, change_set=i) for i in range(MAX_LINKED_SETS + 1)]
    assert changes_url(many) == f"{SITE}/changes"


def _now() -> datetime:
    return datetime(2026, 1, 1, tzinfo=UTC)
