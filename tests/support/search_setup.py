"""Shared set-up for the search tests: real-shaped trials, a config, a check, the store."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from tests.conftest import run_cli
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study

DAY1 = "2026-01-05T09:00:06"
DAY2 = "2026-01-06T09:00:06"
DAY3 = "2026-01-07T09:00:06"
RECTAL = "https://clinicaltrials.gov/search?cond=rectal%20cancer&aggFilters=status:rec"
"""Recruiting rectal cancer trials: a trial that stops recruiting leaves the search."""


def trial(
    nct: str,
    title: str,
    *,
    condition: str = "Rectal Cancer",
    status: str = "RECRUITING",
    first: str = "2025-01-10",
    last: str = "2025-12-15",
) -> dict[str, Any]:
    """A real-shaped trial with its condition and registry dates."""
    study = make_study(nct, title, status=status, last_update=last)
    proto = study["protocolSection"]
    proto["conditionsModule"] = {"conditions": [condition, "Adenocarcinoma"]}
    proto["statusModule"]["studyFirstPostDateStruct"] = {"date": first, "type": "ACTUAL"}
    proto["designModule"]["enrollmentInfo"] = {"count": 120, "type": "ESTIMATED"}
    proto["armsInterventionsModule"] = {
        "interventions": [{"type": "DRUG", "name": f"Drug {i}"} for i in range(1, 6)]
    }
    return study


def search_config(
    tmp_path: Path,
    registry: RegistryDouble,
    search: str = "",
    *,
    watch: str = "",
    extra: str = "",
) -> Path:
    """A config with ``[[search]]`` body ``search`` (name ``rectal``, url RECTAL by default)."""
    body = search or f'url = "{RECTAL}"'
    text = f"""
[registry]
url = "{registry.url}"
pace = 0
backoff = 0
retries = 1
{extra}
[database]
path = "ctwatch.db"

[[search]]
name = "rectal"
{body}
{watch}
"""
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def check(config: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_cli(config, "check", *args, env=env)
    assert result.exit_code == 0, result.stdout + result.stderr
    return result.stdout


def status_json(config: Path) -> dict[str, Any]:
    result = run_cli(config, "status", "--json")
    assert result.exit_code == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def refresh(registry: RegistryDouble, stamp: str, *studies: dict[str, Any]) -> None:
    """A registry refresh that publishes ``studies``."""
    for study in studies:
        registry.put(study)
    registry.set_data_timestamp(stamp)
