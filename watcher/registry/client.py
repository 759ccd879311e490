"""ClinicalTrials.gov API v2 studies: batched, paged, and read defensively.

Why this shape: the registry publishes no rate limit, so ctwatch asks for many
trials per request (``filter.ids`` with up to 1,000 IDs, ``pageSize=1000``)
through :class:`~watcher.registry.http.JsonGetter` (pacing, retries,
deadlines). What comes back is checked before it is believed:

* a page that never ends (a ``nextPageToken`` that repeats, or more pages
  than ``totalCount`` allows) is an error, never an endless loop;
* a study without an NCT ID cannot be attributed, a study nobody asked for
  stands where a requested one should be, and an answer with fewer trials
  than its own ``totalCount`` is short: in each case the trials of its batch
  that did not come back are in doubt. They are asked again at once, in
  smaller batches and then one by one (``/studies/{id}``), within
  ``RECOVERY_REQUESTS`` requests per fetch; what is still in doubt after that
  is *failed* (retried next cycle), never "not found";
* a study that appears twice keeps its newest copy (by last update posted).

Errors are described in :mod:`watcher.registry.errors`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

import httpx

from watcher.core import record as rec
from watcher.core.text import counted
from watcher.registry.errors import (
    RegistryError,
    RegistryRejected,
    RegistryUnavailable,
    RequestTooLong,
)
from watcher.registry.http import HttpPolicy, JsonGetter, Stats

log = logging.getLogger(__name__)

HTTP_NOT_FOUND = 404

MAX_PAGE_SIZE = 1000
MAX_PAGES = 2000  # two million studies; the whole registry is about 600,000
RECOVERY_REQUESTS = 50
"""Requests one fetch may spend asking again for trials a doubtful answer left out."""


@dataclass
class FetchResult:
    """What one fetch returned, keyed by the IDs that were asked for."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def all_failed(self) -> bool:
        return bool(self.failed) and not self.records and not self.missing

    @property
    def requested(self) -> list[str]:
        """Every ID this result speaks for."""
        return [*self.records, *self.missing, *self.failed]


@dataclass(frozen=True)
class Page:
    """One page of a ``/studies`` answer: its studies, and ``totalCount`` on the first."""

    studies: list[Any]
    total: int | None = None


