"""Output that fits (issue 21.7): summaries wrap to the terminal, plurals are words,
"new" means one thing, no config says run init, feed without a database creates
nothing, the daemon logs its next check."""

from __future__ import annotations

import ast
import logging
import threading
from pathlib import Path

from tests.conftest import daemon_for, run_cli, write_config
from watcher.alerts.delivery import DeliveryReport
from watcher.cli.output import summary_line
from watcher.core.text import counted
from watcher.cycle.report import CycleReport
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import SEED_NCT, make_study, seed_study

ROOT = Path(__file__).resolve().parents[2]


def busy_report() -> CycleReport:
    report = CycleReport(checked=304, requests=3)
    report.changed = ["NCT06850103", "NCT05180006"]
    report.not_found = ["NCT00000001", "NCT00000002", "NCT00000003", "NCT00000004"]
    report.errors = {"NCT00000005": "HTTP 500"}
    report.searches = 2
    return report


def test_the_summary_fits_80_columns_on_a_terminal() -> None:
    delivery = DeliveryReport(sent=12, retrying=2, failed=1)
    text = summary_line(busy_report(), delivery, 80)
    assert len(text.splitlines()) > 1
    assert all(len(line) <= 80 for line in text.splitlines())
    assert "not found 4 (NCT00000001, NCT00000002, NCT00000003 +1 more)" in text
    piped = summary_line(busy_report(), delivery)  # cron mail, logs: one line to grep
    assert "\n" not in piped and piped.replace(" ·\n  ", " · ") == text.replace(" ·\n  ", " · ")


def test_new_means_first_seen_and_a_failed_cycle_never_says_errors_0() -> None:
    report = busy_report()
    text = summary_line(report, DeliveryReport())
    assert "newly posted" in text and " new, " not in text  # searches' own word
    failed = CycleReport(registry_down=True, registry_error="cannot reach the registry")
    assert "errors 0" not in summary_line(failed, DeliveryReport())
    assert "cycle failed" in summary_line(failed, DeliveryReport())


def test_plurals_are_words() -> None:
    assert [counted(1, "watch"), counted(2, "watch"), counted(2, "search")] == [
        "1 watch", "2 watches", "2 searches",
    ]  # fmt: skip
    assert counted(3, "entry", "entries") == "3 entries"
    found = []
    for path in sorted((ROOT / "watcher").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.replace("http(s)", "")
                if "(s)" in text or "(es)" in text:
                    found.append(f"{path.name}:{node.lineno}: {text.strip()[:60]}")
    assert found == []


def test_no_config_says_run_init(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = run_cli(missing, "status")
    assert result.exit_code == 2
    assert f"no config file at {missing}: run `ctwatch --config {missing} init`" in result.stderr


def test_feed_without_a_database_exits_1_and_creates_nothing(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config = write_config(tmp_path, registry.url, [SEED_NCT])
    result = run_cli(config, "feed", "all")
    assert result.exit_code == 1
    assert "no database yet" in result.stderr
    assert not (tmp_path / "ctwatch.db").exists()


class _Wait(logging.Handler):
    """Sets ``seen`` when the scheduler's thread logs the line a test waits for."""

    def __init__(self, prefix: str) -> None:
        super().__init__(logging.INFO)
        self.prefix = prefix
        self.seen = threading.Event()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith(self.prefix):
            self.lines.append(record.getMessage())
            self.seen.set()


def test_the_daemon_logs_when_the_next_check_is_due(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    registry.put(seed_study())
    daemon = daemon_for(write_config(tmp_path, registry.url, [SEED_NCT]))
    waiter = _Wait("next check due at ")
    logger = logging.getLogger("watcher.daemon.scheduler")
    logger.addHandler(waiter)
    level = logger.level
    logger.setLevel(logging.INFO)
    runner = threading.Thread(target=daemon.scheduler.start, daemon=True)
    try:
        runner.start()  # the first cycle is due at once
        assert waiter.seen.wait(60)
    finally:
        logger.removeHandler(waiter)
        logger.setLevel(level)
        daemon.scheduler.shutdown(wait=True)
        runner.join(30)
        daemon.app.close()
    (line,) = waiter.lines
    assert line.endswith("+00:00")  # when, in UTC: the schedule's default every 6h


def test_status_filters_every_section(tmp_path: Path, registry: RegistryDouble) -> None:
    from tests.support.slack_double import SlackDouble  # noqa: PLC0415
    from tests.support.slack_setup import ENV  # noqa: PLC0415

    other = "NCT05180006"
    registry.put(seed_study())
    registry.put(make_study(other, "Another trial"))
    with SlackDouble(channels=("#trial-alerts",), member_of=("#trial-alerts",)) as slack:
        extra = f'\n[slack]\ntoken = "${{SLACK_BOT_TOKEN}}"\napi_url = "{slack.url}"\n'
        config = write_config(
            tmp_path, registry.url, [SEED_NCT], extra=extra, watch_extra='slack = ["#trial-alerts"]'
        )
        config.write_text(
            config.read_text() + f'\n[[watch]]\nname = "other"\ntrials = ["{other}"]\n'
        )
        assert run_cli(config, "check", env=ENV).exit_code == 0
    everything = run_cli(config, "status").stdout
    assert "#trial-alerts: 1 trial: 1 from watch “test”" in everything
    assert "Last cycle:" in everything
    mine = run_cli(config, "status", "--watch", "other").stdout
    assert other in mine and SEED_NCT not in mine
    assert "Slack channels" not in mine  # #trial-alerts follows none of this watch's trials
    problems = run_cli(config, "status", "--problems").stdout
    assert "Slack channels" not in problems and "Last cycle:" not in problems
