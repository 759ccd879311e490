"""The web server over real sockets: feeds (Atom rules, tokens), /metrics, /healthz, limits."""

from __future__ import annotations

import logging
import re
import socket
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import run_cli, write_config
from watcher.app import build_services
from watcher.config import ConfigError, load_config
from watcher.store import Store
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, changed, make_study, seed_study
from watcher.web.limits import Limits

FEED_TOKEN = "feed-token-0123456789abcdef"
ENV = {"CTWATCH_FEED_TOKEN": FEED_TOKEN}
ATOM = "{http://www.w3.org/2005/Atom}"
OTHER = "NCT01234567"
HOSTILE = "Trial <script>alert(1)</script> & ]]> \x00\x0b <!channel> \u2028 end"
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
FAST = Limits(body_seconds=0.5, header_seconds=0.5)


def server_config(
    tmp_path: Path, registry: RegistryDouble, *, server: str | None = None, watch_extra: str = ""
) -> Path:
    section = (
        server
        if server is not None
        else '[server]\nlisten = "127.0.0.1:0"\nfeed_token = "${CTWATCH_FEED_TOKEN}"\n'
    )
    return write_config(
        tmp_path, registry.url, [SEED_NCT, OTHER], extra=section, watch_extra=watch_extra
    )


@contextmanager
def web(config: Path, limits: Limits = FAST) -> Iterator[str]:
    loaded = load_config(config, ENV)
    services = build_services(lambda: loaded, limits=limits).start()
    try:
        assert services.web is not None
        yield services.web.origin
    finally:
        services.stop()


def check(config: Path) -> str:
    result = run_cli(config, "check", env=ENV)
    assert result.exit_code == 0, result.stderr
    return result.stdout


def two_changes(config: Path, registry: RegistryDouble) -> None:
    """A baseline, then a status change of the seed trial and one of a hostile record."""
    registry.put(seed_study())
    registry.put(make_study(OTHER, HOSTILE))
    check(config)
    registry.put(changed(seed_study(), status="SUSPENDED", why_stopped="Drug <b>supply</b>"))
    check(config)
    registry.put(changed(make_study(OTHER, HOSTILE), status="COMPLETED", last_update="2026-02-01"))
    check(config)


# ---- feeds ----------------------------------------------------------------------------


def test_feed_tokens_missing_wrong_right_and_feeds_off_without_one(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry)
    with web(config) as origin:
        url = f"{origin}/feeds/watch/test.atom"
        assert httpx.get(url).status_code == 401
        assert httpx.get(url, params={"token": "wrong"}).status_code == 403
        assert httpx.get(url, params={"token": FEED_TOKEN + "x"}).status_code == 403
        right = httpx.get(url, params={"token": FEED_TOKEN})
        assert right.status_code == 200
        assert right.headers["content-type"] == "application/atom+xml; charset=utf-8"
        assert httpx.get(f"{origin}/feeds/all.atom", params={"token": FEED_TOKEN}).is_success
        unknown = httpx.get(f"{origin}/feeds/watch/nope.atom", params={"token": FEED_TOKEN})
        assert unknown.status_code == 404
        assert httpx.get(f"{origin}/feeds/watch/nope.atom").status_code == 401  # no probing
    off = server_config(tmp_path, registry, server='[server]\nlisten = "127.0.0.1:0"\n')
    with web(off) as origin:
        response = httpx.get(f"{origin}/feeds/all.atom", params={"token": FEED_TOKEN})
        assert response.status_code == 404


def test_a_feed_follows_the_atom_rules_and_escapes_hostile_text(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry)
    two_changes(config, registry)
    with web(config) as origin:
        first = httpx.get(f"{origin}/feeds/watch/test.atom", params={"token": FEED_TOKEN})
        again = httpx.get(f"{origin}/feeds/watch/test.atom", params={"token": FEED_TOKEN})
    feed = ET.fromstring(first.content)  # well-formed despite \x00 and ]]> in the record
    assert feed.tag == f"{ATOM}feed"
    for tag in ("id", "title", "updated", "author"):
        assert len(feed.findall(f"{ATOM}{tag}")) == 1, tag
    assert RFC3339.match(feed.findtext(f"{ATOM}updated") or "")
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 2
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == 2 and all(i and i.startswith("urn:uuid:") for i in ids)
    again_ids = [e.findtext(f"{ATOM}id") for e in ET.fromstring(again.content).iter(f"{ATOM}entry")]
    assert again_ids == ids  # stable per version and feed
    updated = [e.findtext(f"{ATOM}updated") or "" for e in entries]
    assert all(RFC3339.match(u) for u in updated) and updated == sorted(updated, reverse=True)
    assert feed.findtext(f"{ATOM}updated") == updated[0]
    newest, older = entries
    assert (newest.findtext(f"{ATOM}title") or "").startswith(f"{OTHER} · Overall Status")
    summary = newest.findtext(f"{ATOM}summary") or ""
    assert newest.find(f"{ATOM}summary").get("type") == "text"  # type: ignore[union-attr]
    assert "<script>alert(1)</script> & ]]>" in summary and "\x00" not in summary
    assert "Overall Status: Recruiting → Completed" in summary
    link = newest.find(f"{ATOM}link")
    assert link is not None and link.get("href") == (
        f"https://clinicaltrials.gov/study/{OTHER}?tab=history"
    )
    content = newest.find(f"{ATOM}content")
    assert content is not None and content.get("type") == "html"
    html = ET.fromstring(content.text or "")
    assert not list(html.iter("script"))  # record text stays text inside the HTML
    assert "<script>alert(1)</script>" in "".join(html.itertext())
    older_html = ET.fromstring(older.findtext(f"{ATOM}content") or "")
    labels = [b.text for b in older_html.iter("b")]  # our labels only; "<b>supply</b>" is text
    assert labels == ["Overall Status:", "Why Stopped:"]
    # rich text is shown by its words (markup is never content): the tags are gone, not run
    assert "Why Stopped: (none) → Drug supply" in (older.findtext(f"{ATOM}summary") or "")


