"""``ctwatch add``/``remove`` on a watch whose trials live in a ``trials_file``.

The ID file is edited in place (comments and order kept, replaced atomically); the
config file is left byte for byte as it was.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import load_config
from watcher.config.edit import ConfigEditor, EditError

HEAD = '[registry]\nurl = "http://127.0.0.1:9"\n[database]\npath = "ctwatch.db"\n'
IDS = "# oncology list\nNCT06850103\nNCT05180006  # the second one\n"


def setup(folder: Path, extra: str = "") -> tuple[Path, Path]:
    ids = folder / "ids.txt"
    ids.write_text(IDS, encoding="utf-8")
    config = folder / "ctwatch.toml"
    config.write_text(
        f'{HEAD}[[watch]]\nname = "all"\ntrials_file = "ids.txt"\n{extra}', encoding="utf-8"
    )
    return config, ids


def test_add_appends_to_the_ids_file_and_leaves_the_config(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    before = config.read_bytes()
    result = run_cli(config, "add", "nct00000001", "NCT06850103")
    assert result.exit_code == 0, result.output
    assert "NCT00000001 added to watch “all”" in result.stdout
    assert "skipped: NCT06850103 is already in watch “all”" in result.stderr
    assert ids.read_text(encoding="utf-8") == IDS + "NCT00000001\n"
    assert config.read_bytes() == before
    assert load_config(config).trials == ("NCT06850103", "NCT05180006", "NCT00000001")


def test_add_to_a_file_without_a_final_newline(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    ids.write_text("NCT06850103", encoding="utf-8")
    assert run_cli(config, "add", "NCT00000001").exit_code == 0
    assert ids.read_text(encoding="utf-8") == "NCT06850103\nNCT00000001\n"


def test_remove_drops_the_line_and_keeps_the_comments(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    result = run_cli(config, "remove", "NCT05180006", "NCT00000009")
    assert result.exit_code == 0, result.output
    assert "NCT05180006 removed from watch “all”" in result.stdout
    assert "skipped: NCT00000009 is not in any watch" in result.stderr
    assert ids.read_text(encoding="utf-8") == "# oncology list\nNCT06850103\n"


def test_remove_the_last_id_is_refused(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    result = run_cli(config, "remove", "NCT05180006", "NCT06850103")
    assert result.exit_code == 2
    assert "without trials; nothing changed" in result.stderr
    assert ids.read_text(encoding="utf-8") == IDS


def test_a_new_watch_next_to_a_file_watch_goes_into_the_config(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    result = run_cli(config, "add", "NCT00000001", "--watch", "other")
    assert result.exit_code == 0, result.output
    assert ids.read_text(encoding="utf-8") == IDS
    loaded = load_config(config)
    assert [w.name for w in loaded.watch] == ["all", "other"]
    assert loaded.watch[1].trials == ("NCT00000001",)


def test_a_bad_ids_file_refuses_the_edit_naming_it(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    ids.write_text("NCT06850103\nnot-an-id\n", encoding="utf-8")
    result = run_cli(config, "add", "NCT00000001")
    assert result.exit_code == 2
    assert f"{ids}: line 2: 'not-an-id' is not an NCT ID" in result.stderr
    assert ids.read_text(encoding="utf-8") == "NCT06850103\nnot-an-id\n"


def test_an_ids_file_changed_meanwhile_is_not_overwritten(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    editor = ConfigEditor.open(config)
    editor.add(["NCT00000001"], "all")
    ids.write_text(IDS + "NCT00000002\n", encoding="utf-8")  # another editor got there first
    with pytest.raises(EditError, match="changed while it was being edited"):
        editor.save()
    assert ids.read_text(encoding="utf-8") == IDS + "NCT00000002\n"


def test_a_variable_in_the_path_is_left_to_the_user(tmp_path: Path) -> None:
    config = tmp_path / "ctwatch.toml"
    config.write_text(
        f'{HEAD}[[watch]]\nname = "all"\ntrials_file = "${{IDS}}/ids.txt"\n', encoding="utf-8"
    )
    result = run_cli(config, "add", "NCT00000001")
    assert result.exit_code == 2
    assert "names an environment variable; edit that file by hand" in result.stderr


def test_the_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    ids.chmod(0o600)
    assert run_cli(config, "add", "NCT00000001").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ctwatch.toml", "ids.txt"]
    assert ids.stat().st_mode & 0o777 == 0o600


def test_list_and_config_check_name_the_ids_file(tmp_path: Path) -> None:
    config, ids = setup(tmp_path)
    listed = run_cli(config, "list")
    assert listed.exit_code == 0
    assert listed.stdout.splitlines()[:3] == [
        f"watch “all” → console (2 trials from {ids})",
        "  NCT06850103",
        "  NCT05180006",
    ]
    checked = run_cli(config, "config", "check")
    assert checked.exit_code == 0
    assert f"“all”: 2 trials from {ids} → console" in checked.stdout
