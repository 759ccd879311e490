"""The tables that name trials to watch: ``[[watch]]`` and ``[[search]]``.

Why together: both route alerts the same way (:class:`DestinationKeys`) and
both filter field changes the same way (:class:`FieldFilter`); a search adds
only where its trials come from. Validation here is the user's first line of
defence: an NCT ID with seven digits, a field name that does not exist, or a
search URL that would silently match nothing is refused at load, naming the
value (search URLs are checked by :mod:`watcher.core.search_url`).
"""

from __future__ import annotations

from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidatorFunctionWrapHandler,
    field_validator,
    model_validator,
)

from watcher.config.digest_keys import TimingTable
from watcher.config.events import EventFilterKeys
from watcher.config.problems import shown_value
from watcher.config.types import check_no_control, normalise_nct_id
from watcher.core import search_url
from watcher.core.fieldnames import find_field
from watcher.core.fields import field_table
from watcher.core.search_url import SearchQuery


class FileTrials(tuple[str, ...]):
    """The IDs of a ``trials_file``, already checked: validation passes them through."""

    __slots__ = ()


DEFAULT_MAX_TRIALS = 5000
"""A search matching more trials than this is refused (``max_trials``)."""


class FieldFilter(BaseModel):
    """``fields``: the registry fields whose changes are alerted (a watch, a followed search)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: tuple[str, ...] | None = None
    """Alert only on changes of these fields: piece names as in the API's ``fields``
    parameter (``OverallStatus``, any case), dotted paths, or the labels alerts print
    (``"Overall Status"``); ``ctwatch fields WORD`` lists them. Default: every field. In a
    ``[[search]]``, only with ``follow = true``."""

    @field_validator("fields")
    @classmethod
    def _fields(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("is empty (leave it out to alert on every field)")
        out: list[str] = []
        unknown = []
        for name in value:
            info = find_field(name)  # AmbiguousField is a ValueError naming the candidates
            if info is None:
                unknown.append(name)
            elif info.piece not in out:
                out.append(info.piece)
        if unknown:
            shown = ", ".join(repr(n) for n in unknown)
            raise ValueError(
                f"{shown} {'is not a field' if len(unknown) == 1 else 'are not fields'} of "
                "ClinicalTrials.gov (use a piece name like OverallStatus or a label like "
                "'Overall Status'; `ctwatch fields WORD` lists them)"
            )
        return tuple(out)

    @property
    def field_paths(self) -> tuple[str, ...] | None:
        """The dotted paths the ``fields`` filter selects, or None for all."""
        if self.fields is None:
            return None
        table = field_table()
        return tuple(table.by_piece[p].path for p in self.fields)


def table_name(value: str) -> str:
    """A watch's or search's name as given; ValueError for a control character (no URL of
    the feed or pages reaches it: a server decodes ``%0A`` and refuses it) or spaces at
    either end (``" oncology"`` and ``"oncology"`` would look the same in every list)."""
    check_no_control(value, "a name")
    if value != value.strip():
        raise ValueError(f"{shown_value(value, 40)} has spaces at its start or end")
    return value


class WatchConfig(TimingTable, FieldFilter, EventFilterKeys):
    """A named list of trials and where their alerts go.

    Destinations (``slack``, ``email``, ``teams``, ``webhook``) come from
    :class:`DestinationKeys`, ``fields`` from :class:`FieldFilter`, ``min_level`` and
    ``events`` from :class:`~watcher.config.events.EventFilterKeys`.
    """

    name: str = Field(min_length=1)
    """Unique among watches and searches; no control characters, no spaces at either end
    (it is part of the URLs of its feed and pages)."""
    trials: tuple[str, ...] = Field(min_length=1)
    """NCT IDs (lower case accepted); or ``trials_file``."""
    trials_file: str | None = Field(default=None, min_length=1)
    """Instead of ``trials``: a text file of NCT IDs, one per line (``#`` comments and blank
    lines allowed), relative to the config file, e.g. ``"ids.txt"``. For long lists (the
    whole registry is ~600,000 IDs): read in a fraction of a second, re-read by ``ctwatch
    run`` when it changes, edited in place by ``ctwatch add``/``remove``. After loading,
    the absolute path."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return table_name(value)

    @field_validator("trials", mode="wrap")
    @classmethod
    def _trials(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        if isinstance(value, FileTrials) and value:  # read and checked by trials_file:
            return value  # kept as it is, not validated again into a copy of every ID
        return handler(_listed_trials(value))


def _listed_trials(value: Any) -> Any:
    """A ``trials`` array: each ID normalised, duplicates dropped, the bad ones named."""
    if isinstance(value, list | tuple):
        seen: dict[str, None] = {}
        bad = []
        for item in value:
            try:
                if not isinstance(item, str):
                    raise ValueError(item)
                seen[normalise_nct_id(item)] = None
            except ValueError:
                bad.append(item)
        if bad:
            shown = ", ".join(shown_value(b, 40) for b in bad[:10])
            more = f" and {len(bad) - 10} more" if len(bad) > 10 else ""
            verb = "is not an NCT ID" if len(bad) == 1 else "are not NCT IDs"
            raise ValueError(f"{shown}{more} {verb} (NCT followed by 8 digits)")
        return tuple(seen)
    return value


class SearchConfig(TimingTable, FieldFilter, EventFilterKeys):
    """A registry search whose matching trials are watched; destinations as in ``[[watch]]``.

    ``url`` (a website search URL) or ``params`` (API v2 parameters) are
    translated and checked by :mod:`watcher.core.search_url`.
    """

    name: str = Field(min_length=1)
    """Unique among searches and watches; no control characters, no spaces at either end
    (it is part of the URLs of its feed and pages)."""
    url: str | None = None
    """A search URL copied from ``https://clinicaltrials.gov/search?…`` (or an API URL);
    set this or ``params``."""
    params: dict[str, str] | None = None
    """The API's own parameters instead of ``url``, e.g.
    ``{ "query.cond" = "asthma", "filter.overallStatus" = "RECRUITING" }``."""
    follow: bool = False
    """Also alert the field changes of every member, like a ``[[watch]]``."""
    max_trials: int = Field(default=DEFAULT_MAX_TRIALS, ge=1, le=1_000_000)
    """A search matching more is refused (named in the summary and status), never truncated."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return table_name(value)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            search_url.from_url(value)  # SearchQueryError is a ValueError naming the part
        return value

    @field_validator("params")
    @classmethod
    def _params(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        if value is not None:
            search_url.from_params(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> SearchConfig:
        if (self.url is None) == (self.params is None):
            raise ValueError("set exactly one of 'url' (a registry search URL) or 'params'")
        if self.fields is not None and not self.follow:
            raise ValueError("'fields' filters field changes, which need follow = true")
        return self

    @property
    def query(self) -> SearchQuery:
        """The API parameters this search sends."""
        if self.url is not None:
            return search_url.from_url(self.url)
        return search_url.from_params(self.params or {})
