"""`ctwatch history`, `diff` and `show`, and a trial's story from real shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import load_fixture, run_cli, write_config
from tests.support.histories import SampleHistory, seed_history, shared_history
from watcher.testing.registry_double import RegistryDouble

NCT = "NCT06850103"
ACTT = "NCT09000101"


@pytest.fixture
def backfilled(tmp_path: Path, registry: RegistryDouble) -> Path:
    """The seed trial: a baseline, then its registry history imported (versions 1-4)."""
    sample = seed_history()
    registry.put(sample.current)
    registry.history.set(NCT, sample.versions)
    config = write_config(tmp_path, registry.url, [NCT])
    assert run_cli(config, "check").exit_code == 0
    assert run_cli(config, "backfill", NCT).exit_code == 0
    return config


def test_history_lists_numbers_registry_versions_dates_sources_and_changes(
    backfilled: Path,
) -> None:
    text = run_cli(backfilled, "history", NCT).stdout
    header, *blocks = text.split("\n", 1)[0], *text.split("\n", 1)[1].split("\n\n")
    assert header.endswith("· 4 versions, newest first")
    assert (
        blocks[0].splitlines()[0] == "#1 · registry version 4 · 2025-11-30 · Recruiting · observed"
    )
    assert (
        "first seen by ctwatch (the changes above since the last imported version)" in (blocks[0])
    )
    assert "Eligibility" not in blocks[0]  # HTML then, Markdown now: not a change
    assert blocks[1].splitlines()[:5] == [  # the version's events above its changes
        "r3 · 2025-06-02 · Recruiting · imported",
        "  high: Primary completion date moved later by 184 days (2027-06 → 2027-12, "
        "about 6 months); 1st slip.",
        "  low: Enrollment target raised from 60 to 80 (+33.3 %).",
        "  Status Verified Date: 2025-03 → 2025-06",
        "  Primary Completion Date: 2027-06 → 2027-12",
    ]
    assert blocks[3].rstrip("\n").splitlines() == [
        "r1 · 2025-02-20 · Not yet recruiting · imported",
        "  the registry's first version",
    ]
    oldest = run_cli(backfilled, "history", NCT, "--oldest-first").stdout
    assert oldest.splitlines()[0].endswith("oldest first") and oldest.splitlines()[1].startswith(
        "r1 · "
    )


def test_history_json(backfilled: Path) -> None:
    versions = json.loads(run_cli(backfilled, "history", NCT, "--json").stdout)
    assert [v["number"] for v in versions] == [1, None, None, None]
    assert [v["ref"] for v in versions] == ["#1", "r3", "r2", "r1"]
    newest = versions[0]
    assert {k: newest[k] for k in ("registry_version", "date", "source", "overall_status")} == {
        "registry_version": 4,
        "date": "2025-11-30",
        "source": "observed",
        "overall_status": "RECRUITING",
    }
    assert [v["baseline"] for v in versions] == [False, False, False, True]
    (enrollment,) = [c for c in versions[1]["changes"] if c["label"] == "Enrollment"]
    assert enrollment == {
        "path": "protocolSection.designModule.enrollmentInfo.count",
        "label": "Enrollment",
        "kind": "changed",
        "old": 60,
        "new": 80,
    }


@pytest.mark.parametrize("name", ["PrimaryCompletionDate", "primary completion date"])
def test_field_timeline_by_piece_name_or_label(backfilled: Path, name: str) -> None:
    result = run_cli(backfilled, "history", NCT, "--field", name, "--oldest-first")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "r1 · 2025-02-20 · Not yet recruiting · imported · "
        "Primary Completion Date: 2027-06 (estimated) (first version)",
        "r3 · 2025-06-02 · Recruiting · imported · Primary Completion Date: 2027-06 → 2027-12",
    ]
    data = json.loads(run_cli(backfilled, "history", NCT, "--field", name, "--json").stdout)
    assert data["first"]["value"] == {"date": "2027-06", "type": "ESTIMATED"}
    assert [c["registry_version"] for c in data["changes"]] == [3]


def test_unknown_field_and_trial(backfilled: Path) -> None:
    bad = run_cli(backfilled, "history", NCT, "--field", "Colour")
    assert (
        bad.exit_code == 2 and "--field: 'Colour' is not a ClinicalTrials.gov field" in bad.stderr
    )
    missing = run_cli(backfilled, "history", "NCT00000001")
    assert missing.exit_code == 1 and "ctwatch backfill NCT00000001" in missing.stderr


def test_diff_between_registry_versions_in_alert_words(backfilled: Path) -> None:
    result = run_cli(backfilled, "diff", NCT, "r1", "latest")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[:2] == [
        "r1 · 2025-02-20 · Not yet recruiting · imported",
        "  → #1 · registry version 4 · 2025-11-30 · Recruiting · observed",
    ]
    assert "  Overall Status: Not yet recruiting → Recruiting" in lines
    assert "  Enrollment: 60 → 80" in lines
    url = f"https://clinicaltrials.gov/study/{NCT}?tab=history&a=1&b=4#version-content-panel"
    assert lines[-1] == f"  {url}"
    assert not any("Eligibility" in line for line in lines)  # HTML then, Markdown now
    data = json.loads(run_cli(backfilled, "diff", NCT, "--registry", "2", "3", "--json").stdout)
    assert data["from"] == {"ref": "r2", "number": None, "registry_version": 2,
                            "date": "2025-03-10", "source": "imported"}  # fmt: skip
    assert data == json.loads(run_cli(backfilled, "diff", NCT, "r2", "r3", "--json").stdout)
    assert data["url"].endswith("&a=2&b=3#version-content-panel")
    assert {c["label"] for c in data["changes"]} >= {"Primary Completion Date", "Enrollment"}
    same = run_cli(backfilled, "diff", NCT, "1", "latest")
    assert "  no field changed\n" in same.stdout


def test_diff_and_show_refuse_unknown_versions(backfilled: Path) -> None:
    for args in (("diff", NCT, "--registry", "9", "latest"), ("show", NCT, "--registry", "9")):
        result = run_cli(backfilled, *args)
        assert result.exit_code == 2
        assert "no stored version has registry number 9 (registry versions stored: 1–4;" in (
            result.stderr
        )
    for args in (("diff", NCT, "9", "latest"), ("show", NCT, "--version", "#9")):
        result = run_cli(backfilled, *args)
        assert result.exit_code == 2
        assert f"{NCT}: no version #9 (versions: r1, r2, r3, #1)" in result.stderr
    hinted = run_cli(backfilled, "diff", NCT, "3", "latest")
    assert "registry version 3 is stored: --registry 3 or r3" in hinted.stderr
    assert run_cli(backfilled, "diff", NCT, "one", "2").exit_code == 2


def test_show_prints_a_stored_version(backfilled: Path) -> None:
    first = json.loads(run_cli(backfilled, "show", NCT, "--version", "r1").stdout)
    assert first == json.loads(run_cli(backfilled, "show", NCT, "--registry", "1").stdout)
    status = first["protocolSection"]["statusModule"]
    assert status["overallStatus"] == "NOT_YET_RECRUITING"
    criteria = first["protocolSection"]["eligibilityModule"]["eligibilityCriteria"]
    assert criteria.startswith("<p>Inclusion Criteria:</p><ul><li>Age &gt;= 18")  # as imported
    latest = json.loads(run_cli(backfilled, "show", NCT).stdout)
    assert latest["protocolSection"]["statusModule"]["lastUpdateSubmitDate"] == "2025-11-30"
    assert "derivedSection" not in latest


# ---- real shapes: a version 0 and a version list (synthetic), real patches ---------------


def actt_history() -> SampleHistory:
    """A trial over ten versions with its list's statuses, labels and rhythm, real patches."""
    patches: dict[int, list[dict[str, Any]]] = {}
    for version, name in (
        (1, "trialdiff.evt_NCT01441947_v7_v8_f7b4655e907f.json"),
        (5, "trialdiff.evt_NCT02942355_v2_v3_8e3bd031cc15.json"),
        (7, "trialdiff.evt_NCT01441947_v9_v10_9d5358cb53af.json"),
        (9, "trialdiff.evt_NCT02546232_v5_v6_f2311ad49264.json"),
    ):
        patches[version] = load_fixture("history", name)["patch"]
    return shared_history(
        load_fixture("synthetic", "NCT09000101.history-v0.json"),
        load_fixture("synthetic", "NCT09000101.int-history.json"),
        patches,
    )


