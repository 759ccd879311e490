"""The fixtures a plain clone needs are in it, each with its source and a licence that allows it."""

from __future__ import annotations

import csv
import re

from tests.support.paths import FIXTURES, REPO, TESTS

ALLOWED = ("MIT", "Apache-2.0", "data CC-BY-4.0")
COLUMNS = ["file", "repo", "path", "commit", "license", "note"]


def manifest() -> list[dict[str, str]]:
    with (FIXTURES / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert rows[0] == COLUMNS  # the columns of the MANIFEST the files were collected with
    return [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]


def test_every_fixture_has_one_manifest_row_and_every_row_a_file() -> None:
    listed = [row["file"] for row in manifest()]
    present = sorted(
        str(p.relative_to(FIXTURES))
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.name not in ("MANIFEST.tsv", "NOTICE")
    )
    assert sorted(listed) == present


def test_every_licence_allows_copying_and_synthetic_files_say_so() -> None:
    for row in manifest():
        assert row["license"].startswith(ALLOWED), row["file"]
        if row["repo"].startswith("(synthetic"):
            assert row["note"].startswith("synthetic"), row["file"]
    notice = (FIXTURES / "NOTICE").read_text(encoding="utf-8")
    for repo in {row["repo"] for row in manifest() if not row["repo"].startswith("(")}:
        assert repo in notice, repo  # every source is attributed


def test_no_test_reads_outside_the_clone() -> None:
    """The shared data folder next to the repository exists only in CI; a test that
    reads it skips (or fails) in a plain clone."""
    outside = "|".join([r"\.\./" + "shared", r"\"" + 'shared" / ', "shared/" + "ctgov"])
    offending = [
        str(path.relative_to(REPO))
        for path in sorted(TESTS.rglob("*.py"))
        if re.search(outside, path.read_text(encoding="utf-8"))
    ]
    assert offending == []
