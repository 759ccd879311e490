"""What every change rule reads: the two records, the diff, the history, the thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from watcher.core.diff import FieldChange
from watcher.core.events.facts import Facts, facts_of
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

    @cached_property
    def schema_paths(self) -> tuple[str, ...]:
        return tuple(c.schema_path for c in self.changes)

    def under(self, prefix: str) -> list[FieldChange]:
        """The changes at or below a schema path."""
        dotted = prefix + "."
        return [
            c
            for c, path in zip(self.changes, self.schema_paths, strict=True)
            if path == prefix or path.startswith(dotted)
        ]

    def touches(self, prefix: str) -> bool:
        dotted = prefix + "."
        return any(p == prefix or p.startswith(dotted) for p in self.schema_paths)

    @property
    def history(self) -> list[Facts]:
        """Every version up to and including the new one, oldest first."""
        return [*self.earlier, self.old_facts, self.new_facts]