def test_feeds_filter_by_the_watchs_fields_and_cover_slack_channels(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry, watch_extra='fields = ["WhyStopped"]')
    two_changes(config, registry)
    with web(config) as origin:
        watch = httpx.get(f"{origin}/feeds/test.atom", params={"token": FEED_TOKEN})
        assert watch.status_code == 404  # a watch feed is /feeds/watch/<name>.atom
        watch = httpx.get(f"{origin}/feeds/watch/test.atom", params={"token": FEED_TOKEN})
        everything = httpx.get(f"{origin}/feeds/all.atom", params={"token": FEED_TOKEN})
    (entry,) = ET.fromstring(watch.content).iter(f"{ATOM}entry")  # the COMPLETED change: no
    summary = entry.findtext(f"{ATOM}summary") or ""
    assert "Why Stopped" in summary and "Overall Status" not in summary
    assert len(list(ET.fromstring(everything.content).iter(f"{ATOM}entry"))) == 2
    cli = run_cli(config, "feed", "watch/test", env=ENV)
    assert cli.exit_code == 0
    cli_ids = [e.findtext(f"{ATOM}id") for e in ET.fromstring(cli.stdout).iter(f"{ATOM}entry")]
    assert cli_ids == [entry.findtext(f"{ATOM}id")]  # the same feed as served


def test_feed_command_writes_the_file_atomically(tmp_path: Path, registry: RegistryDouble) -> None:
    config = server_config(tmp_path, registry)
    two_changes(config, registry)
    out = tmp_path / "public" / "all.atom"
    out.parent.mkdir()
    out.write_text("old feed")
    result = run_cli(config, "feed", "all", "--output", str(out), env=ENV)
    assert result.exit_code == 0 and result.stdout == ""
    assert len(list(ET.fromstring(out.read_bytes()).iter(f"{ATOM}entry"))) == 2
    assert [p.name for p in out.parent.iterdir()] == ["all.atom"]  # no temporary left
    unknown = run_cli(config, "feed", "watch/nope", env=ENV)
    assert unknown.exit_code == 2
    assert "no feed named 'watch/nope' (feeds: all, watch/test, slack/CHANNEL)" in unknown.stderr
    missing = str(tmp_path / "missing" / "f.atom")
    blocked = run_cli(config, "feed", "all", "--output", missing, env=ENV)
    assert blocked.exit_code == 2 and "--output: cannot write" in blocked.stderr


# ---- /metrics and /healthz --------------------------------------------------------


