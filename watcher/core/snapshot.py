"""Normalise a study record, serialise it canonically, and name it by a hash.

Why: the registry rebuilds ``derivedSection`` (MeSH browse lists,
``versionHolder``) with every data refresh; it is not a change of the trial,
so it is dropped before anything is compared or stored.

Why the hash is of the canonical bytes (and not of an order-free form): the
bytes are built anyway, for storage, so hashing them costs almost nothing,
while an order-free form cost a third of a cycle. The hash is only the fast
path for "nothing moved"; it is never what decides that something *did*
change. When it differs (a list came back in another order, or a database
written by an older ctwatch holds a hash of another form), the pipeline
compares the bodies and then the order-insensitive diff decides, and the new
hash is stored so the same record is not compared again.

The stored body keeps the registry's list order (it reads better).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from watcher.core import record as rec
from watcher.core.jsoncodec import canonical_bytes, canonical_json

IGNORED_TOP_LEVEL = ("derivedSection",)


@dataclass(frozen=True)
class Snapshot:
    """A normalised record with its canonical body and content hash."""

    nct_id: str
    record: dict[str, Any]
    body: bytes
    content_hash: str

    # read once each (the store asks for them several times per trial)
    @cached_property
    def title(self) -> str:
        return rec.title(self.record)

    @cached_property
    def overall_status(self) -> str | None:
        return rec.overall_status(self.record)

    @cached_property
    def last_update_posted(self) -> str | None:
        return rec.last_update_posted(self.record)


def normalise(record: dict[str, Any]) -> dict[str, Any]:
    """The record without the sections that change on every data rebuild."""
    return {k: v for k, v in record.items() if k not in IGNORED_TOP_LEVEL}


def _order_free(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _order_free(v) for k, v in value.items()}
    if isinstance(value, list):
        items = [_order_free(v) for v in value]
        return sorted(items, key=canonical_json)
    return value


def order_free_json(value: Any) -> str:
    """Canonical JSON with every list sorted: equal up to list order gives equal text.

    The diff uses it to name and match list items; it is too slow to run on
    every record of a cycle.
    """
    return canonical_json(_order_free(value))


def body_hash(body: bytes) -> str:
    """SHA-256 (hex) of a canonical body."""
    return hashlib.sha256(body).hexdigest()


def take_snapshot(nct_id: str, record: dict[str, Any]) -> Snapshot:
    """Normalise ``record`` and compute its canonical body and hash."""
    clean = normalise(record)
    body = canonical_bytes(clean)
    return Snapshot(nct_id=nct_id, record=clean, body=body, content_hash=body_hash(body))
