"""Who may read the UI: loopback without a token; elsewhere only with ``[server] ui_token``
(login form cookie or Bearer), whatever the source address; Slack, feeds, /metrics and
/healthz unaffected; ``config check`` warns; no token on any page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import run_cli
from tests.web.ui.conftest import LONG, UI_TOKEN, config_text
from watcher.config import Config, load_config
from watcher.store.pool import StorePool
from watcher.web.asgi import WebContext, build_app
from watcher.web.server import WebServer
from watcher.web.ui.auth import COOKIE

FEED_TOKEN = "feed-token-0123456789abcdef"
ENV = {"CTWATCH_UI_TOKEN": UI_TOKEN, "CTWATCH_FEED_TOKEN": FEED_TOKEN}
UI_PATHS = ["/", f"/trials/{LONG}", "/changes", "/changes?format=json", "/searches/x", "/login"]


def config_for(tmp_path: Path, database: Path, server: str) -> Config:
    path = tmp_path / "ctwatch.toml"
    path.write_text(config_text(database, server), encoding="utf-8")
    return load_config(path, ENV)


@contextmanager
def app_for(config: Config) -> Iterator[str]:
    """The real app on 127.0.0.1 whatever ``listen`` says (the guard reads the config)."""
    pool = StorePool()
    server = WebServer(build_app(WebContext(lambda: config, pool)), ("127.0.0.1", 0)).start()
    try:
        yield server.origin
    finally:
        server.stop()
        pool.close()


def test_non_loopback_without_token_shuts_only_the_ui(tmp_path: Path, database: Path) -> None:
    server = 'listen = "192.0.2.10:8080"\nfeed_token = "${CTWATCH_FEED_TOKEN}"'
    config = config_for(tmp_path, database, server)
    with app_for(config) as origin:
        for path in UI_PATHS:
            answer = httpx.get(origin + path, follow_redirects=False)
            assert answer.status_code == 403, path
            assert answer.text.count("\n") == 1 and "set it" in answer.text
            assert "ui_token" in answer.text
        login = httpx.post(origin + "/login", data={"token": "x"})
        assert login.status_code == 403
        assert httpx.get(origin + "/metrics").status_code == 200
        assert httpx.get(origin + "/healthz").status_code in (200, 503)
        feed = httpx.get(origin + f"/feeds/all.atom?token={FEED_TOKEN}")
        assert feed.status_code == 200
    checked = run_cli(tmp_path / "ctwatch.toml", "config", "check", env=ENV)
    assert checked.exit_code == 0
    assert "warning: the web UI is off: server.listen (192.0.2.10:8080) is not a loopback" in (
        checked.stdout
    )


def test_loopback_without_token_is_open(tmp_path: Path, database: Path) -> None:
    config = config_for(tmp_path, database, 'listen = "127.0.0.1:0"')
    with app_for(config) as origin:
        assert httpx.get(origin + "/").status_code == 200
        assert httpx.get(origin + "/login", follow_redirects=False).status_code == 303
    checked = run_cli(tmp_path / "ctwatch.toml", "config", "check", env=ENV)
    assert "warning" not in checked.stdout and "web UI: http://127.0.0.1:0/ (no token)" in (
        checked.stdout
    )


@pytest.mark.parametrize("listen", ["127.0.0.1:0", "192.0.2.10:8080"])
def test_with_a_token_every_request_needs_it(tmp_path: Path, database: Path, listen: str) -> None:
    server = f'listen = "{listen}"\nui_token = "${{CTWATCH_UI_TOKEN}}"'
    config = config_for(tmp_path, database, server)
    with app_for(config) as origin:
        for path in UI_PATHS[:-1]:
            answer = httpx.get(origin + path, follow_redirects=False)
            assert answer.status_code == 303, path
            assert answer.headers["location"].startswith("/login?next=")
            bearer = {"Authorization": f"Bearer {UI_TOKEN}"}
            assert httpx.get(origin + path, headers=bearer).status_code in (200, 404), path
            wrong = httpx.get(origin + path, headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401, path
        form = httpx.get(origin + "/login?next=/changes")
        assert form.status_code == 200 and UI_TOKEN not in form.text
        refused = httpx.post(origin + "/login", data={"token": "nope", "next": "/changes"})
        assert refused.status_code == 403 and "not the UI token" in refused.text
        assert COOKIE not in refused.headers.get("set-cookie", "")
        login = httpx.post(
            origin + "/login", data={"token": UI_TOKEN, "next": "/changes"}, follow_redirects=False
        )
        assert login.status_code == 303 and login.headers["location"] == "/changes"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        assert UI_TOKEN not in cookie  # an HMAC of it, never the token
        value = login.cookies[COOKIE]
        page = httpx.get(origin + "/", cookies={COOKIE: value})
        assert page.status_code == 200 and UI_TOKEN not in page.text
        forged = httpx.get(origin + "/", cookies={COOKIE: "0" * 64}, follow_redirects=False)
        assert forged.status_code == 303
        for target in ("//evil.example/x", "/\t/evil.example", "/\\evil.example", "https://e.x/"):
            away = httpx.post(
                origin + "/login", data={"token": UI_TOKEN, "next": target},
                follow_redirects=False,
            )  # fmt: skip
            assert away.headers["location"] == "/", target  # never an open redirect
        assert httpx.get(origin + "/metrics").status_code == 200  # not behind the UI token
    checked = run_cli(tmp_path / "ctwatch.toml", "config", "check", env=ENV)
    assert "token required" in checked.stdout and UI_TOKEN not in checked.stdout
    assert "warning" not in checked.stdout


def test_no_database_yet_is_503_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "none" / "ctwatch.db"
    config = config_for(tmp_path, missing, 'listen = "127.0.0.1:0"')
    with app_for(config) as origin:
        answer = httpx.get(origin + "/")
        assert answer.status_code == 503 and "no database yet" in answer.text
        assert httpx.get(origin + "/changes?format=json").status_code == 503
    assert not missing.exists() and not missing.parent.exists()


def test_a_short_ui_token_is_refused_without_repeating_it(tmp_path: Path, database: Path) -> None:
    path = tmp_path / "ctwatch.toml"
    path.write_text(config_text(database, 'ui_token = "short-secret"'), encoding="utf-8")
    checked = run_cli(path, "config", "check", env=ENV)
    assert checked.exit_code != 0
    assert "ui_token" in checked.stderr and "short-secret" not in checked.stderr
