"""The web UI served for real: a database with a 30-version trial and a hostile one,
a config, ctwatch's own WebServer on 127.0.0.1 port 0, and headless Chromium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.story import import_story, record_story, slipping_records
from watcher.app import Services, build_services
from watcher.config import Config, load_config
from watcher.store import Store
from watcher.store.searches import MemberEvent, SearchUpdate
from watcher.testing.samples import changed, make_study

LONG = "NCT01234567"
HOSTILE_NCT = "NCT07654321"
QUIET = "NCT05555555"
IMPORTED_NCT = "NCT03333333"
SEARCH = "tumor <b>search</b>"
VERSIONS = 30
HOSTILE_TITLE = 'Trial <script>alert("title")</script><img src=x onerror=alert(1)> & "quotes"'
HOSTILE_WHY = "<b>Stopped</b><script>document.title='pwned'</script>"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
UI_TOKEN = "ui-token-0123456789abcdef"


@dataclass(frozen=True)
class Served:
    origin: str
    config: Config
    database: Path


def fill(database: Path) -> None:
    """The trials the pages show: 30 slipping versions, a hostile record with a
    why-stopped, a trial with one version (nothing changed)."""
    store = Store.open(database)
    try:
        record_story(store, LONG, slipping_records(LONG, VERSIONS))
        hostile = make_study(HOSTILE_NCT, HOSTILE_TITLE)
        stopped = changed(
            make_study(HOSTILE_NCT, HOSTILE_TITLE), status="TERMINATED", why_stopped=HOSTILE_WHY,
            last_update="2026-02-01",
        )  # fmt: skip
        record_story(store, HOSTILE_NCT, [hostile, stopped])
        record_story(store, QUIET, [make_study(QUIET, "A quiet trial")])
        imported = [
            make_study(IMPORTED_NCT, "An imported history", status=status, last_update=day)
            for status, day in (("NOT_YET_RECRUITING", "2024-03-01"), ("RECRUITING", "2024-09-01"))
        ]
        import_story(store, IMPORTED_NCT, imported)
        query = '{"query.cond": "tumor"}'
        store.searches.apply(
            SearchUpdate(SEARCH, query, "2026-01-01T06:00:00Z", None, baseline=(LONG, QUIET))
        )
        joined = MemberEvent(HOSTILE_NCT, "new", {"title": HOSTILE_TITLE})
        store.searches.apply(
            SearchUpdate(SEARCH, query, "2026-02-01T06:00:00Z", None, entered=(joined,))
        )
        left = MemberEvent(QUIET, "left", {})
        store.searches.apply(
            SearchUpdate(SEARCH, query, "2026-03-01T06:00:00Z", None, left=(left,), seen=(LONG,))
        )
    finally:
        store.close()


def config_text(database: Path, server: str) -> str:
    return f"""
[registry]
url = "http://127.0.0.1:9/api/v2"

[database]
path = "{database}"

[server]
{server}

[[watch]]
name = "oncology"
trials = ["{LONG}", "{HOSTILE_NCT}", "{QUIET}", "{IMPORTED_NCT}"]

[[watch]]
name = "quiet"
trials = ["{QUIET}"]
"""


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ui") / "ctwatch.db"
    fill(path)
    return path


def serve(
    folder: Path, database: Path, server: str, env: dict[str, str] | None = None
) -> tuple[Services, Config]:
    """ctwatch's own web server for a config with this ``[server]`` section."""
    path = folder / "ctwatch.toml"
    path.write_text(config_text(database, server), encoding="utf-8")
    config = load_config(path, env or {})
    return build_services(lambda: config).start(), config


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, database: Path) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("served")
    services, config = serve(folder, database, 'listen = "127.0.0.1:0"')
    try:
        assert services.web is not None
        yield Served(services.web.origin, config, database)
    finally:
        services.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium through Playwright; missing: fail under CI=true, else skip."""
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only with Chromium

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
