"""``ctwatch demo``: an offline tour in about ten seconds.

Why: a newcomer should see ctwatch work before creating any account or reaching
any network. The tour starts the project's registry double on 127.0.0.1 with a
few real-shaped trials (the seed trial NCT06850103 among them), records a silent
baseline, publishes realistic registry edits plus a data rebuild that is *not*
a change, checks again, and shows the alerts and the status table. Everything
lives in a temporary folder that is removed afterwards (``--keep DIR`` copies
the database and a config for it out first, to try ``status`` and ``history``).
"""

from __future__ import annotations

import shutil
import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click

from watcher.cli.main import main
from watcher.daemon.logs import setup_logging

if TYPE_CHECKING:  # the tour's doubles and the app load when the tour runs
    from watcher.alerts.delivery import DeliveryReport
    from watcher.cycle.report import CycleReport

BREAST = "NCT05180006"
BEFORE = "2025-12-02T09:00:06"  # the registry's dataTimestamp at the baseline
AFTER = "2026-01-16T09:00:06"  # ... after the refresh that publishes the edits
LUNG = "NCT06214793"
NEXT_STEPS = (
    "\nThat was all local. Next: `ctwatch init` writes a starter config, `ctwatch add "
    "NCT… --watch NAME` adds your trials, then `ctwatch check`; see docs/ for "
    "Slack, email and running as a service."
)


def demo_trials() -> list[dict[str, Any]]:
    """The starting records: the seed trial and two real-shaped others."""
    from watcher.testing.samples import make_study, seed_study

    breast = make_study(
        BREAST,
        "Impact of Neoadjuvant Immunotherapy in Early Stage Breast Cancer Before Standard Therapy",
        status="RECRUITING",
        last_update="2025-09-22",
        verified="2025-09",
        sites=2,
    )
    breast["protocolSection"]["designModule"]["enrollmentInfo"] = {
        "count": 185,
        "type": "ESTIMATED",
    }
    lung = make_study(
        LUNG,
        "Targeted Therapy Study in ROS1-positive Non-small Cell Lung Cancer (demo record)",
        status="RECRUITING",
        last_update="2025-10-06",
        verified="2025-10",
        sites=3,
    )
    return [seed_study(), breast, lung]


def demo_edits(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Registry edits of the kind coordinators watch for, plus rebuild noise."""
    from watcher.testing.samples import changed

    seed, breast, lung = trials
    seed_new = changed(
        seed,
        status="ACTIVE_NOT_RECRUITING",
        verified="2026-01",
        last_update="2026-01-15",
        version_holder="2026-01-16",
    )
    breast_new = changed(
        breast,
        status="TERMINATED",
        why_stopped="Abandon of the partner, ROCHE",
        verified="2026-01",
        last_update="2026-01-14",
        version_holder="2026-01-16",
    )
    breast_new["protocolSection"]["designModule"]["enrollmentInfo"] = {
        "count": 33,
        "type": "ACTUAL",
    }
    lung_new = changed(
        lung, verified="2026-01", last_update="2026-01-15", version_holder="2026-01-16"
    )
    return [seed_new, breast_new, lung_new]


def write_demo_config(folder: Path, url: str) -> Path:
    from watcher.testing.samples import SEED_NCT

    path = folder / "ctwatch.toml"
    path.write_text(
        f"""# written by `ctwatch demo`
[registry]
url = "{url}"
pace = 0

[database]
path = "ctwatch.db"

[[watch]]
name = "demo"
trials = ["{SEED_NCT}", "{BREAST}", "{LUNG}"]
""",
        encoding="utf-8",
    )
    return path


def run_demo(out: TextIO, pause: float = 1.5, keep: Path | None = None) -> None:
    """Run the tour, writing to ``out`` (a text stream); ``keep``: copy the database there."""
    from watcher.app import App
    from watcher.cli.output import summary_line
    from watcher.cli.status import StatusOptions, StatusWriter
    from watcher.config import load_config
    from watcher.testing.registry_double import RegistryDouble
    from watcher.testing.samples import SEED_NCT

    def say(text: str = "") -> None:
        out.write(text + "\n")
        out.flush()

    def show(result: tuple[CycleReport, DeliveryReport]) -> None:
        say(summary_line(*result))
        say(f"   (registry requests this check: {result[0].requests})")

    def wait() -> None:
        if pause > 0:
            time.sleep(pause)

    trials = demo_trials()
    double = RegistryDouble(trials, data_timestamp=BEFORE)
    with tempfile.TemporaryDirectory(prefix="ctwatch-demo-") as tmp, double as reg:
        config = load_config(write_demo_config(Path(tmp), reg.url), {})
        app = App.build(config, out=out)
        try:
            say(f"ctwatch demo: a local ClinicalTrials.gov double at {reg.url}")
            say(f"watching {', '.join(config.trials)}; database in {tmp}")
            wait()
            say("\n1. First check: every trial is recorded as a silent baseline.")
            show(app.check())
            wait()
            say(
                "\n2. The registry publishes updates: a status change, a termination with its"
                "\n   reason, a new verified date; and a data rebuild that changes nothing real."
            )
            for record in demo_edits(trials):
                reg.put(record)
            reg.set_data_timestamp(AFTER)
            wait()
            say("\n3. Second check: one block per changed trial, only the fields that moved.\n")
            show(app.check())
            wait()
            say("\n4. No new registry data: the version probe answers, nothing else is fetched.")
            show(app.check())
            wait()
            say("\n5. ctwatch status:")
            width = shutil.get_terminal_size((100, 24)).columns
            StatusWriter(app.store, config.trials, out).write(StatusOptions(width=width))
        finally:
            app.close()
        if keep is not None:
            kept = _keep(Path(tmp), keep)
            say(
                f"\nKept the demo's database and config in {kept}: try"
                f"\n  ctwatch --config {kept / 'ctwatch.toml'} status"
                f"\n  ctwatch --config {kept / 'ctwatch.toml'} history {SEED_NCT}"
            )
    say(NEXT_STEPS)


def _keep(tmp: Path, keep: Path) -> Path:
    """Copy the demo's database (checkpointed: one file) and a config for it into ``keep``."""
    keep.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(tmp / "ctwatch.db") as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    shutil.copyfile(tmp / "ctwatch.db", keep / "ctwatch.db")
    # the registry double is gone: point the kept config at the real registry
    text = (tmp / "ctwatch.toml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith(("url =", "pace ="))]
    (keep / "ctwatch.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return keep.resolve()


@main.command()
@click.option("--no-pause", is_flag=True, help="Skip the pauses between steps.")
@click.option(
    "--keep",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the demo's database (and a config for it) in DIR, to try status and history.",
)
def demo(no_pause: bool, keep: Path | None) -> None:
    """An offline tour: a local registry double, a baseline, changes, alerts, status.

    Nothing leaves 127.0.0.1 and nothing is kept, unless --keep DIR.

    \b
    Example:
      ctwatch demo --keep ./demo && ctwatch --config demo/ctwatch.toml status
    """
    setup_logging("warning")
    run_demo(sys.stdout, pause=0.0 if no_pause else 1.5, keep=keep)
