"""The registry double's history endpoints (``/api/int``), one family in one module.

What it imitates (../shared/ctgov/API_FACTS.md §7 and §13):

- ``GET /api/int/studies/{NCT}/history`` -> ``{"changes": [{version, date, status,
  moduleLabels}, …], "originalData": …, "lastUpdateVersions": …}`` with 0-based
  versions; fields other than ``version`` and ``date`` only when known;
- ``GET /api/int/studies/{NCT}/history/{v}`` -> ``{"studyVersion": v, "study": {…}}``;
- a trial whose history is unavailable: 403 (as the live route has answered),
  404, an HTML page in a 200, a truncated body, or JSON of another shape;
- an unknown trial or version: 404 with a plain-text body.

Bodies are serialised when set, like the v2 studies, so later edits to the
caller's dicts are not seen.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

PREFIX = "/api/int/studies/"
_PATH = re.compile(r"/api/int/studies/(NCT\d{8})/history(?:/(\d{1,6}))?")
_JSON = "application/json"
_TEXT = "text/plain; charset=utf-8"

Answer = tuple[int, bytes, str]
Breakage = Literal["403", "404", "html", "truncated", "shape"]
_BROKEN: dict[str, Answer] = {
    "403": (403, b"<html><body><h1>403 Forbidden</h1></body></html>", "text/html"),
    "404": (404, b"Not Found", _TEXT),
    "html": (200, b"<!doctype html><title>ClinicalTrials.gov</title><p>Loading", "text/html"),
    "truncated": (200, b'{"changes": [{"version": 0, "date": "2018-', _JSON),
    "shape": (200, b'{"versions": "see the website"}', _JSON),
}


@dataclass(frozen=True)
class HistoricVersion:
    """One registry version as the history endpoints serve it."""

    date: str
    """The submission date the version list shows."""
    study: dict[str, Any]
    """The record of that version (HTML text, no ``derivedSection``)."""
    status: str | None = None
    module_labels: tuple[str, ...] = ()


def _dumps(value: object) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class HistoryEndpoints:
    """The version lists and versions of the trials the double has a history for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, list[dict[str, Any]]] = {}
        self._bodies: dict[str, list[bytes]] = {}
        self._extra: dict[str, dict[str, Any]] = {}
        self._broken: dict[str, Answer] = {}

    def set(
        self,
        nct_id: str,
        versions: Sequence[HistoricVersion],
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        """Serve ``versions`` (oldest first) as the trial's history; ``extra`` joins the list
        answer (``originalData``, ``lastUpdateVersions``…) as the registry sends it."""
        with self._lock:
            self._entries[nct_id] = []
            self._bodies[nct_id] = []
            self._extra[nct_id] = dict(extra or {})
        for version in versions:
            self.append(nct_id, version)

    def append(self, nct_id: str, version: HistoricVersion) -> int:
        """Publish one more version of a trial; returns its website number (API + 1)."""
        with self._lock:
            entries = self._entries.setdefault(nct_id, [])
            number = len(entries)
            entry: dict[str, Any] = {"version": number, "date": version.date}
            if version.status is not None:
                entry["status"] = version.status
            entry["moduleLabels"] = list(version.module_labels)
            entries.append(entry)
            body = {"studyVersion": number, "study": version.study}
            self._bodies.setdefault(nct_id, []).append(_dumps(body))
            return number + 1

    def break_for(self, nct_id: str, how: Breakage = "403") -> None:
        """Make the trial's history unavailable (every history request for it)."""
        with self._lock:
            self._broken[nct_id] = _BROKEN[how]

    def heal(self, nct_id: str) -> None:
        with self._lock:
            self._broken.pop(nct_id, None)

    def count(self, nct_id: str) -> int:
        with self._lock:
            return len(self._entries.get(nct_id, ()))

    def answer(self, path: str) -> Answer | None:
        """The answer to a request under :data:`PREFIX`, or None for a path it does not know."""
        match = _PATH.fullmatch(path)
        if match is None:
            return None
        nct_id, version = match.group(1), match.group(2)
        with self._lock:
            if nct_id in self._broken:
                return self._broken[nct_id]
            entries = self._entries.get(nct_id)
            if entries is None:
                return 404, f"Study {nct_id} not found".encode(), _TEXT
            if version is None:
                return 200, _dumps({"changes": entries, **self._extra[nct_id]}), _JSON
            bodies = self._bodies[nct_id]
            if int(version) >= len(bodies):
                return 404, f"Version {version} of {nct_id} not found".encode(), _TEXT
            return 200, bodies[int(version)], _JSON
