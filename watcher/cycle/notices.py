"""Telling people about trouble with the watching itself, once, and about its end.

Why: a monitor that goes quiet because it cannot read the registry looks
exactly like a monitor with nothing to say. After ``trouble_after``
consecutive failed cycles every destination hears that checks are failing
(once), and once more when they work again. A watched trial that vanishes
from the registry (withdrawn from view, merged into another record) is told
to its own destinations at once, and again if it returns. A trial that
cannot be checked (an odd record, a stale copy served again and again) is
told to its destinations after ``trouble_after`` failures in a row: the other
trials' cycles complete, so nothing else would ever say so; a search that
cannot be checked likewise, to the search's destinations. The words live
here; the store makes sure each is queued once.
"""

from __future__ import annotations

from collections.abc import Iterable

from watcher.core.destination import Destination
from watcher.store import OutboxRow

REGISTRY = "registry"


def gone_key(nct_id: str) -> str:
    return f"gone:{nct_id}"


def failing_key(nct_id: str) -> str:
    return f"failing:{nct_id}"


def search_failing_key(name: str) -> str:
    return f"search:{name}"


def _rows(
    destinations: Iterable[Destination], headline: str, body: str, nct_id: str | None = None
) -> list[OutboxRow]:
    payload = {"headline": headline, "body": body}
    unique = dict.fromkeys(destinations)
    return [OutboxRow(d, kind="notice", payload=payload, nct_id=nct_id) for d in unique]


def checks_failing(
    destinations: Iterable[Destination], failures: int, since: str, error: str
) -> list[OutboxRow]:
    return _rows(
        destinations,
        "checks are failing",
        f"The last {failures} checks could not be completed (failing since {since}): {error}. "
        "ctwatch keeps trying; changes made meanwhile are reported once checks succeed, "
        "and you will hear when they do.",
    )


def checks_recovered(destinations: Iterable[Destination], since: str) -> list[OutboxRow]:
    return _rows(
        destinations,
        "checks work again",
        f"ctwatch completed a check again; the failures began {since}. "
        "Any change made meanwhile is reported as usual.",
    )


def trial_gone(destinations: Iterable[Destination], nct_id: str, day: str) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"{nct_id} is no longer in the registry",
        f"ClinicalTrials.gov did not return {nct_id} on {day}. It may have been withdrawn "
        "from public view or merged into another record. ctwatch keeps looking and will "
        "tell you if it comes back.",
        nct_id,
    )


def trial_back(destinations: Iterable[Destination], nct_id: str) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"{nct_id} is back in the registry",
        f"ClinicalTrials.gov returns {nct_id} again; changes are alerted as before.",
        nct_id,
    )


def trial_failing(
    destinations: Iterable[Destination], nct_id: str, failures: int, error: str
) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"{nct_id} cannot be checked",
        f"The last {failures} checks of {nct_id} failed: {error}. The other trials are "
        "checked as usual; ctwatch keeps trying this one and will tell you when it works.",
        nct_id,
    )


def trial_checked_again(destinations: Iterable[Destination], nct_id: str) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"{nct_id} is checked again",
        f"ctwatch checked {nct_id} again; any change made meanwhile is alerted as usual.",
        nct_id,
    )


def search_renamed(
    destinations: Iterable[Destination], old: str, new: str, query: str
) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"search “{old}” is now called “{new}”",
        f"The config file now gives the name “{old}” to another search, so this channel's "
        f"search ({query}) is called “{new}” from now on. It is checked as before and "
        f"nothing was missed; unwatch it by its new name.",
    )


def search_failing(
    destinations: Iterable[Destination], name: str, failures: int, error: str
) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"search “{name}” cannot be checked",
        f"The last {failures} checks of the search “{name}” failed: {error}. Everything "
        "else is checked as usual; ctwatch keeps trying this search and will tell you when "
        "it works (a trial that entered or left it meanwhile is told then).",
    )


def search_checked_again(destinations: Iterable[Destination], name: str) -> list[OutboxRow]:
    return _rows(
        destinations,
        f"search “{name}” is checked again",
        f"ctwatch read the search “{name}” from the registry again and tells its news as usual.",
    )
