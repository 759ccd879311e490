"""Logging: secrets masked in every line, JSON lines for log shippers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from tests.conftest import run_cli, write_config
from watcher.daemon.logs import SecretMask
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, seed_study


def test_secret_mask_and_json_logs(tmp_path: Path, registry: RegistryDouble) -> None:
    record = logging.LogRecord(
        "watcher.x", logging.ERROR, __file__, 1, "token %s leaked", ("xoxb-123-abc",), None
    )
    mask = SecretMask(["xoxb-123-abc"])
    assert mask.filter(record)
    assert record.getMessage() == "token *** leaked"
    mask.update(["xoxb-new-token"])  # after a reload with a new token
    fresh = logging.LogRecord(
        "watcher.x", logging.ERROR, __file__, 1, "%s", ("xoxb-new-token",), None
    )
    mask.filter(fresh)
    assert fresh.getMessage() == "***"
    registry.put(seed_study())
    registry.fail_next(503, "busy")
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    result = run_cli(config, "--log-format", "json", "--log-level", "info", "check")
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert {"time", "level", "logger", "message"} <= set(entries[0])
    assert any("retry 1" in e["message"] for e in entries)
