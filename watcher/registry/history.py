"""The registry's version history: the one adapter for the undocumented ``/api/int``.

Why one module: ``/api/int`` is what the registry's website uses for its
"History of Changes" tab. It is not part of the public API, may change or
close without notice (it has answered 403), and nothing else in ctwatch may
depend on it. Everything that touches it is here:

* ``GET /api/int/studies/{NCT}/history`` - the version list (``changes[]``:
  ``version`` 0-based, ``date`` = submission date; every other field optional);
* ``GET /api/int/studies/{NCT}/history/{v}`` - one version (``{studyVersion, study}``).

The base is derived from ``registry.url`` (same scheme and host, ``/api/v2`` ->
``/api/int``), so a mirror or the project's registry double serves both. The
calls go through the v2 client's own :class:`~watcher.registry.http.JsonGetter`
(shared pace, retries, deadline, body cap, same-host redirects), and send no
search parameters (they add ``<mark>`` highlighting to the text).

Whatever goes wrong - a 403 or 404, a body that is not JSON, a shape that is
not the one described above - is one :class:`HistoryUnavailable` whose message
fits in a line (``registry history not available (HTTP 403 from …)``). Text is
returned as the registry wrote it (HTML); it is compared by content downstream
(:mod:`watcher.core.richtext`). The internal API's QC bookkeeping
(``reviewUnit``, ``measureCategoriesReviewUnit``), which the public record never
carries, is dropped here.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from watcher.core import record as rec
from watcher.core.history import ListedVersion
from watcher.registry.errors import RegistryError
from watcher.registry.http import JsonGetter

MAX_VERSIONS = 1_000  # NCT04368728 has 53; the registry averages ~7.4 per trial
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_NCT = re.compile(r"NCT\d{8}")
_QC_KEYS = frozenset({"reviewUnit", "measureCategoriesReviewUnit"})


class HistoryUnavailable(RegistryError):
    """The registry's history of a trial could not be read; the message says why, in a line."""


def history_base(v2_url: str) -> str:
    """``https://host/api/v2`` -> ``https://host/api/int`` (same scheme, host and port)."""
    url = httpx.URL(v2_url.rstrip("/"))
    path = url.path.rstrip("/")
    path = path.removesuffix("/v2") + "/int" if path.endswith("/v2") else "/api/int"
    port = f":{url.port}" if url.port else ""
    return f"{url.scheme}://{url.host}{port}{path}"


class HistoryClient:
    """Reads version lists and versions from ``/api/int``; one per registry client."""

    def __init__(self, http: JsonGetter, v2_url: str) -> None:
        self.http = http
        self.base = history_base(v2_url)

    def list_url(self, nct_id: str) -> str:
        return f"{self.base}/studies/{nct_id}/history"

    def versions(self, nct_id: str) -> list[ListedVersion]:
        """The trial's registry versions, oldest first (one request)."""
        url = self.list_url(_checked(nct_id))
        return parse_version_list(self._get(url), url)

    def version(self, nct_id: str, number: int) -> dict[str, Any]:
        """The record of registry version ``number`` (the website's numbering; one request)."""
        url = f"{self.list_url(_checked(nct_id))}/{number - 1}"
        return parse_version(self._get(url), nct_id, number, url)

    def _get(self, url: str) -> dict[str, Any]:
        try:
            return self.http.get(url, {})
        except HistoryUnavailable:
            raise
        except RegistryError as exc:
            if exc.status is not None and exc.status >= 300:
                raise HistoryUnavailable(_unavailable(f"HTTP {exc.status} from {url}")) from None
            raise HistoryUnavailable(_unavailable(f"{exc}, from {url}")) from None


def _unavailable(reason: str) -> str:
    return f"registry history not available ({reason})"


def _shape(url: str, what: str) -> HistoryUnavailable:
    return HistoryUnavailable(_unavailable(f"unexpected answer from {url}: {what}"))


def _checked(nct_id: str) -> str:
    if not _NCT.fullmatch(nct_id):
        raise ValueError(f"{nct_id!r} is not an NCT ID")
    return nct_id


def parse_version_list(body: dict[str, Any], url: str) -> list[ListedVersion]:
    """``changes[]`` (bare, or inside ``history`` as ``?history=true`` serves it), checked."""
    changes = body.get("changes")
    if changes is None and isinstance(body.get("history"), dict):
        changes = body["history"].get("changes")
    if not isinstance(changes, list) or not changes:
        raise _shape(url, "no list of versions")
    if len(changes) > MAX_VERSIONS:
        raise _shape(url, f"more than {MAX_VERSIONS} versions")
    listed: dict[int, ListedVersion] = {}
    for item in changes:
        entry = _entry(item)
        if entry is None:
            raise _shape(url, f"a version entry without a version number and date: {item!r:.80}")
        if entry.number in listed:
            raise _shape(url, f"version {entry.number - 1} listed twice")
        listed[entry.number] = entry
    return [listed[n] for n in sorted(listed)]


def _entry(item: Any) -> ListedVersion | None:
    if not isinstance(item, dict):
        return None
    version, date = item.get("version"), item.get("date")
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        return None
    if not isinstance(date, str) or not _DATE.match(date):
        return None
    status = item.get("status")
    labels = item.get("moduleLabels")
    return ListedVersion(
        version + 1,
        date[:10],
        status if isinstance(status, str) else None,
        tuple(x for x in labels if isinstance(x, str)) if isinstance(labels, list) else (),
    )


def parse_version(body: dict[str, Any], nct_id: str, number: int, url: str) -> dict[str, Any]:
    """The ``study`` of a ``/history/{v}`` answer, checked to be that trial's version."""
    study = body.get("study")
    if not isinstance(study, dict) or not isinstance(study.get("protocolSection"), dict):
        raise _shape(url, "no study record")
    served = body.get("studyVersion")
    if served is not None and (isinstance(served, bool) or served != number - 1):
        raise _shape(url, f"version {number - 1} answered as version {served!r:.20}")
    found = rec.nct_id(study)
    if found is not None and found.upper() != nct_id:
        raise _shape(url, f"the record of {found:.20}")
    cleaned: dict[str, Any] = _without_qc(study)
    return cleaned


def _without_qc(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_qc(v) for k, v in value.items() if k not in _QC_KEYS}
    if isinstance(value, list):
        return [_without_qc(v) for v in value]
    return value
