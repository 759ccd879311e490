"""The Digest value: headline counts and one entry per trial."""

from __future__ import annotations

from dataclasses import replace

from tests.support.alert_cases import status_change, termination
from watcher.core.digest import Digest, by_trial, digest_text
from watcher.core.render import Alert, Notice


def test_a_trial_that_changed_twice_is_one_entry_with_both_steps() -> None:
    first = replace(status_change(), compare=(3, 4))
    second = replace(termination(), nct_id=first.nct_id, compare=(4, 5))
    notice = Alert("", "ctwatch", (), notice=Notice("checks failing", "the registry is down"))
    merged = by_trial([first, notice, second])
    assert [a.nct_id for a in merged] == [first.nct_id, ""]
    assert merged[0].changes == first.changes + second.changes
    assert merged[0].compare == (3, 5)
    assert merged[1] is notice


def test_headline_counts_trials_notices_and_already_sent() -> None:
    alerts = (status_change(), replace(status_change(), nct_id="NCT01234567"))
    notice = Alert("", "ctwatch", (), notice=Notice("checks failing", "down"))
    digest = Digest((*alerts, notice), reason="digest", already_sent=(termination(),))
    assert (
        digest.headline == "ctwatch digest: 2 trials changed · 2 medium · 1 notice · 1 already sent"
    )
    assert Digest((), reason="digest").headline == "ctwatch digest: no changes"
    assert Digest(alerts).headline == "ctwatch: 2 trials changed"  # a busy cycle, as before
    text = digest_text(replace(digest, more_url="https://ctwatch.example.org/changes?x=1"))
    assert text.startswith("ctwatch digest: 2 trials changed")
    assert f"Already sent at once (urgent): {termination().nct_id}." in text
    assert text.rstrip().endswith("All changes: https://ctwatch.example.org/changes?x=1")
