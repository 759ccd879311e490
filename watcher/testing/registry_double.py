"""An in-process HTTP double of the ClinicalTrials.gov API v2.

Why a real HTTP server and not an httpx ``MockTransport``: the registry client's
value is in what happens on the wire -- timeouts, keep-alive, retries on 429/5xx
with ``Retry-After``, halving a batch on 414, following ``nextPageToken``,
refusing a 200 that carries HTML. Serving real HTTP on ``127.0.0.1`` lets all of
that code run unchanged in tests, in ``ctwatch demo`` and in the benchmark.

What it imitates (see ../shared/ctgov/API_FACTS.md, sections 1, 2, 3 and 5):

- ``GET /api/v2/version`` with a settable ``dataTimestamp``;
- ``GET /api/v2/studies`` with ``filter.ids`` (matched against ``nctId`` and
  ``nctIdAliases``), ``filter.advanced`` (date ranges ANDed), the search
  parameters - ``query.*``, ``filter.overallStatus``, ``aggFilters`` - with the
  simple rules of :mod:`watcher.testing.registry_search`, ``fields`` (piece
  names or dotted paths, nesting kept), ``pageSize``, opaque ``pageToken``
  bound to the other parameters, and ``countTotal``; any other parameter is a 400;
- ``GET /api/v2/studies/{nctId}`` with 200, 301 for an alias, 400 and 404;
- plain-text error bodies, 414 for an over-long request line, an nginx-style
  HTML 404 for any other path; canned faults (``fail_next``);
- the history endpoints under ``/api/int`` (``reg.history``, see
  :mod:`watcher.testing.registry_history`).

Results come back ordered by ``nctId`` so tests are deterministic (the real API
is unsorted by default). It is sized for ~10,000 studies: each study is
serialised once when it is put, projections are cached per ``fields`` set, and
query results are cached until the next ``put``/``remove``, so paging costs
O(page) rather than O(n).
"""

from __future__ import annotations

import bisect
import json
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from watcher.core.fields import field_table
from watcher.testing.loopback import TEXT, LoopbackDouble, LoopbackHandler
from watcher.testing.registry_history import PREFIX as HISTORY_PREFIX
from watcher.testing.registry_history import HistoryEndpoints
from watcher.testing.registry_query import (
    ID_RE,
    LAST_UPDATE_PATH,
    MAX_PAGE_SIZE,
    MISSING,
    BadRequest,
    Clause,
    PageTokens,
    Trie,
    build_trie,
    check_format,
    dig,
    nct_id_of,
    parse_advanced,
    parse_bool,
    parse_ids,
    parse_page_size,
    project,
    split_list,
)
from watcher.testing.registry_search import Criteria, SearchIndex, check_params, parse_criteria
from watcher.testing.registry_traffic import (
    RecordedRequest,
    Response,
    TrafficRecorder,
    text_answer,
)

__all__ = ["API_VERSION", "RecordedRequest", "RegistryDouble"]

log = logging.getLogger(__name__)

API_VERSION = "2.0.5"
BASE_PATH = "/api/v2"

