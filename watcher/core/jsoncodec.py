"""JSON in and out, fast (orjson) and exact (the standard library where orjson is not).

Why a module of its own: parsing registry pages and serialising records
canonically are most of what a cycle costs per record, and orjson does both
several times faster than :mod:`json`. It is not a drop-in replacement,
though, and ctwatch must never change a value on the way:

* orjson reads an integer beyond 64 bits as a float (rounding it); a text
  with a run of 19 or more digits is therefore read by :mod:`json`, which
  keeps every integer exact (a cheap scan; such runs are rare in records);
* ``NaN`` and ``Infinity`` are not JSON (RFC 8259): both readers refuse them,
  so a canonical body never holds a value other JSON tools cannot read;
* what orjson cannot write (an integer beyond 64 bits, nesting deeper than
  254) is written by :mod:`json` in the same canonical form.

The canonical form is key-sorted, compact, UTF-8 (no ``\\u`` escapes beyond
control characters): byte for byte what ``json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)`` wrote before orjson, except for
floats with a negative exponent (``1e-05`` is now ``0.00001``), which records
do not carry; a body that does differs once and is then settled by the diff.
"""

from __future__ import annotations

import json
import math
from typing import Any

import orjson

# digits -> "0", every other byte -> " ": a run of 19 digits is then a plain substring
# search, ten times faster than a regular expression over a 10 MB page
_DIGITS = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_RUN = b"0" * 19
_SCAN = 1 << 20  # scanned a megabyte at a time: the translated copy stays small


def _has_long_number(raw: bytes | bytearray) -> bool:
    if len(raw) <= _SCAN:  # the usual case (a stored event, a version's changes): one copy
        return _LONG_RUN in raw.translate(_DIGITS)
    overlap = len(_LONG_RUN) - 1
    return any(
        _LONG_RUN in raw[start : start + _SCAN + overlap].translate(_DIGITS)
        for start in range(0, len(raw), _SCAN)
    )


class JsonError(ValueError):
    """The text is not JSON (or holds ``NaN``/``Infinity``)."""


def _no_constants(name: str) -> Any:
    raise JsonError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise JsonError(f"{text} is too large for a number")
    return value


def loads(data: bytes | bytearray | str) -> Any:
    """Parse JSON text; JsonError when it is not JSON."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if not _has_long_number(raw):
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass  # the standard library decides (and words the error the same way)
    try:
        return json.loads(raw, parse_constant=_no_constants, parse_float=_finite)
    except (ValueError, RecursionError) as exc:
        raise JsonError(str(exc)) from None


def canonical_bytes(value: Any) -> bytes:
    """Key-sorted, compact, UTF-8 JSON: equal data gives equal bytes."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return text.encode("utf-8")


def canonical_json(value: Any) -> str:
    """:func:`canonical_bytes` as text."""
    return canonical_bytes(value).decode("utf-8")


def compact_json(value: Any) -> str:
    """Compact UTF-8 JSON text in the value's own key order (a stored event's values):
    what ``json.dumps(separators=(",", ":"), ensure_ascii=False)`` writes, at a tenth of
    its cost."""
    try:
        return orjson.dumps(value).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
