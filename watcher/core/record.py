"""Reading a study record: the few fields every layer needs, defensively.

Why one module: the registry client keys results by NCT ID and aliases, the
planner reads the last-update date, the store keeps title and status, the
slash commands show them. Records come from outside and may lack any part or
carry the wrong type there, so each accessor tolerates anything and returns
``None`` (or empty) rather than raising.
"""

from __future__ import annotations

from typing import Any


def dig(record: Any, *keys: str) -> Any:
    """``record[k1][k2]…`` or None when any step is missing or not an object."""
    value = record
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def nct_id(record: Any) -> str | None:
    """The canonical NCT ID a record carries, if any."""
    return _text(dig(record, "protocolSection", "identificationModule", "nctId"))


def aliases(record: Any) -> list[str]:
    """Older NCT IDs that the registry merged into this record."""
    value = dig(record, "protocolSection", "identificationModule", "nctIdAliases")
    return [a for a in value if isinstance(a, str)] if isinstance(value, list) else []


def title(record: Any) -> str:
    """Brief title, falling back to the official title ("" when neither)."""
    ident = dig(record, "protocolSection", "identificationModule")
    if not isinstance(ident, dict):
        return ""
    return _text(ident.get("briefTitle")) or _text(ident.get("officialTitle")) or ""


def overall_status(record: Any) -> str | None:
    """``statusModule.overallStatus`` as the registry codes it (``RECRUITING``)."""
    return _text(dig(record, "protocolSection", "statusModule", "overallStatus"))


def last_update_posted(record: Any) -> str | None:
    """``lastUpdatePostDateStruct.date`` as the registry writes it."""
    return _text(dig(record, "protocolSection", "statusModule", "lastUpdatePostDateStruct", "date"))


def last_update_submitted(record: Any) -> str | None:
    """``lastUpdateSubmitDate``: the submission date the registry's version list shows."""
    return _text(dig(record, "protocolSection", "statusModule", "lastUpdateSubmitDate"))


def first_posted(record: Any) -> str | None:
    """``studyFirstPostDateStruct.date``: when the registry first showed the trial."""
    return _text(dig(record, "protocolSection", "statusModule", "studyFirstPostDateStruct", "date"))
