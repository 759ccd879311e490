"""A search's questions to the registry: who matches, what moved, who still matches.

Why these three and no more (API_FACTS §12): re-running a whole search every
cycle costs a thousand-row page per thousand members for nothing, so a cycle
asks only

* :meth:`SearchReader.posted_since` - the search AND "last update posted on or
  after a day", with ``fields=NCTId,StudyFirstPostDate,LastUpdatePostDate``:
  new and entering trials, and members that moved but still match;
* :meth:`SearchReader.still_matching` - the search AND ``filter.ids`` of
  members that moved but were not in that answer: whoever is missing here
  really left (one query, never a guess from an absence);
* :meth:`SearchReader.members` - the whole search with ``fields=NCTId``, for
  a baseline and the weekly sweep (a trial can enter or leave without a new
  post date: registry-computed fields).

Every answer is read defensively: ``totalCount`` over ``max_trials`` stops at
the first page (:class:`TooManyMatches`), and so does a count that grows past
it while paging; a trial returned twice counts once; paging is bounded by
:meth:`~watcher.registry.client.RegistryClient.pages`; a record without an
NCT ID, or fewer distinct trials than the answer's own ``totalCount`` (a short
answer), fails the query - a member could otherwise be taken for gone, and
told "No longer matches" one sweep and "Now matches" the next.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from watcher.core import record as rec
from watcher.core.search_url import SearchQuery
from watcher.registry.client import MAX_PAGE_SIZE, RegistryClient, Served
from watcher.registry.errors import RegistryUnavailable
from watcher.registry.planner import since_clause

MEMBER_FIELDS = ("NCTId",)
SINCE_FIELDS = ("NCTId", "StudyFirstPostDate", "LastUpdatePostDate")
PREVIEW_FIELDS = ("NCTId", "BriefTitle", "OverallStatus")
PREVIEW_ROWS = 10


class TooManyMatches(Exception):
    """The search matches more trials than it may (``max_trials``): ``count`` of them."""

    def __init__(self, count: int) -> None:
        super().__init__(f"{count:,} trials match")
        self.count = count


@dataclass(frozen=True)
class PreviewRow:
    nct_id: str
    status: str | None
    title: str


@dataclass(frozen=True)
class Preview:
    """The registry's count of a search and its first few matches."""

    total: int | None
    rows: tuple[PreviewRow, ...]


def query_params(
    query: SearchQuery, fields: Sequence[str], *, advanced: str | None = None
) -> dict[str, str]:
    """The search's parameters with ours: ``fields``, the page size, and ``advanced``
    ANDed to the search's own ``filter.advanced``."""
    params = query.mapping
    if advanced is not None:
        own = params.get("filter.advanced")
        params["filter.advanced"] = f"({own}) AND {advanced}" if own else advanced
    params["fields"] = ",".join(fields)
    params["pageSize"] = str(MAX_PAGE_SIZE)
    return params


@dataclass
class SearchReader:
    """Asks the registry a search's questions through the cycle's client (one pace)."""

    registry: RegistryClient

    def members(self, query: SearchQuery, limit: int) -> set[str]:
        """Every trial the search matches; TooManyMatches above ``limit``."""
        return set(self._collect(query_params(query, MEMBER_FIELDS), limit))

    def posted_since(self, query: SearchQuery, day: str, limit: int) -> dict[str, str | None]:
        """Matching trials posted on or after ``day``, with their first-posted dates."""
        params = query_params(query, SINCE_FIELDS, advanced=since_clause(day))
        return {nct: rec.first_posted(s) for nct, s in self._collect(params, limit).items()}

    def still_matching(self, query: SearchQuery, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the search still matches (batched like trial fetches, so a
        request the registry finds too long is sent again in halves)."""
        found: set[str] = set()
        # with the aliases: a member the registry renamed is answered under its new ID,
        # which must count as the one asked for, not as a study nobody asked for
        fields = (*MEMBER_FIELDS, "NCTIdAlias")
        for batch in self.registry.iter_batches(ids, fields=fields, search=query.mapping):
            if batch.failed:  # an absence proves nothing: no member is called gone on it
                raise RegistryUnavailable(next(iter(batch.failed.values())))
            found.update(batch.records)
        return found

    def preview(self, query: SearchQuery, rows: int = PREVIEW_ROWS) -> Preview:
        """The registry's count and the first ``rows`` matches (one request)."""
        params = query_params(query, PREVIEW_FIELDS) | {"pageSize": str(rows)}
        page = next(iter(self.registry.pages(params)))
        shown = tuple(
            PreviewRow(nct.upper(), rec.overall_status(s), rec.title(s))
            for s in page.studies[:rows]
            if (nct := rec.nct_id(s)) is not None
        )
        return Preview(page.total, shown)

    def _collect(self, params: dict[str, str], limit: int) -> dict[str, Any]:
        """Distinct studies by NCT ID, at most ``limit`` of them; an answer that is not
        whole (a record without an NCT ID, fewer trials than its ``totalCount``) fails."""
        found: dict[str, Any] = {}
        served = Served()
        for page in self.registry.pages(params):
            if page.total is not None and page.total > limit:
                raise TooManyMatches(page.total)  # the first page says so: stop here
            served.add(page)
            for study in page.studies:
                nct = rec.nct_id(study)
                if nct is not None:
                    found.setdefault(nct.upper(), study)
            if len(found) > limit:  # the count grew while paging
                raise TooManyMatches(len(found))
        doubt = served.doubt()
        if doubt is not None:
            raise RegistryUnavailable(f"{doubt} for a search; read again next cycle")
        return found
