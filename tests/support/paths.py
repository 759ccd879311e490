"""Where the tests find the repository, their golden files and their fixtures.

One place, so a test file can move between packages without its paths breaking,
and so nothing reaches outside the clone (a plain ``git clone`` runs every test).
"""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent
GOLDEN = TESTS / "golden"
FIXTURES = TESTS / "fixtures"
CTGOV = FIXTURES / "ctgov"
