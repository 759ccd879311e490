"""``database.readable_records``: true, false or "json"; anything else is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.config import load_config


@pytest.mark.parametrize(("text", "value"), [("true", True), ("false", False), ('"json"', "json")])
def test_the_three_settings_load(tmp_path: Path, text: str, value: object) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ["NCT06850103"],
                          extra=f"readable_records = {text}\n")  # fmt: skip
    assert load_config(config).database.readable_records == value


def test_the_default_is_typed_columns(tmp_path: Path) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ["NCT06850103"])
    assert load_config(config).database.readable_records is True


@pytest.mark.parametrize("text", ['"xml"', '"JSON"', "1", "[]"])
def test_anything_else_is_one_line(tmp_path: Path, text: str) -> None:
    config = write_config(tmp_path, "http://127.0.0.1:9", ["NCT06850103"],
                          extra=f"readable_records = {text}\n")  # fmt: skip
    result = run_cli(config, "config", "check")
    assert result.exit_code == 2
    assert result.stderr.count("database.readable_records:") == 1
    assert 'is not true, false or "json"' in result.stderr