def test_the_story_of_a_trial_from_its_first_version(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = actt_history()
    listed = load_fixture("synthetic", "NCT09000101.int-history.json")
    extra = {k: v for k, v in listed.items() if k != "changes"}  # originalData & co., as served
    registry.put(sample.current)
    registry.history.set(ACTT, sample.versions, extra)
    config = write_config(tmp_path, registry.url, [ACTT])
    result = run_cli(config, "backfill", ACTT)
    assert result.stdout == f"{ACTT}: 10 registry versions imported (1–10)\n"
    story = run_cli(config, "history", ACTT, "--field", "OverallStatus", "--oldest-first")
    assert [line.split(" · ")[-1] for line in story.stdout.splitlines()[1:]] == [
        "Overall Status: Not yet recruiting (first version)",
        "Overall Status: Not yet recruiting → Recruiting",
        "Overall Status: Recruiting → Active, not recruiting",
        "Overall Status: Active, not recruiting → Completed",
    ]
    assert story.stdout.splitlines()[1].startswith("r1 · 2021-05-11 ·")
    # the first check: a silent baseline, and no change against the registry's HTML copy
    assert "new 1" in run_cli(config, "check").stdout
    newest = json.loads(run_cli(config, "history", ACTT, "--json").stdout)[0]
    assert (newest["source"], newest["registry_version"], newest["changes"]) == (
        "observed",
        10,
        [],
    )


def test_the_seam_after_a_real_baseline_records_only_real_changes(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    sample = actt_history()
    registry.put(sample.current)
    registry.history.set(ACTT, sample.versions)
    config = write_config(tmp_path, registry.url, [ACTT])
    run_cli(config, "check")
    assert run_cli(config, "backfill", ACTT).stdout.startswith(
        f"{ACTT}: 9 registry versions imported (1–9); ctwatch's own version numbered 10"
    )
    seam = json.loads(run_cli(config, "history", ACTT, "--json").stdout)[0]
    labels = [c["label"] for c in seam["changes"]]
    # version 10's real patch (NCT02546232 v5->v6) and the dates: nothing from markup
    assert labels == [
        "Overall Status",
        "Status Verified Date",
        "Primary Completion Date",
        "Primary Completion Date › Type",
        "Last Update Submitted",
        "Last Update Posted",
    ]
