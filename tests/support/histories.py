"""Registry histories for the double: hand-built ones, and ones built from real shapes.

Why here: the tests and the benchmark build hand-made histories, and richer ones
from the shapes in tests/fixtures/ctgov (a version 0 and a version list as the
history endpoints serve them, the real RFC 6902 patches) with the same builder.

The two text forms are the point. The history endpoints serve HTML
(``<p>…</p>``, ``<ul><li>…</li></ul>``, ``&#x2F;``, ``&gt;``) and the API v2 serves
Markdown (``* item``, ``1. item``, ``\\>=``): :func:`historic` turns a v2 record
into the history form and :func:`current` the other way, following what the
real records show.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from html.parser import HTMLParser
from typing import Any

from watcher.core import record as rec
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.registry_history import HistoricVersion
from watcher.testing.samples import SEED_NCT, changed, seed_study

_BULLET = re.compile(r"^\s*[*-]\s+(.*)$")
_NUMBERED = re.compile(r"^\s*\d{1,3}\.\s+(.*)$")
_MD_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!<>^~|=])")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", "/": "&#x2F;", "'": "&#x27;"}


# ---- RFC 6902 ------------------------------------------------------------------------


def _tokens(pointer: str) -> list[str]:
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer.split("/")[1:]]


def apply_patch(
    doc: dict[str, Any], patch: Sequence[Mapping[str, Any]], *, strict: bool = True
) -> dict[str, Any]:
    """A copy of ``doc`` with the ``add``/``remove``/``replace`` operations applied.

    ``strict=False`` skips an operation whose target the document lacks (a
    real patch of one trial applied to another trial's record).
    """
    out = copy.deepcopy(doc)
    for op in patch:
        try:
            _apply_one(out, op)
        except (KeyError, IndexError, ValueError, TypeError):
            if strict:
                raise
    return out


def _apply_one(doc: Any, op: Mapping[str, Any]) -> None:
    *parents, last = _tokens(str(op["path"]))
    target = doc
    for token in parents:
        target = target[int(token)] if isinstance(target, list) else target[token]
    kind, value = op["op"], copy.deepcopy(op.get("value"))
    if isinstance(target, list):
        index = len(target) if last == "-" else int(last)
        if kind == "add":
            target.insert(index, value)
        elif kind == "remove":
            del target[index]
        else:
            target[index] = value
    elif kind == "remove":
        del target[last]
    elif kind == "replace" and last not in target:
        raise KeyError(last)
    else:
        target[last] = value


# ---- Markdown -> the history endpoints' HTML ---------------------------------------------


def to_html(text: str) -> str:
    """Markdown or plain text as the history endpoints serve it.

    Plain text keeps its line breaks and gets entities (``&#x2F;``, ``&gt;``);
    text with lists or paragraphs gets ``<p>``, ``<ul>``/``<ol>`` and ``<li>``.
    """
    plain = _MD_ESCAPE.sub(r"\1", text)
    escaped = "".join(_ENTITIES.get(c, c) for c in plain)
    blocks = [b for b in re.split(r"\n\s*\n", escaped) if b.strip()]
    if len(blocks) <= 1 and not any(_list_item(line) for line in escaped.splitlines()):
        return escaped
    return "".join(_block(block) for block in blocks)


def _list_item(line: str) -> tuple[str, str] | None:
    for tag, pattern in (("ul", _BULLET), ("ol", _NUMBERED)):
        match = pattern.match(line)
        if match:
            return tag, match.group(1)
    return None


def _block(block: str) -> str:
    out, open_tag = [], None
    for line in block.splitlines():
        item = _list_item(line)
        if item is None:
            if open_tag:
                out.append(f"</{open_tag}>")
                open_tag = None
            out.append(f"<p>{line.strip()}</p>")
            continue
        if open_tag != item[0]:
            if open_tag:
                out.append(f"</{open_tag}>")
            out.append(f"<{item[0]}>")
            open_tag = item[0]
        out.append(f"<li>{item[1]}</li>")
    if open_tag:
        out.append(f"</{open_tag}>")
    return "".join(out)


# ---- the history endpoints' HTML -> Markdown (API v2) -----------------------------------


class _Markdown(HTMLParser):
    """HTML as the API v2 writes the same text: ``*``/``1.`` lists, ``\\>`` escapes."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.lists: list[list[int]] = []  # per open list: [is_ordered, next number]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("ul", "ol"):
            self.lists.append([tag == "ol", 1])
            self.parts.append("\n")
        elif tag == "li" and self.lists:
            ordered, number = self.lists[-1]
            marker = f"{number}. " if ordered else "* "
            self.lists[-1][1] += 1
            self.parts.append("\n" + "   " * (len(self.lists) - 1) + marker)
        elif tag == "p" and not self.lists:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        self.parts.append(data.replace("<", "\\<").replace(">", "\\>"))


def to_markdown(text: str) -> str:
    """The history endpoints' HTML as the API v2 serves the same text."""
    if "<" not in text and "&" not in text:
        return text
    parser = _Markdown()
    parser.feed(text)
    parser.close()
    joined = "".join(parser.parts)
    return re.sub(r"\n{3,}", "\n\n", joined).strip()


def _map_text(value: Any, convert: Any) -> Any:
    if isinstance(value, dict):
        return {k: _map_text(v, convert) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_text(v, convert) for v in value]
    if isinstance(value, str) and " " in value:  # free text, not codes, dates or IDs
        return convert(value)
    return value


def historic(study: Mapping[str, Any]) -> dict[str, Any]:
    """A v2 record as the history endpoints serve that version: HTML, no ``derivedSection``."""
    body = {k: v for k, v in study.items() if k != "derivedSection"}
    converted: dict[str, Any] = _map_text(body, to_html)
    return converted


def current(study: Mapping[str, Any], version_holder: str) -> dict[str, Any]:
    """A historic version as the API v2 serves it today: Markdown, with ``derivedSection``."""
    converted: dict[str, Any] = _map_text(dict(study), to_markdown)
    converted["derivedSection"] = {"miscInfoModule": {"versionHolder": version_holder}}
    return converted


# ---- building histories ---------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One registry version: its date and status, the modules it touched, the edits."""

    date: str
    status: str
    module_labels: tuple[str, ...] = ()
    patch: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class SampleHistory:
    """A trial's registry history and its current API v2 record (the last version)."""

    nct_id: str
    versions: tuple[HistoricVersion, ...]
    current: dict[str, Any]


def _bookkeeping(study: dict[str, Any], step: Step) -> dict[str, Any]:
    module = study["protocolSection"]["statusModule"]
    posted = (date.fromisoformat(step.date) + timedelta(days=1)).isoformat()
    module.update(
        overallStatus=step.status,
        statusVerifiedDate=step.date[:7],
        lastUpdateSubmitDate=step.date,
        lastUpdatePostDateStruct={"date": posted, "type": "ACTUAL"},
    )
    return study


def build_versions(
    first: dict[str, Any], steps: Sequence[Step], *, strict: bool = True
) -> list[dict[str, Any]]:
    """Each version's record: the previous one, the step's edits, then its dates and status."""
    records, record = [], first
    for step in steps:
        record = _bookkeeping(apply_patch(record, step.patch, strict=strict), step)
        records.append(record)
    return records


def seed_history(nct_id: str = SEED_NCT) -> SampleHistory:
    """A hand-built, four-version history of the seed trial (or a twin named ``nct_id``).

    1 not yet recruiting (60 participants, primary completion 2027-06); 2 recruiting;
    3 the primary completion date slips to 2027-12 and the target grows to 80; 4 the
    record the API v2 serves today (``current``, in Markdown; the versions are HTML).
    """
    start = seed_study()
    proto = start["protocolSection"]
    proto["identificationModule"]["nctId"] = nct_id
    proto["statusModule"]["primaryCompletionDateStruct"] = {"date": "2027-06", "type": "ESTIMATED"}
    proto["designModule"]["enrollmentInfo"] = {"count": 60, "type": "ESTIMATED"}
    proto["eligibilityModule"] = {
        "eligibilityCriteria": (
            "Inclusion Criteria:\n\n* Age \\>= 18 years\n* Rectal adenocarcinoma, "
            "pMMR/MSS\n\nExclusion Criteria:\n\n* Prior pelvic radiotherapy"
        )
    }
    slip = (
        {"op": "replace", "path": "/protocolSection/statusModule/primaryCompletionDateStruct/date",
         "value": "2027-12"},
        {"op": "replace", "path": "/protocolSection/designModule/enrollmentInfo/count",
         "value": 80},
    )  # fmt: skip
    steps = [
        Step("2025-02-20", "NOT_YET_RECRUITING"),
        Step("2025-03-10", "RECRUITING", ("Study Status",)),
        Step("2025-06-02", "RECRUITING", ("Study Status", "Study Design"), slip),
        Step("2025-11-30", "RECRUITING", ("Study Status",)),  # posted 2025-12-01
    ]
    records = build_versions(start, steps)
    versions = tuple(
        HistoricVersion(s.date, historic(r), s.status, s.module_labels)
        for s, r in zip(steps, records, strict=True)
    )
    today = {**records[-1], "derivedSection": {"miscInfoModule": {"versionHolder": "2025-12-01"}}}
    return SampleHistory(nct_id, versions, today)


def next_version(record: Mapping[str, Any], submitted: str, **edits: Any) -> dict[str, Any]:
    """The API v2 record of a trial's next version: ``edits`` (as :func:`samples.changed`
    takes them), submitted on ``submitted`` and posted the day after."""
    posted = (date.fromisoformat(submitted) + timedelta(days=1)).isoformat()
    out = changed(dict(record), last_update=posted, version_holder=posted, **edits)
    out["protocolSection"]["statusModule"]["lastUpdateSubmitDate"] = submitted
    return out


def publish(double: RegistryDouble, record: dict[str, Any], labels: Sequence[str] = ()) -> int:
    """Publish a new version the way the registry does: the API v2 record, and the
    history's HTML copy of it. Returns its website number."""
    double.put(record)
    module = record["protocolSection"]["statusModule"]
    version = HistoricVersion(
        module["lastUpdateSubmitDate"], historic(record), module.get("overallStatus"), tuple(labels)
    )
    return double.history.append(rec.nct_id(record) or "", version)


def shared_history(
    first: Mapping[str, Any],
    version_list: Mapping[str, Any],
    patches: Mapping[int, Sequence[Mapping[str, Any]]],
) -> SampleHistory:
    """A history built from real shapes: a real version 0, a real list's statuses, module
    labels and rhythm (its dates moved to start on version 0's date), real patches.

    ``first`` is a ``/history/{v}`` answer (``{studyVersion, study}``), ``version_list``
    a version list, ``patches`` maps a 0-based version to the RFC 6902 patch that
    leads to it; operations the record has no place for are skipped.
    """
    study = copy.deepcopy(dict(first["study"]))
    entries = list(version_list["changes"])
    start = date.fromisoformat(study["protocolSection"]["statusModule"]["lastUpdateSubmitDate"])
    shift = start - date.fromisoformat(entries[0]["date"])
    steps = [
        Step(
            (date.fromisoformat(e["date"]) + shift).isoformat(),
            e.get("status") or "RECRUITING",
            tuple(e.get("moduleLabels") or ()),
            tuple(patches.get(int(e["version"]), ())),
        )
        for e in entries
    ]
    records = build_versions(study, steps, strict=False)
    versions = tuple(
        HistoricVersion(s.date, r, s.status, s.module_labels)
        for s, r in zip(steps, records, strict=True)
    )
    nct = study["protocolSection"]["identificationModule"]["nctId"]
    return SampleHistory(nct, versions, current(records[-1], steps[-1].date))
