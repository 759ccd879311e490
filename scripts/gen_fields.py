"""Regenerate watcher/data/fields.json from the registry's field metadata.

The table maps every ClinicalTrials.gov piece name (as the API's ``fields``
parameter takes it) to its dotted JSON path, its data type and whether it is an
enum. ctwatch needs it at run time to validate ``fields`` filters and to render
enum values, so it is generated once from ``GET /api/v2/studies/metadata`` and
committed. Usage::

    python scripts/gen_fields.py ../shared/ctgov/spec/studies-metadata.aact.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "watcher" / "core" / "data" / "fields.json"


def walk(node: dict[str, Any], prefix: list[str], out: dict[str, list[Any]]) -> None:
    path = [*prefix, node["name"]]
    out[node["piece"]] = [".".join(path), node.get("type", ""), bool(node.get("isEnum"))]
    for child in node.get("children", []):
        walk(child, path, out)


def main(source: str) -> None:
    tree = json.loads(Path(source).read_text(encoding="utf-8"))
    out: dict[str, list[Any]] = {}
    for node in tree:
        walk(node, [], out)
    lines = [f"{json.dumps(k)}: {json.dumps(v)}" for k, v in sorted(out.items())]
    OUT.write_text("{\n" + ",\n".join(lines) + "\n}\n", encoding="utf-8")
    print(f"wrote {len(out)} pieces to {OUT}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/ctgov/spec/studies-metadata.aact.json")
