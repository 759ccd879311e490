"""The registry's field tree: piece names, dotted paths, types.

ClinicalTrials.gov names every field twice: a *piece* name (``OverallStatus``)
that the API's ``fields`` parameter takes, and a JSON path
(``protocolSection.statusModule.overallStatus``). Config filters are written in
piece names, the diff works in paths, and rendering needs to know which leaves
are enums. ``data/fields.json`` is generated from ``GET /studies/metadata`` by
``scripts/gen_fields.py``; it is loaded lazily and cached per process, so
importing this module costs nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources


@dataclass(frozen=True)
class FieldInfo:
    """One node of the field tree."""

    piece: str
    path: str
    type: str
    is_enum: bool


@dataclass(frozen=True)
class FieldTable:
    """Lookups over the field tree, by piece name and by dotted path."""

    by_piece: dict[str, FieldInfo]
    by_path: dict[str, FieldInfo]
    by_lower: dict[str, FieldInfo]

    def resolve(self, name: str) -> FieldInfo | None:
        """Find a field by piece name (any case) or by dotted path."""
        return self.by_piece.get(name) or self.by_path.get(name) or self.by_lower.get(name.lower())

    def enum_type(self, path: str) -> str | None:
        """The enum type of a leaf path (list keys stripped), or None."""
        info = self.by_path.get(path)
        if info is None or not info.is_enum:
            return None
        return info.type.removesuffix("[]")


@cache
def field_table() -> FieldTable:
    """Load the generated table once per process."""
    raw = resources.files("watcher.core").joinpath("data/fields.json").read_text(encoding="utf-8")
    rows: dict[str, list[object]] = json.loads(raw)
    infos = [
        FieldInfo(piece=piece, path=str(row[0]), type=str(row[1]), is_enum=bool(row[2]))
        for piece, row in rows.items()
    ]
    return FieldTable(
        by_piece={i.piece: i for i in infos},
        by_path={i.path: i for i in infos},
        by_lower={i.piece.lower(): i for i in infos},
    )
