"""The status table: plain columns that fit the width, streamed row by row.

Why not a rich table: rich measures every row before printing the first
(6.7 s and gigabytes at whole-registry scale) and wraps cells mid-token, so an
NCT ID or a date could break across lines. Here every column but the title
has a fixed width, known before the first row from one summary query
(:class:`~watcher.store.overview.StatusSummary`): IDs and dates are never cut,
empty columns are left out, the title takes what is left and is cut with
"…", and a row's last error goes on its own line below it. No box drawing:
the same text reads in a terminal, a file or a mail.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from watcher.core.describe import STATUS_PATH, display_value
from watcher.core.text import is_terminal_safe, one_line, terminal_safe, truncate
from watcher.store.overview import StatusRow, StatusSummary

GAP = "  "
MIN_TITLE = 16
DEFAULT_WIDTH = 200
"""Off a terminal, without ``COLUMNS``: wide enough for long titles."""


@dataclass(frozen=True)
class Column:
    """A column: its header, its width, and how a row fills it."""

    header: str
    width: int
    cell: Callable[[StatusRow], str]


def _day(value: str | None) -> str:
    return value[:10] if value else "—"


def _minute(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "—"


def _status(row: StatusRow) -> str:
    return status_text(row.overall_status) if row.overall_status else "—"


@functools.lru_cache(maxsize=64)
def status_text(value: str) -> str:
    """A status as the website writes it; a handful of values over thousands of rows."""
    return display_value(STATUS_PATH, value)


def _checked(when: Callable[[str | None], str]) -> Callable[[StatusRow], str]:
    return lambda row: when(row.last_checked_at) if row.last_checked_at else "never"


def layout(summary: StatusSummary, width: int) -> list[Column]:
    """The columns that fit ``width``.

    Tried in turn: times to the minute; dates only; dates only without the
    "Checked" column (the last cycle's time is printed below the table). The
    first that leaves the title enough room wins; if none does, the last one
    is used with a short title (a line may then run past ``width``, but no ID
    or date is ever cut).
    """
    wanted = max(summary.title_width, len("Title")) if summary.title_width else 0
    columns: list[Column] = []
    for wide, keep_checked in ((True, True), (False, True), (False, False)):
        columns = _fixed_columns(summary, wide=wide, keep_checked=keep_checked)
        room = width - sum(c.width for c in columns) - len(GAP) * len(columns)
        if not wanted and room >= -len(GAP):
            return columns
        if wanted and room >= min(wanted, 40 if wide else MIN_TITLE):
            return _with_title(columns, min(wanted, room))
    return _with_title(columns, min(wanted, MIN_TITLE)) if wanted else columns


def _fixed_columns(summary: StatusSummary, *, wide: bool, keep_checked: bool) -> list[Column]:
    """Every column but the title; empty ones left out."""
    when = _minute if wide else _day
    stamp = 16 if wide else 10
    columns = [Column("NCT ID", 11, lambda r: r.nct_id)]
    if summary.statuses:
        width = max(len(display_value(STATUS_PATH, s)) for s in summary.statuses)
        columns.append(Column("Status", max(width, len("Status")), _status))
    if summary.posted:
        columns.append(Column("Last update", 11, lambda r: _day(r.last_update_posted)))
    if summary.changed:
        columns.append(Column("Changed", stamp, lambda r: when(r.last_changed_at)))
    if keep_checked and summary.checked:
        columns.append(Column("Checked", stamp, _checked(when)))
    return columns


def _with_title(columns: list[Column], width: int) -> list[Column]:
    return [columns[0], Column("Title", width, _title), *columns[1:]]


def _title(row: StatusRow) -> str:
    return one_line(row.title or "", 10_000)


def header(columns: list[Column]) -> str:
    return _join(columns, [c.header for c in columns])


def lines(columns: list[Column], row: StatusRow, width: int) -> list[str]:
    """The row's line, and its last error below it (indented, cut to ``width``)."""
    cells = [c.cell(row) for c in columns]
    if not is_terminal_safe("".join(cells)):  # the usual case needs no cell-by-cell pass
        cells = [terminal_safe(cell) for cell in cells]  # measured as they will print
    out = [_join(columns, cells)]
    if row.last_error:
        indent = " " * (columns[0].width + len(GAP))
        error = terminal_safe(row.last_error)
        out.append(indent + "! " + one_line(error, max(width - len(indent) - 2, 20)))
    return out


def renderer(columns: list[Column], width: int) -> Callable[[StatusRow], str]:
    """``lines`` as one function per table, for the whole registry's 580,000 rows: one
    format string pads every cell, and a row with nothing to make safe (the usual case)
    is checked once, as a whole; any other row goes through :func:`lines`."""
    cells = tuple(c.cell for c in columns)
    titled = [i for i, c in enumerate(columns) if c.header == "Title"]
    title_at = titled[0] if titled else -1
    title_width = columns[title_at].width if titled else 0
    form = GAP.join(f"{{:<{c.width}}}" for c in columns)

    def render(row: StatusRow) -> str:
        if row.last_error:
            return "\n".join(lines(columns, row, width))
        values = [cell(row) for cell in cells]
        if titled and len(values[title_at]) > title_width:
            values[title_at] = truncate(values[title_at], title_width)
        text = form.format(*values).rstrip()
        return text if is_terminal_safe(text) else "\n".join(lines(columns, row, width))

    return render


def _join(columns: list[Column], cells: list[str]) -> str:
    return GAP.join(
        [
            (truncate(cell, column.width) if column.header == "Title" else cell).ljust(column.width)
            for column, cell in zip(columns, cells, strict=True)
        ]
    ).rstrip()
