"""Atom 1.0 (RFC 4287) documents, built as XML trees - never by pasting strings.

Why not feedgen: its last release (1.0.0) is from December 2023 and it needs
lxml; an Atom feed is a dozen elements, and the standard library's
ElementTree escapes every text it writes. What no XML library does for us is
drop the characters XML 1.0 forbids (most control characters), which a
sponsor's record text can contain and which would make the whole feed
unparseable: :func:`xml_text` removes them from every text that goes in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

ATOM_NS = "http://www.w3.org/2005/Atom"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
_NOT_XML = re.compile("[^\x09\x0a\x0d\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("", text)


@dataclass(frozen=True)
class AtomEntry:
    """One entry: ``updated`` is an RFC 3339 time, ``html`` a serialised fragment."""

    id: str
    title: str
    updated: str
    link: str
    summary: str
    html: str
    categories: tuple[tuple[str, str], ...] = ()
    """``(term, label)`` pairs: one per event type (``status.changed``, its level)."""


@dataclass(frozen=True)
class AtomFeed:
    id: str
    title: str
    updated: str
    entries: Sequence[AtomEntry]
    author: str = "ctwatch"
    generator: str = "ctwatch"


def _child(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = xml_text(text)
    return element


def render(feed: AtomFeed) -> bytes:
    """The feed as UTF-8 XML with its declaration."""
    root = ET.Element("feed", {"xmlns": ATOM_NS})
    _child(root, "id", feed.id)
    _child(root, "title", feed.title)
    _child(root, "updated", feed.updated)
    _child(_child(root, "author"), "name", feed.author)
    _child(root, "generator", feed.generator)
    for entry in feed.entries:
        item = _child(root, "entry")
        _child(item, "id", entry.id)
        _child(item, "title", entry.title)
        _child(item, "updated", entry.updated)
        _child(item, "link", rel="alternate", type="text/html", href=entry.link)
        for term, label in entry.categories:
            _child(item, "category", term=term, label=label)
        _child(item, "summary", entry.summary, type="text")
        _child(item, "content", entry.html, type="html")
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document + b"\n"


def html_fragment(element: ET.Element) -> str:
    """An ElementTree fragment as HTML text (for ``<content type="html">``)."""
    for node in element.iter():
        if node.text is not None:
            node.text = xml_text(node.text)
        if node.tail is not None:
            node.tail = xml_text(node.tail)
    return ET.tostring(element, encoding="unicode", method="html")
