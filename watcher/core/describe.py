"""Words for people: field labels and readable values.

Why a module of its own: the diff, the store and every notifier need the same
wording ("Overall Status: Recruiting → Active, not recruiting"), and the
registry's own spellings (``ACTIVE_NOT_RECRUITING``, ``lastUpdatePostDateStruct``)
are not fit to send to a coordinator. Everything here is pure.
"""

from __future__ import annotations

import json
import re
from typing import Any

from watcher.core.fields import field_table
from watcher.core.richtext import readable
from watcher.core.text import counted, one_line

# Labels the registry's website uses, keyed by schema path (list keys stripped).
_LABELS = {
    "protocolSection.statusModule.overallStatus": "Overall Status",
    "protocolSection.statusModule.lastKnownStatus": "Last Known Status",
    "protocolSection.statusModule.statusVerifiedDate": "Status Verified Date",
    "protocolSection.statusModule.whyStopped": "Why Stopped",
    "protocolSection.statusModule.lastUpdatePostDateStruct.date": "Last Update Posted",
    "protocolSection.statusModule.lastUpdatePostDateStruct.type": "Last Update Posted Type",
    "protocolSection.statusModule.lastUpdateSubmitDate": "Last Update Submitted",
    "protocolSection.statusModule.studyFirstSubmitDate": "First Submitted",
    "protocolSection.statusModule.studyFirstSubmitQcDate": "First Submitted that Met QC Criteria",
    "protocolSection.statusModule.studyFirstPostDateStruct.date": "First Posted",
    "protocolSection.statusModule.resultsFirstPostDateStruct.date": "Results First Posted",
    "protocolSection.statusModule.resultsFirstSubmitDate": "Results First Submitted",
    "protocolSection.designModule.enrollmentInfo.count": "Enrollment",
    "protocolSection.designModule.enrollmentInfo.type": "Enrollment Type",
    "protocolSection.designModule.phases": "Phases",
    "protocolSection.identificationModule.briefTitle": "Brief Title",
    "protocolSection.identificationModule.officialTitle": "Official Title",
    "protocolSection.sponsorCollaboratorsModule.leadSponsor.name": "Lead Sponsor",
    "hasResults": "Has Results",
    "resultsSection": "Results",
    "documentSection": "Documents",
    "annotationSection": "Annotations",
}

_ACRONYMS = {
    "Nct": "NCT",
    "Fda": "FDA",
    "Ipd": "IPD",
    "Dmc": "DMC",
    "Us": "US",
    "Qc": "QC",
    "Url": "URL",
    "Ppsd": "PPSD",
    "Id": "ID",
    "Ids": "IDs",
    "Pmid": "PMID",
    "Sap": "SAP",
    "Icf": "ICF",
    "Fdaaa801": "FDAAA 801",
}

# The registry's own display text for statuses (website wording).
_STATUS = {
    "ACTIVE_NOT_RECRUITING": "Active, not recruiting",
    "COMPLETED": "Completed",
    "ENROLLING_BY_INVITATION": "Enrolling by invitation",
    "NOT_YET_RECRUITING": "Not yet recruiting",
    "RECRUITING": "Recruiting",
    "SUSPENDED": "Suspended",
    "TERMINATED": "Terminated",
    "WITHDRAWN": "Withdrawn",
    "AVAILABLE": "Available",
    "NO_LONGER_AVAILABLE": "No longer available",
    "TEMPORARILY_NOT_AVAILABLE": "Temporarily not available",
    "APPROVED_FOR_MARKETING": "Approved for marketing",
    "WITHHELD": "Withheld",
    "UNKNOWN": "Unknown status",
}
_PHASE = {
    "NA": "Not Applicable",
    "EARLY_PHASE1": "Early Phase 1",
    "PHASE1": "Phase 1",
    "PHASE2": "Phase 2",
    "PHASE3": "Phase 3",
    "PHASE4": "Phase 4",
}
_ENUM_TABLES = {"Status": _STATUS, "RecruitmentStatus": _STATUS, "Phase": _PHASE}
_ITEM_RE = re.compile(r"\[[^\]]*\]")
_WORD_RE = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")