def test_metrics_parse_and_count_what_the_database_holds(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry)
    two_changes(config, registry)
    with web(config) as origin:
        response = httpx.get(f"{origin}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }
    assert samples[("ctwatch_cycles_total", (("outcome", "complete"),))] == 3
    assert samples[("ctwatch_cycles_total", (("outcome", "failed"),))] == 0
    assert samples[("ctwatch_cycle_duration_seconds_count", ())] == 3
    assert samples[("ctwatch_registry_requests_total", ())] == 3
    assert samples[("ctwatch_registry_received_bytes_total", ())] > 1000
    assert samples[("ctwatch_trials_watched", ())] == 2
    sent = (("destination_kind", "console"), ("state", "sent"))
    assert samples[("ctwatch_alerts", sent)] == 2
    assert samples[("ctwatch_alerts", (("destination_kind", "slack"), ("state", "pending")))] == 0
    assert samples[("ctwatch_oldest_pending_alert_age_seconds", ())] == 0
    assert abs(samples[("ctwatch_last_successful_cycle_timestamp_seconds", ())] - time.time()) < 60
    assert samples[("ctwatch_backfill_queue_trials", ())] == 0
    store = Store.open(tmp_path / "ctwatch.db")
    store.histories.enqueue([SEED_NCT, OTHER], "2026-11-30T00:00:00Z")
    store.close()
    with web(config) as origin:
        queued = httpx.get(f"{origin}/metrics").text
    assert "ctwatch_backfill_queue_trials 2.0" in queued


def test_healthz_answers_like_ctwatch_health(tmp_path: Path, registry: RegistryDouble) -> None:
    config = server_config(tmp_path, registry)
    with web(config) as origin:
        none_yet = httpx.get(f"{origin}/healthz")
        assert none_yet.status_code == 503
        assert none_yet.json() == {
            "status": "unhealthy",
            "reason": "no database yet (no cycle has run)",
        }
        registry.put(seed_study())
        registry.put(make_study(OTHER, "Other"))
        check(config)
        healthy = httpx.get(f"{origin}/healthz")
        assert healthy.status_code == 200 and healthy.json()["status"] == "healthy"
        registry.fail_next(503, "down", times=20)
        assert run_cli(config, "check", env=ENV).exit_code == 1
        failed = httpx.get(f"{origin}/healthz")
    assert failed.status_code == 503 and "failed" in failed.json()["reason"]
    cli = run_cli(config, "health", env=ENV)
    assert cli.exit_code == 1 and failed.json()["reason"] in cli.stderr


# ---- limits, logs and addresses ------------------------------------------------------


def test_a_client_trickling_a_body_is_cut_off(tmp_path: Path, registry: RegistryDouble) -> None:
    config = server_config(tmp_path, registry)
    with web(config) as origin:
        port = int(origin.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(
                b"POST /slack/commands HTTP/1.1\r\nHost: x\r\n"
                b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n"
            )
            started = time.monotonic()
            conn.settimeout(0.1)
            answer = b""
            for _ in range(100):  # one byte per 0.1 s: 100 s for the body, if nobody stopped it
                conn.sendall(b"x")
                try:
                    answer = conn.recv(4096)
                except TimeoutError:
                    continue
                break
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert time.monotonic() - started < 5


def test_a_client_trickling_its_head_is_disconnected(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = server_config(tmp_path, registry)
    with web(config) as origin:
        port = int(origin.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            started = time.monotonic()
            conn.settimeout(0.1)
            closed = False
            for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: " + b"y" * 100:
                try:
                    conn.sendall(bytes([byte]))
                    closed = conn.recv(1) == b""
                except TimeoutError:
                    continue
                except OSError:
                    closed = True
                if closed:
                    break
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)  # says nothing at all
        with idle:
            assert idle.recv(1) == b""  # closed by the server, well within the 5 s time-out
    assert closed and time.monotonic() - started < 5


def test_feed_tokens_never_reach_a_log_line(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    config = server_config(tmp_path, registry)
    with web(config) as origin:
        for token in (FEED_TOKEN, "wrong-token-9876543210"):
            httpx.get(f"{origin}/feeds/all.atom", params={"token": token})
        httpx.get(f"{origin}/nowhere?token={FEED_TOKEN}")
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert FEED_TOKEN not in logged and "wrong-token-9876543210" not in logged
    assert "GET /feeds" not in logged  # no access log


def test_server_listen_and_its_old_name(tmp_path: Path, registry: RegistryDouble) -> None:
    slack = '[slack]\ntoken = "xoxb-1"\nsigning_secret = "s3cret"\n'
    same = server_config(
        tmp_path,
        registry,
        server=f'{slack}[slack.commands]\nlisten = "127.0.0.1:9100"\n[server]\nlisten = "127.0.0.1:9100"\n',
    )
    load_config(same, ENV)
    differ = server_config(
        tmp_path,
        registry,
        server=f'{slack}[slack.commands]\nlisten = "127.0.0.1:9101"\n[server]\nlisten = "127.0.0.1:9100"\n',
    )
    with pytest.raises(
        ConfigError, match=r"server\.listen .* and slack\.commands\.listen .* differ"
    ):
        load_config(differ, ENV)
    short = server_config(tmp_path, registry, server='[server]\nfeed_token = "short"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(short, ENV)
    assert "server.feed_token: is shorter than 16 characters" in str(caught.value)
    assert "'short'" not in str(caught.value)  # a secret is never repeated


def test_an_address_in_use_is_one_line_and_exit_2(tmp_path: Path, registry: RegistryDouble) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = server_config(
            tmp_path, registry, server=f'[server]\nlisten = "127.0.0.1:{port}"\n'
        )
        result = run_cli(config, "serve", env=ENV)
    assert result.exit_code == 2
    assert f"server.listen: cannot listen on 127.0.0.1:{port} (" in result.stderr
    assert "Traceback" not in result.stderr
