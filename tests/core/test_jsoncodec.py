"""JSON in and out: orjson's speed without a changed value or a changed canonical form."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_config
from tests.support.paths import CTGOV
from watcher.config import load_config
from watcher.core.jsoncodec import JsonError, canonical_bytes, canonical_json, loads
from watcher.registry.configured import registry_client
from watcher.registry.errors import RegistryUnavailable
from watcher.testing.registry_double import RegistryDouble


def old_canonical(value: Any) -> bytes:
    """How ctwatch wrote canonical JSON before orjson."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def test_canonical_form_is_unchanged_on_every_real_file() -> None:
    files = sorted(CTGOV.glob("**/*.json"))
    assert len(files) > 50
    for path in files:
        value = json.loads(path.read_text(encoding="utf-8"))
        assert canonical_bytes(value) == old_canonical(value), path.name
        assert loads(path.read_bytes()) == value, path.name


STRINGS = [chr(c) for c in range(0x250)] + ["\u2028", "\u2029", "\ufeff", "😀", "\U0010ffff"]


def test_canonical_form_escapes_text_as_before() -> None:
    value = {s: [s, f"a{s}b"] for s in STRINGS}
    assert canonical_bytes(value) == old_canonical(value)
    assert canonical_json(value) == old_canonical(value).decode("utf-8")


def test_numbers_keep_their_value_and_their_form() -> None:
    value = [0, -1, 2**63 - 1, -(2**63), 2**64 - 1, 2**64, -(2**70), 1.5, 42.35843, -0.0, 1e16]
    assert canonical_bytes(value) == old_canonical(value)  # beyond 64 bits: json writes it
    text = json.dumps({"enrollment": 123456789012345678901234, "lat": 42.35843})
    assert loads(text) == {"enrollment": 123456789012345678901234, "lat": 42.35843}
    assert loads(b'["0123456789012345678", 1]') == ["0123456789012345678", 1]
    # the one documented difference: a float with a negative exponent
    assert canonical_bytes(1e-05) == b"0.00001" and old_canonical(1e-05) == b"1e-05"


@pytest.mark.parametrize("text", ["NaN", "[Infinity]", '{"a": -Infinity}', "[1e400]", "{", ""])
def test_what_is_not_json_is_refused(text: str) -> None:
    with pytest.raises(JsonError):
        loads(text)


def test_bytearrays_and_long_digit_runs_across_scan_chunks() -> None:
    padding = " " * ((1 << 20) - 7)
    text = f'{{"pad": "{padding}", "n": 98765432109876543210}}'
    assert loads(bytearray(text.encode()))["n"] == 98765432109876543210


def test_the_registry_client_refuses_a_body_with_nan(tmp_path: Path) -> None:
    with RegistryDouble() as registry:
        registry.fail_next(200, '{"apiVersion": "2", "dataTimestamp": NaN}', times=3,
                           content_type="application/json", path_prefix="/api/v2/version")  # fmt: skip
        config = load_config(write_config(tmp_path, registry.url, ["NCT00000001"]), {})
        with registry_client(config.registry) as client, pytest.raises(RegistryUnavailable) as err:
            client.data_timestamp()
    assert "invalid JSON body" in str(err.value)


def test_text_with_a_lone_surrogate_reads_as_the_json_module_reads_it() -> None:
    assert loads('["\\ud800", "\ud800"]') == json.loads('["\\ud800", "\ud800"]')
