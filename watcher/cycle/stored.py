"""Changes as the store keeps them: JSON for the program, words for the people.

Why here and not in the store: the words (``Recruiting`` for ``RECRUITING``,
a gist for a whole results section) are presentation, which the store never
imports; the cycle, which records versions, computes them once per change.
"""

from __future__ import annotations

from collections.abc import Sequence

from watcher.core.describe import display_value, stored_json
from watcher.core.diff import FieldChange
from watcher.store import ChangeRow


def stored_changes(changes: Sequence[FieldChange]) -> list[ChangeRow]:
    """Values as JSON text (huge ones as a gist) plus the words alerts show for them."""
    rows = []
    for change in changes:
        path, schema = change.path, change.schema_path
        old_words = None if change.old is None else display_value(schema, change.old)
        new_words = None if change.new is None else display_value(schema, change.new)
        old, new = stored_json(path, change.old), stored_json(path, change.new)
        rows.append(ChangeRow(path, change.label, change.kind, old, new, old_words, new_words))
    return rows
