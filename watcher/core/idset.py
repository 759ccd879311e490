"""A set of NCT IDs held as sorted numbers: membership for a whole-registry watch list.

Why: a Python set or dict of 600,000 ID strings costs 17-21 MB on top of the strings
themselves, and the routes of a one-watch config need nothing but "is this trial in the
watch?". Every canonical ID is ``NCT`` and eight digits, so the set is the digits as
32-bit numbers, sorted: 2.3 MB, answered by bisection. Built lazily by its users, so an
idle cycle that asks nothing never pays for the sort.
"""

from __future__ import annotations

import bisect
from array import array
from collections.abc import Iterable


class NctIdSet:
    """Membership among canonical NCT IDs (``NCT`` + 8 digits, upper case); anything else
    is simply not a member. Immutable once made."""

    __slots__ = ("_numbers",)

    def __init__(self, ids: Iterable[str]) -> None:
        numbers = [n for n in map(number, ids) if n is not None]
        numbers.sort()
        self._numbers = array("I", numbers)

    def __contains__(self, nct_id: object) -> bool:
        value = number(nct_id)
        if value is None:
            return False
        at = bisect.bisect_left(self._numbers, value)
        return at < len(self._numbers) and self._numbers[at] == value


def number(nct_id: object) -> int | None:
    """The eight digits of a canonical NCT ID as a number, else None."""
    if (
        type(nct_id) is str
        and len(nct_id) == 11  # "NCT" and eight digits
        and nct_id.startswith("NCT")
        and nct_id[3:].isdigit()
        and nct_id[3:].isascii()
    ):
        return int(nct_id[3:])
    return None
