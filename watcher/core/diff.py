"""Field-level diff of two normalised study records.

Why not a text diff: people want "Overall Status: Recruiting → Terminated", not
forty lines of JSON. And why not a positional JSON diff: the registry does not
promise list order, so "site 3 is now site 4" must not be a change. Lists of
structures are therefore matched by identity (a location by facility + city +
country, a contact by name, an arm by label, an intervention by name, an
outcome by measure); lists of strings compare as sets. An item whose identity
changed but whose other fields mostly stayed (a facility renamed) is paired
with its old self and reported as an edit, not a removal plus an addition.

Text is compared by what it says (:mod:`watcher.core.richtext`): a historic
version's HTML (``<p>``, ``&#x2F;``) and the current record's Markdown are the
same text, so markup alone is never a change, and list items keep their
identity across the two.

Each change carries the dotted path (list items as ``[key]``), a label, the kind
and the raw old/new values; summarising big values is the renderer's job.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from watcher.core.describe import display_value, label_for, schema_path
from watcher.core.jsoncodec import canonical_json
from watcher.core.richtext import key_text, same_text, same_value, text_content
from watcher.core.snapshot import order_free_json
from watcher.core.text import one_line

Kind = Literal["added", "removed", "changed"]

# Identity of list items, keyed by the list's schema path.
IDENTITY: dict[str, tuple[str, ...]] = {
    "protocolSection.contactsLocationsModule.locations": ("facility", "city", "country"),
    "protocolSection.contactsLocationsModule.locations.contacts": ("name",),
    "protocolSection.contactsLocationsModule.centralContacts": ("name",),
    "protocolSection.contactsLocationsModule.overallOfficials": ("name",),
    "protocolSection.armsInterventionsModule.armGroups": ("label",),
    "protocolSection.armsInterventionsModule.interventions": ("name",),
    "protocolSection.outcomesModule.primaryOutcomes": ("measure",),
    "protocolSection.outcomesModule.secondaryOutcomes": ("measure",),
    "protocolSection.outcomesModule.otherOutcomes": ("measure",),
    "protocolSection.sponsorCollaboratorsModule.collaborators": ("name",),
    "protocolSection.identificationModule.secondaryIdInfos": ("id",),
    "protocolSection.referencesModule.references": ("pmid", "citation"),
    "protocolSection.referencesModule.seeAlsoLinks": ("url",),
    "documentSection.largeDocumentModule.largeDocs": ("filename",),
}
# For lists not named above: the first of these fields an item has.
_FALLBACK_KEYS = ("id", "nctId", "pmid", "name", "label", "measure", "title", "term", "url")
_PAIR_THRESHOLD = 0.5


@dataclass(frozen=True)
class FieldChange:
    """One changed field: where, what to call it, how, and the values."""

    path: str
    label: str
    kind: Kind
    old: Any = None
    new: Any = None

    @functools.cached_property
    def schema_path(self) -> str:
        """The path without list-item keys, as the field tree names it (kept: the event
        rules, the field filters and the store each ask for it)."""
        return schema_path(self.path)


Segments = tuple[tuple[str, bool], ...]


# What people look for first; bookkeeping dates last. Others keep record order.
_FIRST = (
    "protocolSection.statusModule.overallStatus",
    "protocolSection.statusModule.whyStopped",
    "protocolSection.statusModule.lastKnownStatus",
    "protocolSection.statusModule.statusVerifiedDate",
    "protocolSection.statusModule.startDateStruct",
    "protocolSection.statusModule.primaryCompletionDateStruct",
    "protocolSection.statusModule.completionDateStruct",
    "protocolSection.designModule.enrollmentInfo",
    "hasResults",
    "resultsSection",
)
_LAST = (
    "protocolSection.statusModule.lastUpdateSubmitDate",
    "protocolSection.statusModule.lastUpdatePostDateStruct",
)


def diff_records(old: dict[str, Any], new: dict[str, Any]) -> list[FieldChange]:
    """Every change from ``old`` to ``new`` (both normalised), most telling first."""
    return sorted(_diff(old, new, ()), key=_rank)


def _rank(change: FieldChange) -> int:
    path = change.schema_path
    for rank, prefix in enumerate(_FIRST):
        if path == prefix or path.startswith(prefix + "."):
            return rank
    for rank, prefix in enumerate(_LAST):
        if path == prefix or path.startswith(prefix + "."):
            return 1000 + rank
    return 100


def item_key(list_schema: str, item: Any) -> str:
    """The identity of one list item, as shown in paths and labels."""
    if not isinstance(item, dict):
        return order_free_json(item)
    fields = IDENTITY.get(list_schema)
    if fields is not None:
        values = [item.get(f) for f in fields]
        if list_schema.endswith("references"):
            values = values[:1] if values[0] else values[1:]
        shown = [key_text(str(v)) for v in values if v not in (None, "")]
        if shown:
            return _clean(", ".join(shown))
    for name in _FALLBACK_KEYS:
        if isinstance(item.get(name), str | int) and item.get(name) != "":
            return _clean(key_text(str(item[name])))
    return _clean(order_free_json(item))


def _clean(key: str) -> str:
    """Brackets would end a path segment; keys are one short line."""
    return one_line(key.replace("[", "(").replace("]", ")"), 120)


def _path(segments: Segments) -> str:
    out = ""
    for text, is_key in segments:
        out += f"[{text}]" if is_key else (f".{text}" if out else text)
    return out


def _change(segments: Segments, kind: Kind, old: Any, new: Any) -> FieldChange:
    return FieldChange(_path(segments), label_for(list(segments)), kind, old, new)


def _diff(old: Any, new: Any, at: Segments) -> Iterator[FieldChange]:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(old) + [k for k in new if k not in old]:
            here = (*at, (key, False))
            if key not in new:
                yield _change(here, "removed", old[key], None)
            elif key not in old:
                yield _change(here, "added", None, new[key])
            else:
                yield from _diff(old[key], new[key], here)
    elif isinstance(old, list) and isinstance(new, list):
        yield from _diff_list(old, new, at)
    elif (old != new or type(old) is not type(new)) and not _same_words(at, old, new):
        yield _change(at, "changed", old, new)


def _same_words(at: Segments, old: Any, new: Any) -> bool:
    """Text that says the same (markup aside), or a JSON type change that reads the
    same (``75`` -> ``"75"``), is not a change."""
    if isinstance(old, str) and isinstance(new, str):
        return same_text(old, new)
    scalars = (str, int, float)
    if type(old) is type(new) or not (isinstance(old, scalars) and isinstance(new, scalars)):
        return False
    if isinstance(old, bool) or isinstance(new, bool):
        return False
    path = schema_path(_path(at))
    return display_value(path, old) == display_value(path, new)


def _diff_list(old: list[Any], new: list[Any], at: Segments) -> Iterator[FieldChange]:
    if not any(isinstance(v, dict | list) for v in old + new):
        if _scalar_set(old, canonical_json) != _scalar_set(new, canonical_json) and (
            _scalar_set(old, _text_key) != _scalar_set(new, _text_key)
        ):
            yield _change(at, "changed", old, new)
        return
    list_schema = schema_path(_path(at))
    matched, came, gone = _match(list_schema, old, new)
    renamed = _pair_renamed(list_schema, gone, came)
    paired_old = {id(o) for _, o, _ in renamed}
    paired_new = {id(n) for _, _, n in renamed}
    for key, old_item, new_item in matched + renamed:
        yield from _diff(old_item, new_item, (*at, (key, True)))
    for key, new_item in came:
        if id(new_item) not in paired_new:
            yield _change((*at, (key, True)), "added", None, new_item)
    for key, old_item in gone:
        if id(old_item) not in paired_old:
            yield _change((*at, (key, True)), "removed", old_item, None)


def _scalar_set(values: list[Any], key: Callable[[Any], str]) -> set[str]:
    return {key(v) for v in values}


def _text_key(value: Any) -> str:
    """A list value as compared: strings by their text content."""
    return canonical_json(text_content(value) if isinstance(value, str) else value)


Pair = tuple[str, Any, Any]


def _match(
    list_schema: str, old: list[Any], new: list[Any]
) -> tuple[list[Pair], list[tuple[str, Any]], list[tuple[str, Any]]]:
    """Pair items by identity; returns (matched, only-new, only-old).

    Items sharing one identity (two outcomes with the same measure) are matched
    by content first, then in order, and shown as ``key #2``, ``key #3``…
    """
    old_groups = _group(list_schema, old)
    new_groups = _group(list_schema, new)
    matched: list[Pair] = []
    came: list[tuple[str, Any]] = []
    gone: list[tuple[str, Any]] = []
    for key in list(new_groups) + [k for k in old_groups if k not in new_groups]:
        olds, news = list(old_groups.get(key, [])), new_groups.get(key, [])
        if len(olds) == 1 and len(news) == 1:
            matched.append((key, olds[0], news[0]))
            continue
        left = []
        for index, item in enumerate(news):
            text = order_free_json(item)
            same = next((o for o in olds if order_free_json(o) == text), None)
            if same is not None:
                olds.remove(same)
            else:
                left.append((_numbered(key, index, len(news)), item))
        for label, item in left:
            if olds:
                matched.append((label, olds.pop(0), item))
            else:
                came.append((label, item))
        gone.extend((_numbered(key, len(news) + i, 2), o) for i, o in enumerate(olds))
    return matched, came, gone


def _group(list_schema: str, items: list[Any]) -> dict[str, list[Any]]:
    groups: dict[str, list[Any]] = {}
    for item in items:
        groups.setdefault(item_key(list_schema, item), []).append(item)
    return groups


def _numbered(key: str, index: int, count: int) -> str:
    return key if count == 1 or index == 0 else f"{key} #{index + 1}"


def _pair_renamed(
    list_schema: str, gone: list[tuple[str, Any]], came: list[tuple[str, Any]]
) -> list[Pair]:
    """Match new items to vanished ones that kept most of their other fields."""
    identity = set(IDENTITY.get(list_schema, ()))
    pairs: list[Pair] = []
    free = list(gone)
    for new_key, new_item in came:
        best, best_score = None, _PAIR_THRESHOLD
        for candidate in free:
            score = _similarity(candidate[1], new_item, identity)
            if score >= best_score:
                best, best_score = candidate, score
                if score == 1.0:
                    break
        if best is not None:
            pairs.append((new_key, best[1], new_item))
            free.remove(best)
    return pairs


def _similarity(old: Any, new: Any, identity: set[str]) -> float:
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return 0.0
    keys = (set(old) | set(new)) - identity
    if not keys:
        return 0.0
    same = sum(1 for k in keys if k in old and k in new and same_value(old[k], new[k]))
    return same / len(keys)
