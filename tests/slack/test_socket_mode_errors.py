"""Socket Mode names what went wrong, not only the class of the exception."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import write_config
from tests.support.slack_double import SlackDouble
from watcher.app import build_services
from watcher.config import load_config
from watcher.store import Store
from watcher.store.service_state import SOCKET_MODE
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT

APP_TOKEN = "xapp-1-test-app-token"
ENV = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_APP_TOKEN": APP_TOKEN}


def test_an_unexpected_connect_failure_keeps_its_message(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    with SlackDouble(channels=("#trial-alerts",)) as slack:
        slack.connections_url = lambda: ""  # `[]`, not an object: the SDK fails its own way
        extra = f"""
[slack]
token = "${{SLACK_BOT_TOKEN}}"
app_token = "${{SLACK_APP_TOKEN}}"
api_url = "{slack.url}"
retries = 0
timeout = "5s"
"""
        config = write_config(tmp_path, registry.url, [SEED_NCT], extra=extra)
        loaded = load_config(config, ENV)
        services = build_services(lambda: loaded, socket_check_every=0.05).start()
        try:
            assert services.socket_mode is not None
            assert services.socket_mode.wait_until(False, 10)
        finally:
            services.stop()
    store = Store.open(tmp_path / "ctwatch.db")
    state = store.service_state.get(SOCKET_MODE)
    store.close()
    assert state is not None and state.detail is not None
    # the class and its message
    assert state.detail.startswith("unexpected AttributeError: ")
    assert "'list' object has no attribute" in state.detail
