"""Reading the registry double's query parameters, and projecting ``fields``.

The double's request parsing, apart from its state: each function takes the
raw parameter text and either returns what it means or raises
:class:`BadRequest` with the registry's own kind of plain-text message, which
the double answers as a 400.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, TypeAlias

from watcher.core.fields import field_table

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
LAST_UPDATE_PATH = "protocolSection.statusModule.lastUpdatePostDateStruct.date"
ID_RE = re.compile(r"[Nn][Cc][Tt][0-9]{8}")
LIST_SEP = re.compile(r"[,|]")
PARTIAL_DATE_RE = re.compile(r"[0-9]{4}(?:-[0-9]{2}(?:-[0-9]{2})?)?")
RANGE_RE = re.compile(r"\s*AREA\[([^\]]*)\]\s*RANGE\[([^,\]]*),([^\]]*)\]\s*", re.IGNORECASE)
AND_RE = re.compile(r"\s+AND\s+")

# A projection tree: key -> subtree, or None for "the whole value under this key".
Trie: TypeAlias = "dict[str, Trie | None]"
Clause: TypeAlias = tuple[str, str | None, str | None]
"""A date range on one field: ``(dotted path, low, high)``; None is open."""


class BadRequest(Exception):
    """Raised while parsing a request; becomes a 400 with the message as body."""


def split_list(raw: str) -> list[str]:
    """Split a comma- or pipe-separated parameter, dropping blank items."""
    return [item.strip() for item in LIST_SEP.split(raw) if item.strip()]


def parse_ids(raw: str | None) -> tuple[str, ...] | None:
    if raw is None:
        return None
    ids = split_list(raw)
    if not ids:
        raise BadRequest(f"filter.ids has incorrect format for value {raw}")
    for nct_id in ids:
        if not ID_RE.fullmatch(nct_id):
            raise BadRequest(f"filter.ids has incorrect format for value {nct_id}")
    return tuple(nct_id.upper() for nct_id in ids)


def parse_bound(text: str, open_word: str) -> str | None:
    """A RANGE bound: ``MIN``/``MAX`` (open), or a date ``YYYY[-MM[-DD]]``.

    A partial date is widened to the whole year or month it names: a low bound
    from its first day, a high bound to its last (``2025`` up to ``2025-99-99``,
    which sorts after every real day of 2025).
    """
    bound = text.strip()
    if bound.upper() == open_word:
        return None
    if PARTIAL_DATE_RE.fullmatch(bound):
        with contextlib.suppress(ValueError):
            date.fromisoformat((bound + "-01-01")[:10])
            fill = "-99-99" if open_word == "MAX" else "-01-01"
            return (bound + fill[len(bound) - 4 :])[:10]
    raise BadRequest(f"Error parsing query in filter.advanced: invalid RANGE bound `{bound}`")


def parse_advanced(raw: str | None) -> tuple[Clause, ...] | None:
    """Date ranges ANDed: ``AREA[<date field>]RANGE[from,to]`` clauses joined with ``AND``,
    each optionally in parentheses (as ctwatch ANDs a search's own ``filter.advanced``)."""
    if raw is None:
        return None
    clauses = []
    for part in AND_RE.split(raw):
        text = part.strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        match = RANGE_RE.fullmatch(text)
        if match is None:
            raise BadRequest(
                f"Error parsing query in filter.advanced: unsupported expression `{raw}` "
                "(the registry double supports only AREA[<date field>]RANGE[from,to] "
                "clauses joined with AND)"
            )
        area = match.group(1).strip()
        info = field_table().resolve(area)
        if info is None:
            raise BadRequest(f"Error parsing query in filter.advanced: Unknown area name: `{area}`")
        if not info.type.endswith("Date"):
            raise BadRequest(
                f"Error parsing query in filter.advanced: area `{area}` is not a date; "
                "the registry double supports date ranges only"
            )
        low, high = parse_bound(match.group(2), "MIN"), parse_bound(match.group(3), "MAX")
        clauses.append((info.path, low, high))
    return tuple(clauses)


def in_range(day: str | None, low: str | None, high: str | None) -> bool:
    """A record's date within a clause's bounds; a partial date counts as its first day."""
    if day is None:
        return False
    full = (day + "-01-01")[:10] if len(day) < 10 else day
    return (low is None or full >= low) and (high is None or full <= high)


def parse_page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    text = raw.strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        raise BadRequest(f"Invalid value in parameter `pageSize`: `{raw}`")
    return min(int(text), MAX_PAGE_SIZE)


def parse_bool(name: str, raw: str | None) -> bool:
    if raw is None:
        return False
    lowered = raw.strip().lower()
    if lowered not in ("true", "false"):
        raise BadRequest(f"Invalid value in parameter `{name}`: `{raw}`")
    return lowered == "true"


def check_format(params: Mapping[str, str]) -> None:
    """Accept ``format=json`` and either ``markupFormat``; the double serves JSON only."""
    fmt = params.get("format", "json")
    if fmt.lower() != "json":
        raise BadRequest(f"Invalid value in parameter `format`: `{fmt}` (double serves json only)")
    markup = params.get("markupFormat", "markdown")
    if markup.lower() not in ("markdown", "legacy"):
        raise BadRequest(f"Invalid value in parameter `markupFormat`: `{markup}`")


def build_trie(paths: Iterable[str]) -> Trie:
    """Merge dotted paths into one tree; a shorter path swallows longer ones below it."""
    root: Trie = {}
    for path in sorted(paths, key=lambda p: p.count(".")):
        node = root
        *parents, leaf = path.split(".")
        for key in parents:
            child = node.setdefault(key, {})
            if child is None:
                break
            node = child
        else:
            node[leaf] = None
    return root


MISSING: Any = object()


def project(value: Any, trie: Trie) -> Any:
    """Keep only the trie's paths, keeping nesting; lists are projected item by item."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if key not in trie:
                continue
            sub = trie[key]
            projected = item if sub is None else project(item, sub)
            if projected is not MISSING:
                out[key] = projected
        return out if out else MISSING
    if isinstance(value, list):
        items = [p for p in (project(item, trie) for item in value) if p is not MISSING]
        return items if items else MISSING
    return MISSING


def nct_id_of(study: Mapping[str, Any]) -> str:
    try:
        nct_id = study["protocolSection"]["identificationModule"]["nctId"]
    except (KeyError, TypeError) as exc:
        raise ValueError("study has no protocolSection.identificationModule.nctId") from exc
    if not isinstance(nct_id, str) or not ID_RE.fullmatch(nct_id):
        raise ValueError(f"study has a malformed nctId: {nct_id!r}")
    return nct_id.upper()


def dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


class PageTokens:
    """Opaque page tokens, valid only for the query they were issued for (as the SPEC says)."""

    def __init__(self) -> None:
        self._salt = secrets.token_bytes(16)

    def issue(self, offset: int, bound_to: str) -> str:
        """A token for the page starting at ``offset`` of the query ``bound_to``."""
        raw = f"{offset}.{self._sign(offset, bound_to)}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def offset(self, token: str, bound_to: str) -> int:
        """Decode a page token; it must have been issued for the same query."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
            offset_text, signature = raw.split(".", 1)
        except ValueError as exc:  # binascii.Error and UnicodeDecodeError included
            raise BadRequest("Invalid pageToken") from exc
        if not offset_text.isdigit() or not hmac.compare_digest(
            signature, self._sign(int(offset_text), bound_to)
        ):
            raise BadRequest("Invalid pageToken")
        return int(offset_text)

    def _sign(self, offset: int, bound_to: str) -> str:
        message = f"{offset}\n{bound_to}".encode()
        return hashlib.blake2b(message, key=self._salt, digest_size=9).hexdigest()
