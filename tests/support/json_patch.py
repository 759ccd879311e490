"""A tiny RFC 6902 JSON Patch applier (add, remove, replace), and the base record a
TrialDiff evidence record's patch needs.

Why our own: the three operations the registry's ``patchToVersion`` uses take
thirty lines; the ``jsonpatch`` package would be a dependency for a test.

TrialDiff's evidence records carry the patch between two registry versions but
not the version it applies to. :func:`scaffold` builds the smallest record the
patch applies to: every path the patch replaces or removes exists, holding the
old value where TrialDiff's ``value_signals`` state it (dates, enrollment) and a
marked placeholder otherwise (an overall status of ``UNKNOWN``, a text that
says it is a placeholder). Rules that compare old with new then see exactly
the fields the patch changes.
"""

from __future__ import annotations

import copy
from typing import Any

PLACEHOLDER = "(earlier value not in the TrialDiff record)"


class PatchError(ValueError):
    """A patch operation that does not apply (RFC 6902 §5)."""


def _tokens(pointer: str) -> list[str]:
    if pointer == "":
        return []
    if not pointer.startswith("/"):
        raise PatchError(f"not a JSON pointer: {pointer!r}")
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")]


def _index(container: list[Any], token: str, *, adding: bool) -> int:
    if token == "-" and adding:
        return len(container)
    if not token.isdigit():
        raise PatchError(f"not an array index: {token!r}")
    index = int(token)
    if index > len(container) or (index == len(container) and not adding):
        raise PatchError(f"index {index} out of range")
    return index


def apply_patch(document: Any, patch: list[dict[str, Any]]) -> Any:
    """The document after ``patch`` (a new object; ``document`` is not changed)."""
    doc = copy.deepcopy(document)
    for op in patch:
        tokens = _tokens(op["path"])
        if not tokens:
            raise PatchError("whole-document operations are not used by the registry")
        parent: Any = doc
        for token in tokens[:-1]:
            parent = (
                parent[_index(parent, token, adding=False)]
                if isinstance(parent, list)
                else parent[token]
            )
        last, kind = tokens[-1], op["op"]
        if isinstance(parent, list):
            index = _index(parent, last, adding=kind == "add")
            if kind == "add":
                parent.insert(index, copy.deepcopy(op["value"]))
            elif kind == "remove":
                del parent[index]
            elif kind == "replace":
                parent[index] = copy.deepcopy(op["value"])
            else:
                raise PatchError(f"unsupported op {kind!r}")
        elif isinstance(parent, dict):
            if kind in ("remove", "replace") and last not in parent:
                raise PatchError(f"{op['path']} does not exist")
            if kind == "remove":
                del parent[last]
            elif kind in ("add", "replace"):
                parent[last] = copy.deepcopy(op["value"])
            else:
                raise PatchError(f"unsupported op {kind!r}")
        else:
            raise PatchError(f"{op['path']}: parent is not a container")
    return doc


def _item(list_name: str, index: int) -> Any:
    """A placeholder list item with the identity field the diff matches that list by."""
    keyed = {
        "locations": {"facility": f"Site {index + 1}", "city": "Boston",
                      "country": "United States"},
        "interventions": {"name": f"Intervention {index + 1}", "type": "DRUG"},
        "armGroups": {"label": f"Arm {index + 1}"},
        "primaryOutcomes": {"measure": f"Primary outcome {index + 1}"},
        "secondaryOutcomes": {"measure": f"Secondary outcome {index + 1}"},
    }  # fmt: skip
    if list_name in keyed:
        return keyed[list_name]
    if list_name in ("keywords", "conditions"):
        return f"keyword {index + 1}"
    return {"name": f"{list_name} {index + 1}"}


def _leaf(path: str, known: dict[str, Any]) -> Any:
    if path in known:
        return known[path]
    name = path.rsplit("/", 1)[-1]
    if name == "overallStatus":
        return "UNKNOWN"
    if name in ("contacts", "centralContacts"):
        return [{"name": "Earlier contact", "role": "CONTACT"}]
    if name == "status":
        return "RECRUITING"
    if name == "type":
        return "ESTIMATED"
    return PLACEHOLDER


def known_values(record: dict[str, Any]) -> dict[str, Any]:
    """Old values TrialDiff states in its ``value_signals`` (pointer -> value)."""
    known: dict[str, Any] = {}
    for signal in record["classification"].get("value_signals", []):
        path, old = signal.get("path"), signal.get("old_value")
        if not isinstance(path, str) or old is None:
            continue
        known[path] = old
        if "old_type" in signal and path.endswith("/date"):
            known[path[: -len("date")] + "type"] = signal["old_type"]
    return known


def scaffold(record: dict[str, Any]) -> dict[str, Any]:
    """The smallest base version ``record["patch"]`` applies to (see the module doc)."""
    known = known_values(record)
    base: dict[str, Any] = {}
    for op in record["patch"]:
        tokens = _tokens(op["path"])
        node: Any = base
        for depth, token in enumerate(tokens[:-1]):
            following = tokens[depth + 1]
            blank: Any = [] if following.isdigit() else {}
            if isinstance(node, list):
                index = int(token)
                while len(node) <= index:
                    node.append(_item(tokens[depth - 1], len(node)))
                node = node[index]
            else:
                node = node.setdefault(token, blank)
        last = tokens[-1]
        if isinstance(node, list):
            needed = int(last) + (0 if op["op"] == "add" else 1)
            while len(node) < needed:
                node.append(_item(tokens[-2], len(node)))
            if op["op"] != "add" and not isinstance(node[int(last)], dict | str):
                node[int(last)] = _leaf(op["path"], known)
        elif op["op"] in ("replace", "remove") and last not in node:
            node[last] = _leaf(op["path"], known)
    return base
