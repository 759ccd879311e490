"""The webhook docs page stays true: its receiver works, its example has the shape.

The receiver is taken from ``docs/setup/webhooks.md`` as written, run as its own process, and
sent a real event by ``ctwatch test-alert``; the example body must have
exactly the keys ctwatch sends.
"""

from __future__ import annotations

import json
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.alert_cases import NOW, status_change
from tests.support.hook_setup import SECRET, hook_config, run
from tests.support.paths import REPO
from watcher.alerts.webhook_payload import build_payload
from watcher.core.events import Event, Level
from watcher.core.render import Alert, Queued
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT

PAGE = REPO / "docs" / "setup" / "webhooks.md"
EVENTS_DOC = REPO / "docs" / "events.md"


def docs_block(marker: str, language: str) -> str:
    """The fenced block that follows ``marker`` (or the one starting with it) on the page."""
    text = PAGE.read_text(encoding="utf-8")
    start = text.index(marker)
    match = re.compile(rf"```{language}\n(.*?)```", re.S).search(text, start)
    assert match is not None, f"no {language} block after {marker!r}"
    return match.group(1)


@pytest.fixture
def docs_receiver(tmp_path: Path) -> Iterator[tuple[str, queue.Queue[str]]]:
    """The docs' receiver on a free port: its URL and the lines it prints."""
    script = tmp_path / "receiver.py"
    script.write_text(docs_block("<!-- receiver -->", "python"), encoding="utf-8")
    env = {"CTWATCH_WEBHOOK_SECRET": SECRET, "PORT": "0", "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(  # the receiver is its own program, as a user would run it
        [sys.executable, str(script)], env=env, stdout=subprocess.PIPE, text=True
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    stdout = process.stdout

    def read() -> None:
        for line in stdout:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    try:
        first = lines.get(timeout=30)
        assert first.startswith("listening on port "), first
        yield f"http://127.0.0.1:{first.rsplit(' ', 1)[1]}/hooks/ctwatch", lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_docs_receiver_verifies_ctwatch_events(
    tmp_path: Path, registry: RegistryDouble, docs_receiver: tuple[str, queue.Queue[str]]
) -> None:
    url, lines = docs_receiver
    extra = '\n[webhooks]\nsecret = "${CTWATCH_WEBHOOK_SECRET}"\n'
    config = hook_config(tmp_path, registry, [SEED_NCT], 'webhook = ["${HOOK_URL}"]', extra)
    env = {"HOOK_URL": url, "CTWATCH_WEBHOOK_SECRET": SECRET}
    result = run(config, "test-alert", env=env, secrets=(SECRET,))
    assert result.exit_code == 0, result.stdout
    assert lines.get(timeout=30) == f"test {SEED_NCT}"
    forged = httpx.post(
        url,
        content=b'{"type": "trial.changed"}',
        headers={"webhook-id": "msg_x", "webhook-timestamp": "1", "webhook-signature": "v1,AA=="},
    )
    assert forged.status_code == 401  # what the docs promise a receiver does


def keys(value: Any) -> Any:
    """The shape of a JSON value: nested key sets, lists by their first item."""
    if isinstance(value, dict):
        return {k: keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [keys(value[0])] if value else []
    return None


def test_the_docs_example_body_has_the_shape_ctwatch_sends() -> None:
    example = json.loads(docs_block("The body (schema version 1", "json"))
    alert = status_change()
    queued = Alert(alert.nct_id, alert.title, alert.changes[:1], alert.last_update_posted,
                   queued=Queued(42, "2026-11-25T14:30:00Z"))  # fmt: skip
    sent = build_payload(queued, "msg_42_20261125T143000Z", NOW)
    # ``data.events`` is documented in docs/events.md (the README is being cut down)
    assert "events" not in example["data"] or keys(example) == keys(sent)
    sent_without = {**sent, "data": {k: v for k, v in sent["data"].items() if k != "events"}}
    example["data"].pop("events", None)
    assert keys(example) == keys(sent_without)
    assert example["data"]["changes"] == sent["data"]["changes"]
    page = PAGE.read_text(encoding="utf-8") + EVENTS_DOC.read_text(encoding="utf-8")
    for field in sent["data"]:
        assert f"data.{field}" in page  # every field is in a schema table


def test_the_events_doc_shows_the_events_list_ctwatch_sends() -> None:
    block = EVENTS_DOC.read_text(encoding="utf-8")
    start = block.index("<!-- webhook events -->")
    match = re.compile(r"```json\n(.*?)```", re.S).search(block, start)
    assert match is not None
    documented = json.loads(match.group(1))
    alert = status_change()
    event = Event("status.changed", Level.HIGH, "Overall status changed.", {"from": "A", "to": "B"})
    sent = build_payload(Alert(alert.nct_id, alert.title, alert.changes, events=(event,)),
                         "msg_1", NOW)  # fmt: skip
    assert set(documented["events"][0]) == set(sent["data"]["events"][0]) == {
        "type", "level", "summary", "values"}  # fmt: skip
