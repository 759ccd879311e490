"""Normalise a study record, serialise it canonically, and hash it.

Why: the registry rebuilds ``derivedSection`` (MeSH browse lists,
``versionHolder``) with every data refresh, and it may return lists in a
different order; neither is a change of the trial. Dropping the one and hashing
an order-insensitive form of the other means "same hash" really means "nothing a
person would call a change", so an unchanged poll writes nothing.

The stored body keeps the registry's list order (it reads better); only the
hash ignores it.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from typing import Any

from watcher.core import record as rec

IGNORED_TOP_LEVEL = ("derivedSection",)


@dataclass(frozen=True)
class Snapshot:
    """A normalised record with its canonical body and content hash."""

    nct_id: str
    record: dict[str, Any]
    body: str
    content_hash: str

    @property
    def title(self) -> str:
        return rec.title(self.record)

    @property
    def overall_status(self) -> str | None:
        return rec.overall_status(self.record)

    @property
    def last_update_posted(self) -> str | None:
        return rec.last_update_posted(self.record)


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the sections that change on every data rebuild."""
    return {k: v for k, v in record.items() if k not in IGNORED_TOP_LEVEL}


def canonical_json(value: Any) -> str:
    """Key-sorted, compact, UTF-8 JSON: equal data gives equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _order_free(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _order_free(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_order_free(v) for v in value]
        return sorted(items, key=canonical_json)
    return value


def order_free_json(value: Any) -> str:
    """Canonical JSON with every list sorted: equal up to list order gives equal text."""
    return canonical_json(_order_free(value))


def content_hash(record: dict[str, Any]) -> str:
    """SHA-256 of the order-insensitive canonical form of a normalised record."""
    return hashlib.sha256(order_free_json(record).encode("utf-8")).hexdigest()


def take_snapshot(nct_id: str, record: dict[str, Any]) -> Snapshot:
    """Normalise ``record`` and compute its canonical body and hash."""
    clean = normalise(record)
    return Snapshot(
        nct_id=nct_id, record=clean, body=canonical_json(clean), content_hash=content_hash(clean)
    )


def compress(body: str) -> bytes:
    """zlib-compress a canonical body for storage (records shrink ~5-10x)."""
    return zlib.compress(body.encode("utf-8"), 6)


def decompress(blob: bytes) -> dict[str, Any]:
    """Inverse of :func:`compress`, parsed back to a record."""
    data: dict[str, Any] = json.loads(zlib.decompress(blob).decode("utf-8"))
    return data
