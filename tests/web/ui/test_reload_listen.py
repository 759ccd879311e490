"""A reload cannot open the UI: the socket keeps its address, so its token rule stays.

The daemon starts on 0.0.0.0 with a ``ui_token``; the file is edited to 127.0.0.1
without a token and reloaded. The socket still listens on every interface (a restart
rebinds it), so the UI stays shut and the log says a restart is needed.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from tests.conftest import daemon_for
from tests.web.ui.conftest import UI_TOKEN, config_text
from watcher.app import build_services


def test_a_reload_to_loopback_without_token_keeps_the_ui_shut(
    tmp_path: Path,
    database: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("CTWATCH_UI_TOKEN", UI_TOKEN)
    path = tmp_path / "ctwatch.toml"
    public = 'listen = "0.0.0.0:0"\nui_token = "${CTWATCH_UI_TOKEN}"'
    path.write_text(config_text(database, public), encoding="utf-8")
    daemon = daemon_for(path)
    services = build_services(lambda: daemon.config).start()
    try:
        assert services.web is not None
        port = services.web.origin.rsplit(":", 1)[1]
        origin = f"http://127.0.0.1:{port}"
        assert httpx.get(origin + "/", follow_redirects=False).status_code == 303  # to /login
        path.write_text(config_text(database, 'listen = "127.0.0.1:0"'), encoding="utf-8")
        with caplog.at_level(logging.WARNING, logger="watcher"):
            assert daemon.reload() is True
        assert "server listen changed" in caplog.text and "until a restart" in caplog.text
        answer = httpx.get(origin + "/", follow_redirects=False)
        assert answer.status_code == 403, answer.text  # bound 0.0.0.0, no token: shut
        assert "ui_token" in answer.text
    finally:
        services.stop()
        daemon.app.close()
