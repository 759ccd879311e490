"""What every change rule reads: the two records, the diff, the history, the thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from watcher.core.diff import FieldChange
from watcher.core.events.facts import DateFact, Facts, date_of, facts_of
from watcher.core.events.model import Thresholds


@dataclass(frozen=True)
class Change:
    """One recorded change: ``old`` -> ``new``, its field changes, the earlier versions.

    ``earlier`` holds the :class:`Facts` of the versions before ``old``, oldest
    first (``old`` itself is not among them); it may be empty when nothing
    older is stored.
    """

    old: Any
    new: Any
    changes: Sequence[FieldChange]
    earlier: Sequence[Facts]
    thresholds: Thresholds

    @cached_property
    def old_facts(self) -> Facts:
        return facts_of(self.old)

    @cached_property
    def new_facts(self) -> Facts:
        return facts_of(self.new)

    def old_date(self, name: str) -> DateFact | None:
        """One planned date of the old version (what a date rule reads), without the rest of
        its :class:`Facts`: a change touches one date far more often than the enrollment."""
        return date_of(self.old, name)

    def new_date(self, name: str) -> DateFact | None:
        return date_of(self.new, name)

    @cached_property
    def schema_paths(self) -> tuple[str, ...]:
        return tuple(c.schema_path for c in self.changes)

    @cached_property
    def _by_prefix(self) -> dict[str, list[FieldChange]]:
        """Every change under each of its path's prefixes (``a``, ``a.b``, ``a.b.c``),
        record order kept. Why: each rule asks about a few prefixes, and a change touches
        dozens of paths; an index built once makes every question one lookup instead of a
        scan of every path per question (it was a tenth of classifying a change)."""
        index: dict[str, list[FieldChange]] = {}
        for change, path in zip(self.changes, self.schema_paths, strict=True):
            for prefix in _prefixes(path):
                index.setdefault(prefix, []).append(change)
        return index

    def under(self, prefix: str) -> list[FieldChange]:
        """The changes at or below a schema path."""
        return list(self._by_prefix.get(prefix, ()))

    def touches(self, prefix: str) -> bool:
        return prefix in self._by_prefix

    @property
    def history(self) -> list[Facts]:
        """Every version up to and including the new one, oldest first."""
        return [*self.earlier, self.old_facts, self.new_facts]


@lru_cache(maxsize=4096)
def _prefixes(path: str) -> tuple[str, ...]:
    """``a``, ``a.b``, ``a.b.c`` for ``a.b.c``: the registry has a few hundred schema
    paths, and every changed trial's index asks for the same ones again."""
    parts = path.split(".")
    return tuple(".".join(parts[: i + 1]) for i in range(len(parts)))
