"""Editing the watch list from the command line: init, add, remove, list, config check."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tests.conftest import run_cli
from tests.support.paths import REPO
from watcher.config import load_config
from watcher.config.edit import ConfigEditor, EditError, starter_text, write_atomically

COMMENTED = """# my team's watch list
[registry]
pace = 1.0   # be polite

[[watch]]                # oncology
name = "onc"
trials = [
  "NCT06850103",  # the seed trial
  "nct02552212",
]

[[watch]]
name = "cardio"
trials = ["NCT01234567"]  # one for now
"""


def write(tmp_path: Path, text: str = COMMENTED) -> Path:
    path = tmp_path / "ctwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_init_writes_the_shipped_starter_and_refuses_to_overwrite(tmp_path: Path) -> None:
    target = tmp_path / "config" / "ctwatch.toml"
    result = run_cli(None, "init", str(target))
    assert result.exit_code == 0, result.stderr
    config = load_config(target, {})
    assert config.trials == ("NCT06850103",)
    assert config.database.path == str(tmp_path / "data" / "ctwatch.db")  # ../data beside config/
    assert "# ctwatch example configuration." in target.read_text()
    again = run_cli(None, "init", str(target))
    assert again.exit_code == 2 and "exists already" in again.stderr
    assert run_cli(None, "init", str(target), "--force").exit_code == 0


def test_the_starter_is_the_documented_example() -> None:
    example = (REPO / "config" / "ctwatch.toml").read_text(encoding="utf-8")
    assert starter_text(Path("config/ctwatch.toml")) == example
    elsewhere = starter_text(Path("/etc/ctwatch.toml"))
    assert 'path = "data/ctwatch.db"' in elsewhere


def test_init_uses_the_config_path_in_use(tmp_path: Path) -> None:
    target = tmp_path / "from-env.toml"
    result = run_cli(None, "init", env={"CTWATCH_CONFIG": str(target)})
    assert result.exit_code == 0 and target.exists()


def test_add_keeps_comments_and_layout(tmp_path: Path) -> None:
    path = write(tmp_path)
    result = run_cli(path, "add", "nct05180006,NCT06850103", "--watch", "onc")
    assert result.exit_code == 0, result.stderr
    assert "NCT05180006 added to watch “onc”" in result.stdout
    assert "skipped: NCT06850103 is already in watch “onc”" in result.stderr
    text = path.read_text()
    for comment in ("# my team's watch list", "# be polite", "# oncology", "# the seed trial",
                    "# one for now"):  # fmt: skip
        assert comment in text
    assert load_config(path, {}).watch[0].trials == ("NCT06850103", "NCT02552212", "NCT05180006")
    assert load_config(path, {}).watch[1].trials == ("NCT01234567",)


def test_add_creates_a_missing_watch_and_needs_a_name_when_there_are_several(
    tmp_path: Path,
) -> None:
    path = write(tmp_path)
    ambiguous = run_cli(path, "add", "NCT05180006")
    assert ambiguous.exit_code == 2 and "--watch NAME is needed" in ambiguous.stderr
    created = run_cli(path, "add", "NCT05180006", "--watch", "neuro")
    assert created.exit_code == 0 and "created watch “neuro”" in created.stdout
    config = load_config(path, {})
    assert [w.name for w in config.watch] == ["onc", "cardio", "neuro"]
    assert config.watch[2].trials == ("NCT05180006",)
    assert '\n\n[[watch]]\nname = "neuro"' in path.read_text()


def test_bad_ids_change_nothing(tmp_path: Path) -> None:
    path = write(tmp_path)
    result = run_cli(path, "add", "NCT05180006", "NCT123", "--watch", "onc")
    assert result.exit_code == 2
    assert "not NCT IDs (NCT followed by 8 digits): NCT123; nothing changed" in result.stderr
    assert path.read_text() == COMMENTED


def test_remove_from_every_watch_or_one(tmp_path: Path) -> None:
    path = write(tmp_path)
    run_cli(path, "add", "NCT06850103", "--watch", "cardio")
    result = run_cli(path, "remove", "NCT06850103", "--watch", "cardio")
    assert result.exit_code == 0 and "NCT06850103 removed from watch “cardio”" in result.stdout
    assert load_config(path, {}).watch[0].trials[0] == "NCT06850103"
    everywhere = run_cli(path, "remove", "nct02552212", "NCT09999999")
    assert everywhere.exit_code == 0
    assert "skipped: NCT09999999 is not in any watch" in everywhere.stderr
    assert load_config(path, {}).watch[0].trials == ("NCT06850103",)
    assert "# my team's watch list" in path.read_text()


def test_an_edit_that_would_break_the_config_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path)
    emptied = run_cli(path, "remove", "NCT01234567")
    assert emptied.exit_code == 2
    assert "would leave watch “cardio” without trials; nothing changed" in emptied.stderr
    assert path.read_text() == COMMENTED
    broken = write(tmp_path, COMMENTED + '\n[schedule]\nevery = "soon"\n')
    result = run_cli(broken, "add", "NCT05180006", "--watch", "onc")
    assert result.exit_code == 2
    assert "not saved, the result would be invalid:" in result.stderr
    assert "schedule.every: 'soon' is not a duration" in result.stderr
    assert "NCT05180006" not in broken.read_text()


def test_unset_variables_do_not_block_an_edit(tmp_path: Path) -> None:
    text = '[slack]\ntoken = "${NOT_IN_THIS_SHELL}"\n' + COMMENTED
    path = write(tmp_path, text)
    result = run_cli(path, "add", "NCT05180006", "--watch", "onc", env={})
    assert result.exit_code == 0, result.stderr
    assert "${NOT_IN_THIS_SHELL}" in path.read_text()


def test_the_file_changed_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    path = write(tmp_path)
    editor = ConfigEditor.open(path)
    editor.add(["NCT05180006"], "onc")
    editor.validate({})
    path.write_text(COMMENTED.replace("be polite", "someone else's edit"))
    with pytest.raises(EditError, match="changed while it was being edited"):
        editor.save()
    assert "someone else's edit" in path.read_text()


def test_atomic_write_keeps_mode_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = write(tmp_path)
    path.chmod(0o600)
    write_atomically(path, "x = 1\n")
    assert path.read_text() == "x = 1\n"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctwatch.toml"]


def test_a_failed_write_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path)

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)  # the disk fails half-way through the write
    result = run_cli(path, "add", "NCT05180006", "--watch", "onc")
    assert result.exit_code == 2
    assert "cannot write (No space left on device); nothing changed" in result.stderr
    assert path.read_text() == COMMENTED
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctwatch.toml"]


def test_edits_follow_a_symlink_to_the_real_file(tmp_path: Path) -> None:
    real = write(tmp_path)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    assert run_cli(link, "add", "NCT05180006", "--watch", "onc").exit_code == 0
    assert link.is_symlink() and "NCT05180006" in real.read_text()


def test_list_and_config_check(tmp_path: Path) -> None:
    path = write(tmp_path)
    listing = run_cli(path, "list")
    assert listing.exit_code == 0
    assert listing.stdout.splitlines()[:4] == [
        "watch “onc” → console (2 trials)",
        "  NCT06850103",
        "  NCT02552212",
        "watch “cardio” → console (1 trial)",
    ]
    checked = run_cli(path, "config", "check")
    assert checked.exit_code == 0
    assert checked.stdout.splitlines()[0] == f"{path}: valid"
    assert "schedule: every 6h (for ctwatch run)" in checked.stdout
    assert "  “onc”: 2 trials → console" in checked.stdout
    assert not (tmp_path / "data").exists()  # no database was created
    bad = write(tmp_path, COMMENTED.replace('name = "cardio"', 'nme = "cardio"'))
    refused = run_cli(bad, "config", "check")
    assert refused.exit_code == 2
    assert "unknown key 'nme' in watch[1] (did you mean 'name'?)" in refused.stderr


def test_config_is_accepted_after_the_command(tmp_path: Path) -> None:
    path = write(tmp_path)
    result = run_cli(None, "list", "--config", str(path))
    assert result.exit_code == 0 and "watch “onc”" in result.stdout
    nested = run_cli(None, "config", "check", "--config", str(path))
    assert nested.exit_code == 0 and "valid" in nested.stdout


def every_command() -> list[list[str]]:
    from watcher.cli import main  # noqa: PLC0415

    main.load_all()
    out = []
    for name, command in main.commands.items():
        if isinstance(command, click.Group):
            out += [[name, sub] for sub in command.commands]
        out.append([name])
    return out


@pytest.mark.parametrize("command", every_command(), ids=" ".join)
def test_every_help_shows_an_example_and_its_own_exit_codes(command: list[str]) -> None:
    from watcher.cli.main import EPILOGS, EXIT_CODES  # noqa: PLC0415

    result = run_cli(None, *command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout
    assert "--config PATH" in result.stdout
    assert "Shell completion" not in result.stdout  # that footer is the group's only
    footer = EPILOGS.get(" ".join(command), EXIT_CODES)
    if footer:
        assert " ".join(footer.split()[1:4]) in " ".join(result.stdout.split())
    else:
        assert "Exit codes" not in result.stdout


def test_the_command_list_shows_whole_summaries_and_completion_works() -> None:
    listing = run_cli(None, "--help").stdout
    assert "..." not in listing.split("Commands:")[1]
    assert "_CTWATCH_COMPLETE=bash_source ctwatch" in listing
    env = {"COMP_WORDS": "ctwatch out", "COMP_CWORD": "1", "_CTWATCH_COMPLETE": "bash_complete"}
    script = Path(sys.executable).parent / "ctwatch"  # the installed console script
    completed = subprocess.run(
        [str(script)], env={**os.environ, **env}, capture_output=True, text=True, check=True
    )
    assert completed.stdout.split() == ["plain,outbox"]
