"""Cutting text to fit, and making it safe to print: one rule for each.

Slack sections, email subjects, stored gists, list-item keys and table cells
all have limits. Cutting always ends in "…" so a reader knows something was
left out, and white space is folded where a value must stay on one line.

Registry records and servers' error messages are other people's text, and a
terminal obeys control characters: ``ESC [2J`` clears the screen, ``ESC ]0;``
retitles the window, a carriage return overwrites a line. Whatever a human
reads on a terminal goes through :func:`terminal_safe`.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"

# C0 controls but tab and newline, DEL, C1 controls (0x9B is a one-byte CSI), and the
# explicit bidirectional embeddings, overrides and isolates, which can make a line read
# backwards (implicit right-to-left text needs none of them)
_BIDI = (*range(0x202A, 0x202F), *range(0x2066, 0x206A))
_CONTROLS = {
    c: None for c in (*range(0x20), 0x7F, *range(0x80, 0xA0), *_BIDI) if chr(c) not in "\t\n"
}
_UNSAFE = re.compile("[" + "".join(re.escape(chr(c)) for c in _CONTROLS) + "]")
"""Any of ``_CONTROLS``: a search is far cheaper than ``translate`` on clean text."""


def truncate(text: str, limit: int) -> str:
    """At most ``limit`` characters, ending in "…" when cut."""
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ELLIPSIS[:limit]
    return text[: limit - 1].rstrip() + ELLIPSIS


def one_line(text: str, limit: int) -> str:
    """White space folded to single spaces, then :func:`truncate`."""
    return truncate(" ".join(text.split()), limit)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``1 change``, ``3 changes``, ``2 watches``: a count with its noun, plural when it is
    not one (``plural`` for the irregular ones: ``counted(n, "entry", "entries")``)."""
    if count == 1:
        return f"{count} {noun}"
    if plural is None:
        plural = noun + ("es" if noun.endswith(("ch", "sh", "s", "x")) else "s")
    return f"{count} {plural}"


def is_terminal_safe(text: str) -> bool:
    """True when :func:`terminal_safe` would leave ``text`` as it is."""
    return _UNSAFE.search(text) is None


def terminal_safe(text: str) -> str:
    """``text`` without control characters (tab and newline stay): nothing in a trial's
    title or a server's answer can move the cursor, recolour, retitle or clear a
    terminal."""
    if _UNSAFE.search(text) is None:  # the usual case (a status table prints millions)
        return text
    return text.translate(_CONTROLS)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> str:
    """A CSV cell a spreadsheet shows as text: record text such as ``=HYPERLINK(…)`` is
    prefixed with ``'`` so opening the export never runs it (the web UI's CSV does the same)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text