class RegistryClient:
    """Reads studies from the API v2. One instance per process; close it."""

    def __init__(
        self,
        base_url: str,
        policy: HttpPolicy | None = None,
        *,
        batch_size: int = MAX_PAGE_SIZE,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        recovery: int = RECOVERY_REQUESTS,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.recovery = max(recovery, 0)
        url = httpx.URL(self.base_url)
        origin = str(url.copy_with(raw_path=b"/", query=None, fragment=None)).rstrip("/")
        self.http = JsonGetter(
            origin, policy or HttpPolicy(), transport=transport, clock=clock, sleep=sleep
        )
        self.batch_size = min(max(batch_size, 1), MAX_PAGE_SIZE)

    @property
    def stats(self) -> Stats:
        return self.http.stats

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- public calls --------------------------------------------------------

    def data_timestamp(self) -> str:
        """``dataTimestamp`` from ``/version``: when the registry data last changed."""
        body = self.http.get(f"{self.base_url}/version", {})
        stamp = body.get("dataTimestamp")
        if not isinstance(stamp, str) or not stamp.strip():
            raise RegistryUnavailable("registry /version answered without a dataTimestamp")
        return stamp

    def fetch_studies(
        self,
        nct_ids: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        advanced: str | None = None,
        on_progress: Callable[[int], None] | None = None,
    ) -> FetchResult:
        """Fetch the given trials in batches; unknown IDs land in ``missing``.

        A batch that fails after retries marks its IDs in ``failed`` and the
        other batches go on. ``fields``/``advanced`` pass through to the API.
        """
        result = FetchResult()
        for batch in self.iter_batches(
            nct_ids, fields=fields, advanced=advanced, on_progress=on_progress
        ):
            result.records.update(batch.records)
            result.missing.extend(batch.missing)
            result.failed.update(batch.failed)
        return result

    def iter_batches(
        self,
        nct_ids: Sequence[str],
        *,
        fields: Sequence[str] | None = None,
        advanced: str | None = None,
        search: Mapping[str, str] | None = None,
        on_progress: Callable[[int], None] | None = None,
        unique: bool = False,
    ) -> Iterator[FetchResult]:
        """Like :meth:`fetch_studies`, one result per batch, so callers can
        record and drop each batch: memory stays at one batch of records.
        ``unique``: the caller's IDs are distinct already (a cycle's plan), so they are
        used as they are, not copied while dropping repeats.

        ``search`` (a search's own parameters) is ANDed with each batch's
        ``filter.ids``: which of these trials still match it. A request the
        registry finds too long (414) is sent again in halves.
        """
        pending = nct_ids if unique else list(dict.fromkeys(nct_ids))
        start = 0  # an index, not a shrinking list: no copy of the rest per batch
        base = {**(search or {})}
        if fields:
            base["fields"] = ",".join(fields)
        if advanced:
            base["filter.advanced"] = advanced
        budget = [self.recovery]  # shared by every batch of this fetch
        while start < len(pending):
            batch = list(pending[start : start + self.batch_size])
            try:
                result = self._fetch_batch(batch, base, on_progress)
                if result.failed and budget[0] > 0:
                    result = self._recover(result, base, budget, on_progress)
            except RequestTooLong as exc:
                if len(batch) > 1:
                    self.batch_size = max(1, len(batch) // 2)
                    log.info("registry: %s; batch size now %d", exc, self.batch_size)
                    continue  # the same trials again, in smaller batches
                result = FetchResult(failed={batch[0]: f"{exc}; even alone"})
            except RegistryError as exc:
                result = FetchResult(failed=dict.fromkeys(batch, str(exc)))
            start += len(batch)
            handed = [result]
            del result
            # the caller holds the only reference: its ``del`` frees the batch at once, not
            # when this generator resumes for the next one
            yield handed.pop()

    def list_studies(self, fields: Sequence[str], advanced: str) -> list[dict[str, Any]]:
        """Every study matching ``advanced`` (registry-wide), all pages.

        Used with ``fields=NCTId,LastUpdatePostDate`` to learn what the registry
        posted since a day, whatever the watch list's length.
        """
        params = {
            "filter.advanced": advanced,
            "fields": ",".join(fields),
            "pageSize": str(MAX_PAGE_SIZE),
        }
        studies: list[dict[str, Any]] = []
        for page in self.pages(params):
            studies.extend(s for s in page.studies if isinstance(s, dict))
        return studies

    # ---- internals -----------------------------------------------------------

    def _recover(
        self,
        result: FetchResult,
        base: Mapping[str, str],
        budget: list[int],
        on_progress: Callable[[int], None] | None,
    ) -> FetchResult:
        """Ask again for the trials a doubtful answer left out: in halves, then one by
        one, while ``budget[0]`` (requests) lasts; what stays in doubt stays failed.

        Why: a registry that keeps answering short would otherwise make the
        same trials fail every cycle until the weekly sweep; a smaller question
        is usually answered in full, and ``/studies/{id}`` has no count to fall
        short of.
        """
        doubtful = dict(result.failed)
        records, missing = dict(result.records), list(result.missing)
        size = len(doubtful) // 2
        while size >= 2 and doubtful and budget[0] > 0:
            ids = list(doubtful)
            for start in range(0, len(ids), size):
                if budget[0] <= 0:
                    break
                budget[0] -= 1
                part = ids[start : start + size]
                try:
                    again = self._fetch_batch(part, base, on_progress)
                except RegistryError as exc:
                    log.info(
                        "registry: asking %s again failed: %s", counted(len(part), "trial"), exc
                    )
                    continue
                for nct in [*again.records, *again.missing]:
                    doubtful.pop(nct, None)
                records.update(again.records)
                missing.extend(again.missing)
            size //= 2
        for nct in list(doubtful):
            if budget[0] <= 0:
                break
            budget[0] -= 1
            found = self._fetch_one(nct, base)
            if found is None:
                continue
            doubtful.pop(nct)
            if found.records:
                records.update(found.records)
                if on_progress is not None:
                    on_progress(1)
            else:
                missing.append(nct)
        if len(doubtful) < len(result.failed):
            log.info(
                "registry: %s left out of a doubtful answer read on asking again (of %d)",
                counted(len(result.failed) - len(doubtful), "trial"),
                len(result.failed),
            )
        return FetchResult(records=records, missing=missing, failed=doubtful)

    def _fetch_one(self, nct: str, base: Mapping[str, str]) -> FetchResult | None:
        """One trial alone: ``/studies/{id}`` for whole records (404 is "not found"), a
        one-ID ``filter.ids`` when a filter must hold; None when still in doubt."""
        if set(base) - {"fields"}:  # filter.advanced or a search: only /studies filters
            try:
                again = self._fetch_batch([nct], base, None)
            except RegistryError:
                return None
            return None if again.failed else again
        try:
            study = self.http.get(f"{self.base_url}/studies/{nct}", dict(base))
        except RegistryRejected as exc:
            # the API's own 404 is plain text; an HTML one is a proxy or a wrong path: doubt
            gone = exc.status == HTTP_NOT_FOUND and "<html" not in str(exc).lower()
            return FetchResult(missing=[nct]) if gone else None
        except RegistryError:
            return None
        if requested_id(study, {nct}) is None:
            return None  # another study again: still in doubt
        return FetchResult(records={nct: study})

    def _fetch_batch(
        self,
        batch: list[str],
        base: Mapping[str, str],
        on_progress: Callable[[int], None] | None,
    ) -> FetchResult:
        params: dict[str, str] = {
            **base,
            "filter.ids": ",".join(batch),
            "pageSize": str(min(MAX_PAGE_SIZE, max(len(batch), 1))),
        }
        # each requested ID to the caller's own string: the records are keyed by it, not by
        # a copy made while matching (a whole-registry baseline would hold every ID twice)
        wanted = {n: n for n in batch}
        found: dict[str, dict[str, Any]] = {}
        served = Served()
        for page in self.pages(params):
            served.add(page)
            for study in page.studies:
                key = requested_id(study, wanted.keys())
                key = None if key is None else wanted[key]
                if key is None and rec.nct_id(study) is not None:
                    served.unrequested += 1
                if key is not None and (key not in found or _newer(study, found[key])):
                    found[key] = study
            if on_progress is not None:
                on_progress(len(page.studies))
        absent = [n for n in batch if n not in found]
        reason = served.doubt()
        if reason is not None and absent:
            return FetchResult(records=found, failed=dict.fromkeys(absent, reason))
        return FetchResult(records=found, missing=absent)

    def pages(self, params: dict[str, str]) -> Iterator[Page]:
        """Each page of a ``/studies`` query, following ``nextPageToken`` with the same
        parameters (a search's queries go through here too).

        The first page asks for ``totalCount``; more pages than it allows, a
        token seen before, or a token that is not a string end the paging
        with an error.
        """
        url = f"{self.base_url}/studies"
        page_size = int(params.get("pageSize", "10"))
        limit = MAX_PAGES
        seen: set[str] = set()
        token: str | None = None
        total: int | None = None
        for number in range(1, MAX_PAGES + 1):
            first = token is None
            extra = {"countTotal": "true"} if token is None else {"pageToken": token}
            page_params = {**params, **extra}
            body = self.http.get(url, page_params)
            studies = body.get("studies")
            if not isinstance(studies, list):
                raise RegistryUnavailable("registry answered without a 'studies' list")
            if first:
                raw = body.get("totalCount")
                ok = isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0
                total = raw if ok else None
                if total is not None:
                    per_page = len(studies) or page_size  # the server may serve fewer than asked
                    limit = min(MAX_PAGES, -(-total // max(per_page, 1)) + 1)
            yield Page(studies, total if first else None)
            next_token = body.get("nextPageToken")
            if next_token is None or next_token == "":
                return
            if not isinstance(next_token, str) or next_token in seen:
                raise RegistryUnavailable("registry answered with a page token that repeats")
            if number >= limit:
                raise RegistryUnavailable(
                    f"registry kept paging past {counted(limit, 'page')} "
                    f"for {counted(total or 0, 'result')}"
                )
            seen.add(next_token)
            token = next_token
        raise RegistryUnavailable(f"registry kept paging past {MAX_PAGES} pages")


@dataclass
class Served:
    """What a paged answer served against what it counted, for :meth:`doubt`.

    Why: a study without an NCT ID cannot be attributed, a study nobody asked
    for stands where a requested one should be (a registry mixing answers up),
    and an answer that serves fewer distinct trials than its own ``totalCount``
    left some out; in each case a trial that did not come back may well be
    there, so its absence means nothing (never "not found", never "no longer
    matches").
    """

    total: int | None = None
    ids: set[str] = field(default_factory=set)
    nameless: int = 0
    unrequested: int = 0
    """Studies served under an ID nobody asked for (set by the caller, who knows what was)."""

    def add(self, page: Page) -> None:
        if page.total is not None:
            self.total = page.total
        for study in page.studies:
            nct = rec.nct_id(study)
            if nct is None:
                self.nameless += 1
            else:
                self.ids.add(nct.upper())

    def doubt(self) -> str | None:
        """Why the answer cannot be taken as complete, or None."""
        if self.nameless:
            return f"the registry returned {counted(self.nameless, 'record')} without an NCT ID"
        if self.unrequested:
            unasked = counted(self.unrequested, "record")
            return f"the registry returned {unasked} ctwatch did not ask for"
        if self.total is not None and len(self.ids) < self.total:
            return (
                f"the registry counted {self.total:,} result{'s' if self.total != 1 else ''} "
                f"but served {len(self.ids):,} distinct trial{'s' if len(self.ids) != 1 else ''}"
            )
        return None


def requested_id(study: Any, wanted: AbstractSet[str]) -> str | None:
    """Which requested ID a returned study answers (its own ID or an alias)."""
    nct = rec.nct_id(study)
    if nct is not None and nct.upper() in wanted:
        return nct.upper()
    for alias in rec.aliases(study):
        if alias.upper() in wanted:
            return alias.upper()
    return None


def _newer(candidate: Any, current: Any) -> bool:
    """Whether a second copy of a study is newer than the first (by last update posted)."""
    return (rec.last_update_posted(candidate) or "") > (rec.last_update_posted(current) or "")
