"""Other people's text never drives the terminal: records and server answers lose their
control characters wherever a human reads them; JSON stays exact."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from tests.conftest import run_cli, write_config
from watcher.core.text import terminal_safe
from watcher.daemon.logs import SecretMask
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

NCT = "NCT00000101"
EVIL = "Alpha \x1b]0;owned\x07\x1b[2J\x1b[1;31mFAKE: all sent\x1b[0m\r\x9b8m\x08 end"
BIDI = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))]
CONTROLS = [
    *(chr(c) for c in (*range(0x20), 0x7F, *range(0x80, 0xA0)) if chr(c) not in "\t\n"),
    *BIDI,
]


def test_terminal_safe_keeps_text_tabs_and_newlines_only() -> None:
    assert terminal_safe(EVIL) == "Alpha ]0;owned[2J[1;31mFAKE: all sent[0m8m end"
    assert terminal_safe("Étude\tphase 2\nüñí 试验 — ok") == "Étude\tphase 2\nüñí 试验 — ok"
    assert terminal_safe("دراسة \u202eevil\u202c עברית") == "دراسة evil עברית"  # RTL stays
    assert terminal_safe("".join(CONTROLS)) == ""


def test_hostile_titles_reach_no_terminal_but_json_keeps_them(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    study = make_study(NCT, EVIL)
    registry.put(study)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    registry.put(changed(study, status="COMPLETED", last_update="2025-12-01"))
    registry.fail_next(400, "bad \x1b[2J request")  # a server's answer, echoed into errors
    outputs = {
        "failed check": run_cli(config, "check"),
        "check": run_cli(config, "check"),
        "status": run_cli(config, "status"),
        "status --tsv": run_cli(config, "status", "--tsv"),
        "status --csv": run_cli(config, "status", "--csv"),
        "history": run_cli(config, "history", NCT),
        "history --field": run_cli(config, "history", NCT, "--field", "OverallStatus"),
    }
    for name, result in outputs.items():
        text = result.stdout + result.stderr
        assert not any(c in text for c in CONTROLS), name
    assert "registry answered HTTP 400: bad [2J request" in outputs["failed check"].stderr
    assert "Alpha ]0;owned[2J" in outputs["check"].stdout
    as_json = json.loads(run_cli(config, "status", "--json").stdout)
    assert as_json["trials"][0]["title"] == EVIL  # data stays data


def test_log_lines_lose_control_characters() -> None:
    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "answer: %s", (EVIL,), None)
    assert SecretMask([]).filter(record)
    assert not any(c in record.getMessage() for c in CONTROLS)


@pytest.mark.parametrize("title", [EVIL, "\x1b" * 50, "\u0085 next line"])
def test_status_columns_stay_aligned_with_hostile_titles(
    tmp_path: Path, registry: RegistryDouble, title: str
) -> None:
    registry.put(make_study(NCT, title))
    config = write_config(tmp_path, registry.url, [NCT])
    run_cli(config, "check")
    table = run_cli(config, "status", env={"COLUMNS": "100"}).stdout.splitlines()
    header, row = table[0], table[1]
    assert row.index("Recruiting") == header.index("Status")
