"""A slow page never makes Slack wait, and a page's read has a time limit.

The UI reads through a connection of its own (the StorePool keyed by purpose): while
a page holds that connection's lock (a query of seconds), a signed slash command is
answered at once. A read over ``ui_query_seconds`` is a 503 that says to narrow the
filter. The ``type=`` filter reads candidate sets or probes versions (dense types);
both give what a plain reading of every change set gives.
"""

from __future__ import annotations

import fnmatch
import time
from pathlib import Path

import httpx
import pytest

from tests.support.slack_double import SlackDouble
from tests.web.test_connection_limits import ENV, signed_help, slack_commands_config
from tests.web.ui.conftest import fill
from tests.web.ui.test_access import config_for
from watcher.app import build_services
from watcher.config import load_config
from watcher.store import Store
from watcher.store import base as base_module
from watcher.store import timeline as timeline_module
from watcher.store.pool import UI
from watcher.store.timeline import ChangeQuery
from watcher.testing.registry_double import RegistryDouble
from watcher.web.limits import Limits
from watcher.web.ui.routes import TOO_SLOW


def test_a_page_holding_its_connection_does_not_delay_a_slash_command(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    fill(tmp_path / "ctwatch.db")
    with SlackDouble(channels=("#trial-alerts",)) as slack:
        loaded = load_config(slack_commands_config(tmp_path, registry, slack), ENV)
        services = build_services(lambda: loaded).start()
        try:
            assert services.web is not None
            origin = services.web.origin
            assert httpx.get(origin + "/changes", timeout=10).status_code == 200
            ui = services.pool.get(loaded.database, loaded.secrets(), purpose=UI)
            with ui.conn.lock:  # what a page in a long query holds
                body, headers = signed_help(slack)
                started = time.monotonic()
                answer = httpx.post(
                    origin + "/slack/commands", content=body, headers=headers, timeout=3
                )
                elapsed = time.monotonic() - started
                health = httpx.get(origin + "/healthz", timeout=3)
                metrics = httpx.get(origin + "/metrics", timeout=3)
        finally:
            services.stop()
    assert answer.status_code == 200, answer.text
    assert elapsed < 3
    assert health.status_code in (200, 503) and "busy" not in health.text
    assert metrics.status_code == 200


def test_a_read_over_the_ui_limit_is_a_503_that_says_to_narrow_the_filter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "ctwatch.db"
    fill(database)
    # the clock is read every few SQLite steps, so a small database's reads are long enough
    monkeypatch.setattr(base_module, "PROGRESS_STEPS", 10)
    config = config_for(tmp_path, database, 'listen = "127.0.0.1:0"')
    services = build_services(lambda: config, limits=Limits(ui_query_seconds=1e-9)).start()
    try:
        assert services.web is not None
        origin = services.web.origin
        page = httpx.get(origin + "/changes?type=field.*", timeout=10)
        export = httpx.get(origin + "/changes?type=field.*&format=csv", timeout=10)
        metrics = httpx.get(origin + "/metrics", timeout=10)  # the service's connection
    finally:
        services.stop()
    assert page.status_code == 503 and "this query took too long" in page.text
    assert "narrow the filter" in page.text
    assert export.status_code == 503 and export.text == TOO_SLOW + "\n"
    assert metrics.status_code == 200


GLOBS = ["field.*", "field.changed", "field.added", "f*", "*", "*.changed", "status.*",
         "dates.*", "[a-f]*", "nothing.here", "field."]  # fmt: skip


@pytest.mark.parametrize("dense", [False, True])
def test_type_filters_match_every_change_set_they_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dense: bool
) -> None:
    database = tmp_path / "ctwatch.db"
    fill(database)
    if dense:  # every filter probes versions in date order instead of reading a set
        monkeypatch.setattr(timeline_module, "DENSE", 0)
    store = Store.open(database)
    try:
        every = store.timeline.changes(ChangeQuery(limit=10_000))
        for glob in GLOBS:
            expected = [
                s.version_id for s in every
                if any(fnmatch.fnmatchcase(e.type, glob) for e in s.entries)
            ]  # fmt: skip
            got = store.timeline.changes(ChangeQuery(type_glob=glob, limit=10_000))
            assert [s.version_id for s in got] == expected, glob
        assert store.timeline.changes(ChangeQuery(type_glob="field.*", limit=10_000))
    finally:
        store.close()
