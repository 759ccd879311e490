"""The change log's exports (``/changes?format=json`` and ``format=csv``).

Why apart from the routes: an export is a file format other tools read; its columns
and escaping are decided here once (the CLI's CSV uses the same
:func:`~watcher.core.text.spreadsheet_safe`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from watcher.core.text import spreadsheet_safe
from watcher.store.timeline import ChangeSet


def _plain(change_set: ChangeSet) -> dict[str, Any]:
    return {
        "change_set": change_set.version_id,
        "nct_id": change_set.nct_id,
        "title": change_set.title,
        "version": change_set.ref,
        "registry_version": change_set.registry_version,
        "date": change_set.date,
        "source": "imported" if change_set.imported else "observed",
        "level": change_set.level,
        "entries": [
            {"level": e.level, "type": e.type, "label": e.line.label, "text": e.text}
            for e in change_set.entries
        ],
    }


def as_json(rows: Sequence[ChangeSet], following: str | None) -> Response:
    """``/changes?format=json``: the page's change sets and the next page's URL."""
    body = {"changes": [_plain(r) for r in rows], "next": following}
    response = Response(json.dumps(body, ensure_ascii=False), media_type="application/json")
    return response


def as_csv(rows: Sequence[ChangeSet], following: str | None) -> Response:
    """``/changes?format=csv``: one row per entry, every cell spreadsheet-safe (a record's
    ``=cmd`` is text); the next page in a ``Link`` header."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["date", "nct_id", "title", "version", "source", "level", "type", "field", "change"]
    )
    for row in rows:
        source = "imported" if row.imported else "observed"
        for entry in row.entries:
            writer.writerow(
                [spreadsheet_safe(v) for v in (row.date, row.nct_id, row.title, row.ref, source,
                                    entry.level, entry.type, entry.line.label, entry.text)]
            )  # fmt: skip
    response = Response(out.getvalue(), media_type="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="ctwatch-changes.csv"'
    if following is not None:
        response.headers["Link"] = f'<{following}>; rel="next"'
    return response