_JSON = "application/json"
_TEXT = TEXT
_HTML = "text/html"
_STUDIES = f"{BASE_PATH}/studies"
_STUDY_PREFIX = f"{_STUDIES}/"
_VERSION = f"{BASE_PATH}/version"
# A token stays valid only while these are the only parameters that change (SPEC).
_PAGING_PARAMS = frozenset({"pageToken", "pageSize", "countTotal"})
_CACHE_LIMIT = 64
_NGINX_404 = (
    b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
    b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


_Query = tuple[tuple[str, ...] | None, tuple[Clause, ...] | None, Criteria | None]
"""``filter.ids``, ``filter.advanced`` clauses and search criteria: one cached answer each."""


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class RegistryDouble(TrafficRecorder, LoopbackDouble):
    """A ClinicalTrials.gov API v2 double served over HTTP on 127.0.0.1.

    Use it as a context manager (``with RegistryDouble(studies) as reg:``) and point
    the client at ``reg.url``. Studies can be added, replaced and removed while it
    runs; every answered request is recorded in ``requests``. One lock guards all
    state, so tests may mutate it from their own thread while the server answers.
    """

    def __init__(
        self,
        studies: Iterable[dict[str, Any]] = (),
        *,
        data_timestamp: str = "2026-11-20T09:00:06",
        max_url_length: int = 16000,
        max_page_size: int = MAX_PAGE_SIZE,
    ) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._traffic_init(self._lock, _STUDIES)
        self._data_timestamp = data_timestamp
        self._max_url_length = max_url_length
        self._max_page_size = max_page_size
        self._tokens = PageTokens()
        # nctId -> the study serialised once, at put. Only the string is kept: it is
        # the snapshot (later edits to the caller's dict are not seen), it costs far
        # less memory than nested dicts, and the garbage collector never walks it.
        self._full: dict[str, str] = {}
        self._updated: dict[str, str | None] = {}  # nctId -> lastUpdatePostDate
        self._aliases: dict[str, str] = {}  # alias -> canonical nctId
        self._aliases_of: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []  # canonical nctIds, sorted
        self._tries: dict[tuple[str, ...], Trie] = {}
        self._projected: dict[tuple[str, ...], dict[str, str]] = {}
        self._matches: dict[_Query, list[str]] = {}
        self._index = SearchIndex()
        self.history = HistoryEndpoints()
        """The trials' registry histories (``/api/int``), set by tests and the demo."""
        for study in studies:
            self.put(study)

    # -- lifecycle -------------------------------------------------------------

    label = "registry double"

    def handler_class(self) -> type[LoopbackHandler]:
        return _Handler

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:PORT/api/v2``."""
        return self.origin() + BASE_PATH

    # -- data ------------------------------------------------------------------

    def put(self, study: dict[str, Any]) -> None:
        """Add or replace a study, keyed by its nctId; later changes to ``study`` are not seen."""
        nct_id = nct_id_of(study)
        body = _dumps(study)
        aliases = dig(study, "protocolSection", "identificationModule", "nctIdAliases")
        updated = dig(study, "protocolSection", "statusModule", "lastUpdatePostDateStruct")
        updated_date = dig(updated, "date")
        with self._lock:
            self._forget(nct_id)
            self._index.forget(nct_id)
            self._matches.clear()  # a new study can answer cached queries too
            self._full[nct_id] = body
            self._updated[nct_id] = updated_date if isinstance(updated_date, str) else None
            own = tuple(a.upper() for a in aliases or () if isinstance(a, str))
            self._aliases_of[nct_id] = own
            for alias in own:
                self._aliases[alias] = nct_id
            bisect.insort(self._order, nct_id)

    def remove(self, nct_id: str) -> None:
        """Delete a study (and its aliases); unknown IDs are ignored."""
        with self._lock:
            self._forget(nct_id.upper())

    def get(self, nct_id: str) -> dict[str, Any] | None:
        """A copy of the stored study with this canonical nctId, or None."""
        with self._lock:
            body = self._full.get(nct_id.upper())
        if body is None:
            return None
        study: dict[str, Any] = json.loads(body)
        return study

    def served_json(self, nct_id: str) -> str | None:
        """The exact JSON text the double serves for this study (the benchmark parses it)."""
        with self._lock:
            return self._full.get(nct_id.upper())

    def __len__(self) -> int:
        with self._lock:
            return len(self._full)

    @property
    def data_timestamp(self) -> str:
        """The ``dataTimestamp`` that ``/version`` reports."""
        with self._lock:
            return self._data_timestamp

    def set_data_timestamp(self, ts: str) -> None:
        """Simulate a registry data refresh (the client skips cycles until this moves)."""
        with self._lock:
            self._data_timestamp = ts

    def _forget(self, nct_id: str) -> None:
        """Drop one study and everything derived from it; caller holds the lock."""
        if self._full.pop(nct_id, None) is None:
            return
        del self._updated[nct_id]
        for alias in self._aliases_of.pop(nct_id, ()):
            if self._aliases.get(alias) == nct_id:
                del self._aliases[alias]
        del self._order[bisect.bisect_left(self._order, nct_id)]
        for rendered in self._projected.values():
            rendered.pop(nct_id, None)
        self._matches.clear()

    # -- request handling (called from server threads) -------------------------

    def _dispatch(
        self, method: str, target: str, line_length: int, user_agent: str = ""
    ) -> Response:
        """Answer one request and record it before any byte is written."""
        split = urlsplit(target)
        params = dict(parse_qsl(split.query, keep_blank_values=True))
        with self._lock:
            response = self._route(split.path, split.query, params, line_length)
            self._recorded(RecordedRequest(method, split.path, params, response.status,
                                           len(response.body), user_agent))  # fmt: skip
        return response

    def _route(self, path: str, query: str, params: dict[str, str], line_length: int) -> Response:
        if line_length > self._max_url_length:
            return text_answer(414, "URI Too Long")
        fault = self._take_fault(path, params)
        if fault is not None:
            return fault
        try:
            if path == _VERSION:
                body = _dumps({"apiVersion": API_VERSION, "dataTimestamp": self._data_timestamp})
                return Response(200, body.encode("utf-8"), _JSON)
            if path == _STUDIES:
                return self._search(params)
            nct_id = path.removeprefix(_STUDY_PREFIX)
            if nct_id != path and "/" not in nct_id:
                return self._one(nct_id, query, params)
            answer = self.history.answer(path) if path.startswith(HISTORY_PREFIX) else None
            if answer is not None:
                return Response(*answer)
        except BadRequest as exc:
            return text_answer(400, str(exc))
        return Response(404, _NGINX_404, _HTML)

    def _one(self, raw_id: str, query: str, params: Mapping[str, str]) -> Response:
        if not ID_RE.fullmatch(raw_id):
            raise BadRequest("nctId has incorrect format")
        check_format(params)
        spec = self._fields(params.get("fields"))
        nct_id = raw_id.upper()
        if nct_id in self._full:
            return Response(200, self._render(nct_id, spec).encode("utf-8"), _JSON)
        canonical = self._aliases.get(nct_id)
        if canonical is not None:
            location = f"{_STUDY_PREFIX}{canonical}" + (f"?{query}" if query else "")
            return Response(301, b"", _TEXT, (("Location", location),))
        return text_answer(404, f"NCT number {raw_id} not found")

    def _search(self, params: Mapping[str, str]) -> Response:
        check_format(params)
        check_params(params)
        page_size = min(parse_page_size(params.get("pageSize")), self._max_page_size)
        count_total = parse_bool("countTotal", params.get("countTotal"))
        query = (
            parse_ids(params.get("filter.ids")),
            parse_advanced(params.get("filter.advanced")),
            parse_criteria(params),
        )
        spec = self._fields(params.get("fields"))
        bound_to = _dumps(sorted((k, v) for k, v in params.items() if k not in _PAGING_PARAMS))
        token = params.get("pageToken") or None
        offset = 0 if token is None else self._tokens.offset(token, bound_to)
        matches = self._match(query)
        end = offset + page_size
        parts = [
            f'{{"totalCount":{len(matches)},' if count_total and token is None else "{",
            '"studies":[',
            ",".join(self._render(nct_id, spec) for nct_id in matches[offset:end]),
            "]",
        ]
        if end < len(matches):
            parts.append(f',"nextPageToken":"{self._tokens.issue(end, bound_to)}"')
        parts.append("}")
        return Response(200, "".join(parts).encode("utf-8"), _JSON)

    def _match(self, query: _Query) -> list[str]:
        """Canonical nctIds answering a query, sorted; cached until the data changes."""
        ids, clauses, criteria = query
        if ids is None and clauses is None and criteria is None:
            return self._order
        cached = self._matches.get(query)
        if cached is not None:
            return cached
        if ids is None:
            candidates = self._order
        else:
            found = {i if i in self._full else self._aliases.get(i, i) for i in ids}
            candidates = sorted(found & self._full.keys())
        rest = []
        for path, low, high in clauses or ():
            if path != LAST_UPDATE_PATH:
                rest.append((path, low, high))
                continue
            candidates = [  # from the date kept at put: no parsing (whole-registry listings)
                nct_id
                for nct_id in candidates
                if (day := self._updated[nct_id]) is not None
                and (low is None or day >= low)
                and (high is None or day <= high)
            ]
        if rest or criteria is not None:
            candidates = self._index.select(candidates, self._full, rest, criteria)
        if len(self._matches) >= _CACHE_LIMIT:
            self._matches.clear()
        self._matches[query] = candidates
        return candidates

    def _fields(self, raw: str | None) -> tuple[str, ...] | None:
        """Resolve a ``fields`` list to sorted dotted paths; None means the whole study."""
        if raw is None:
            return None
        table = field_table()
        paths: set[str] = set()
        for name in split_list(raw) or [raw]:
            info = table.resolve(name)
            if info is None:
                raise BadRequest(f"Parameter 'fields' contains invalid field name: '{name}'")
            paths.add(info.path)
        spec = tuple(sorted(paths))
        if spec not in self._tries:
            if len(self._tries) >= _CACHE_LIMIT:
                self._tries.clear()
                self._projected.clear()
            self._tries[spec] = build_trie(spec)
            self._projected[spec] = {}
        return spec

    def _render(self, nct_id: str, spec: tuple[str, ...] | None) -> str:
        if spec is None:
            return self._full[nct_id]
        rendered = self._projected[spec]
        body = rendered.get(nct_id)
        if body is None:
            # Parsed on first use per (fields, study) only; the result is cached.
            projected = project(json.loads(self._full[nct_id]), self._tries[spec])
            body = rendered[nct_id] = _dumps({} if projected is MISSING else projected)
        return body


class _Handler(LoopbackHandler):
    """HTTP plumbing only: every decision is made by ``RegistryDouble._dispatch``."""

    server_version = "ctwatch-registry-double"

    def do_GET(self) -> None:
        response = self.owner()._dispatch(
            "GET", self.path, len(self.requestline), self.headers.get("User-Agent", "")
        )
        if response.delay:
            time.sleep(response.delay)
        self.reply(response.status, response.content_type, response.body, response.headers)
