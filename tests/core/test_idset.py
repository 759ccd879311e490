"""``NctIdSet``: membership among canonical NCT IDs, as sorted numbers."""

from __future__ import annotations

from watcher.core.idset import NctIdSet, number


def test_members_are_the_canonical_ids_given_and_nothing_else() -> None:
    ids = ["NCT00000001", "NCT99999999", "NCT06850103", "NCT06850103", "nct00000002", "X"]
    members = NctIdSet(ids)
    for nct in ("NCT00000001", "NCT99999999", "NCT06850103"):
        assert nct in members
    for other in ("NCT00000002", "nct00000002", "NCT0000000", "NCT000000001", "X", "", None, 1,
                  "NCT0000000١", "NCT00000000", "NCT06850104", "NCT06850102"):  # fmt: skip
        assert other not in members, other
    assert "NCT00000000" not in NctIdSet([])


def test_number_reads_only_ascii_digits() -> None:
    assert number("NCT06850103") == 6850103
    assert number("NCT0685010٣") is None  # an Arabic-Indic digit is a digit to str.isdigit
    assert number("NCT-0685010") is None and number("ABC06850103") is None
