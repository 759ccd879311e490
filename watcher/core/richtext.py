"""Rich text compared by what it says, not how it is marked up.

Why: the registry serves one text two ways. The API v2's current record is
Markdown or plain text (``* item``, ``\\>= 18``), while the history endpoints
serve every version, the newest included, as HTML (``<p>…</p>``,
``<ol><li>…</li></ol>``, entities such as ``&#x2F;`` and ``&gt;``). A version
imported from the history next to one ctwatch observed would otherwise differ
in every paragraph, and a person reading "Eligibility Criteria changed" would
find nothing changed. So two strings are the same text when their words and
punctuation are the same, whatever the tags, entities, Markdown list markers,
emphasis marks, escapes and white space around them.

Only real HTML tags are recognised (a known tag name right after ``<``), so
"age <18 and >65" keeps its words, and an escaped Markdown ``\\<`` is never
read as a tag.
"""

from __future__ import annotations

import html
import re
from typing import Any

_TAG = re.compile(
    r"(?<!\\)</?(?:p|br|ul|ol|li|b|i|em|strong|u|s|sub|sup|mark|span|div|a|h[1-6]|pre|code"
    r"|blockquote|table|thead|tbody|tr|td|th|hr|dl|dt|dd)\b[^<>]*>",
    re.IGNORECASE,
)
_LIST_MARKER = re.compile(r"^[ \t]*(?:[*+-]|\d{1,3}[.)])[ \t]+", re.MULTILINE)
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^~|=])")
# words (letters and digits) and single punctuation marks; formatting marks dropped
_TOKEN = re.compile(r"[^\W_]+|[^\w\s*#]")
_ENTITY = re.compile(r"&(?:#\d+|#[xX][0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]{1,31});")


def looks_marked_up(text: str) -> bool:
    """Whether ``text`` carries HTML tags or entities (a historic version's text)."""
    return bool(_TAG.search(text) or _ENTITY.search(text))


def text_content(text: str) -> str:
    """The words and punctuation of ``text``, one space apart: markup-free, for comparing."""
    without_tags = _TAG.sub("\n", text)
    unescaped = html.unescape(without_tags)
    unmarked = _LIST_MARKER.sub("", unescaped)
    plain = _ESCAPE.sub(r"\1", unmarked)
    return " ".join(_TOKEN.findall(plain))


def same_text(old: str, new: str) -> bool:
    """Whether two strings say the same thing (equal, or equal once markup is set aside)."""
    return old == new or text_content(old) == text_content(new)


def same_value(old: Any, new: Any) -> bool:
    """Equality for record values where strings compare by their text content."""
    if isinstance(old, str) and isinstance(new, str):
        return same_text(old, new)
    return bool(old == new) and type(old) is type(new)


def readable(text: str) -> str:
    """HTML text as a person reads it: tags become line breaks, entities characters.

    Text without markup is returned unchanged, so Markdown and plain text are
    shown exactly as the registry wrote them.
    """
    if not looks_marked_up(text):
        return text
    return html.unescape(_TAG.sub("\n", text)).strip()


def key_text(text: str) -> str:
    """An identity key (a facility, a measure) without markup: ``Mary&#x27;s`` → ``Mary's``."""
    return " ".join(readable(text).split()) if looks_marked_up(text) else text
