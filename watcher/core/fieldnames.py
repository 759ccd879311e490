"""Finding a registry field by any name a person would use for it.

Why: people copy field names from where they see them. An alert says
"Overall Status"; the API documentation says ``OverallStatus``; a developer
has ``protocolSection.statusModule.overallStatus`` in front of them. A
``fields`` filter accepts all three (piece names and labels in any case), and
``ctwatch fields WORD`` lists pieces with the labels alerts print, so the two
vocabularies can be matched up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from watcher.core.describe import label_for
from watcher.core.fields import FieldInfo, field_table

_SEPARATORS = re.compile(r"\s*(?:›|>|/)\s*")


@dataclass(frozen=True)
class NamedField:
    """A field with the label alerts print for it."""

    info: FieldInfo
    label: str


class AmbiguousField(ValueError):
    """A label that several unrelated fields share."""


def _key(text: str) -> str:
    """Case, spacing and the separator style (``›``, ``>``, ``/``) do not matter."""
    return _SEPARATORS.sub(" › ", " ".join(text.split())).lower()


@cache
def named_fields() -> tuple[NamedField, ...]:
    """Every field with its label, in piece-name order."""
    table = field_table()
    return tuple(
        NamedField(info, label_for([(part, False) for part in info.path.split(".")]))
        for _, info in sorted(table.by_piece.items())
    )


@cache
def _by_label() -> dict[str, tuple[FieldInfo, ...]]:
    out: dict[str, list[FieldInfo]] = {}
    for named in named_fields():
        out.setdefault(_key(named.label), []).append(named.info)
    return {label: tuple(infos) for label, infos in out.items()}


def find_field(name: str) -> FieldInfo | None:
    """The field a piece name (any case), dotted path or alert label names, or None.

    A label shared by a structure and its own parts ("Completion Date" for
    the date struct and its date) means the structure, which covers both;
    a label shared by unrelated fields raises AmbiguousField naming them.
    """
    info = field_table().resolve(name.strip())
    if info is not None:
        return info
    matches = _by_label().get(_key(name), ())
    if not matches:
        return None
    shortest = min(matches, key=lambda i: len(i.path))
    if all(m.path == shortest.path or m.path.startswith(shortest.path + ".") for m in matches):
        return shortest
    pieces = ", ".join(sorted(m.piece for m in matches))
    raise AmbiguousField(f"{name!r} is the label of several fields ({pieces}): use one of those")


def field_path(name: str) -> str | None:
    """The dotted path of the field a person names (see :func:`find_field`), or None.

    A date's ``.date`` leaf widens to its date struct, so its type (Estimated ->
    Actual) belongs to the same story. AmbiguousField for a label several
    unrelated fields share.
    """
    info = find_field(name)
    if info is None:
        return None
    parent = info.path.removesuffix(".date")
    return parent if parent != info.path and parent.endswith("DateStruct") else info.path


def search_fields(word: str | None) -> list[NamedField]:
    """Fields whose piece name, label or path contains ``word`` (any case); all for None."""
    if not word:
        return list(named_fields())
    needle = _key(word)
    return [
        f
        for f in named_fields()
        if needle in f.info.piece.lower()
        or needle in _key(f.label)
        or needle in f.info.path.lower()
    ]