TEXT_LIMIT = 300
NONE = "(none)"
STATUS_PATH = "protocolSection.statusModule.overallStatus"


def status_words() -> dict[str, str]:
    """Every overall-status code with its words as the website writes them."""
    return dict(_STATUS)


def schema_path(path: str) -> str:
    """A change path with list-item keys removed: ``a.locs[X].b`` -> ``a.locs.b``."""
    return _ITEM_RE.sub("", path) if "[" in path else path


def humanise(name: str) -> str:
    """``lastUpdatePostDateStruct`` -> ``Last Update Post Date``; acronyms kept."""
    name = name.removesuffix("Struct")
    words = [w.capitalize() for w in _WORD_RE.findall(name)]
    return " ".join(_ACRONYMS.get(w, w) for w in words) or name


def label_for(segments: list[tuple[str, bool]]) -> str:
    """A label from path segments ``(text, is_item_key)``.

    The section and module levels are dropped ("Overall Status", not "Protocol
    Section › Status Module › Overall Status"), a ``date`` leaf under a date
    struct merges into its parent ("Start Date"), and list items show their key.
    """
    schema = ".".join(text for text, is_key in segments if not is_key)
    if schema in _LABELS and not any(is_key for _, is_key in segments):
        return _LABELS[schema]
    parts: list[str] = []
    previous = ""
    for index, (text, is_key) in enumerate(segments):
        if is_key:
            parts.append(text)
            continue
        last = index == len(segments) - 1
        skip_level = text == "protocolSection" or text.endswith(("Section", "Module"))
        merged_date = text == "date" and previous.endswith("DateStruct")
        previous = text
        if (skip_level and not last) or merged_date:
            continue
        parts.append(humanise(text))
    return " › ".join(parts) if parts else "Record"


def enum_text(path: str, value: str) -> str:
    """Registry enum codes as the website writes them ("Active, not recruiting")."""
    enum = field_table().enum_type(schema_path(path))
    if enum is None:
        return value
    table = _ENUM_TABLES.get(enum)
    if table and value in table:
        return table[value]
    return value.replace("_", " ").capitalize()


def display_value(path: str, value: Any, limit: int = TEXT_LIMIT) -> str:
    """One short line for any value: enums read naturally, big values summarised."""
    if value is None:
        return NONE
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return one_line(enum_text(path, readable(value)), limit)
    if isinstance(value, list):
        if all(isinstance(v, str | int | float) for v in value):
            return one_line(", ".join(display_value(path, v, limit) for v in value), limit)
        return counted(len(value), "item")
    if isinstance(value, dict):
        return one_line(readable(summarise_dict(value)), limit)
    return one_line(str(value), limit)


_DICT_KEYS = ("facility", "name", "label", "measure", "title", "term", "id", "citation")


def summarise_dict(value: dict[str, Any]) -> str:
    """A one-line gist of a structure: its name-like field, or its size."""
    if "facility" in value:
        bits = [value.get("facility"), value.get("city"), value.get("country")]
        return ", ".join(str(b) for b in bits if b)
    for key in _DICT_KEYS:
        if isinstance(value.get(key), str | int):
            return str(value[key])
    if "date" in value and isinstance(value["date"], str):
        kind = value.get("type")
        return f"{value['date']} ({str(kind).lower()})" if kind else value["date"]
    count = len(value)
    return counted(count, "field")


MAX_STORED_VALUE = 16_384


def stored_json(path: str, value: Any) -> str | None:
    """JSON for a change value as stored; huge values (a whole results section) become a gist.

    The full data is in the version body; repeating it per change would double
    the database for nothing, and no renderer shows more than the gist.
    """
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    if len(text) <= MAX_STORED_VALUE:
        return text
    gist = f"{display_value(path, value)} ({len(text) // 1024} KB; see the stored version)"
    return json.dumps(gist, ensure_ascii=False)
