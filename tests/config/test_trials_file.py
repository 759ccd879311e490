"""``trials_file``: a watch list as a text file of NCT IDs, read fast and validated.

Every bad input exits 2 with one line naming the file (and the first bad line), and
nothing is recorded: the database is never created.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from watcher.config import ConfigError, load_config
from watcher.config.trials_file import (
    MAX_BYTES,
    MAX_LINES,
    TrialsFileError,
    _bare,
    _checked_lines,
    read_trials_file,
)

HEAD = '[registry]\nurl = "http://127.0.0.1:9"\n[database]\npath = "ctwatch.db"\n'


def config_with(folder: Path, watch: str) -> Path:
    path = folder / "ctwatch.toml"
    path.write_text(f'{HEAD}[[watch]]\nname = "all"\n{watch}\n', encoding="utf-8")
    return path


def test_ids_file_is_read_relative_to_the_config(tmp_path: Path) -> None:
    folder = tmp_path / "conf"
    folder.mkdir()
    (folder / "ids.txt").write_text(
        "# the whole list\nNCT06850103\n\n  nct05180006  # lower case, a comment\n"
        "NCT06850103\r\nNCT00000001",  # a repeat, CRLF, no final newline
        encoding="utf-8",
    )
    config = load_config(config_with(folder, 'trials_file = "ids.txt"'))
    assert config.trials == ("NCT06850103", "NCT05180006", "NCT00000001")
    assert config.watch[0].trials_file == str(folder / "ids.txt")


def test_a_bare_file_takes_the_fast_path_with_the_same_result(tmp_path: Path) -> None:
    ids = [f"NCT{10_000_000 + i:08d}" for i in range(5000)]
    bare = tmp_path / "bare.txt"
    bare.write_text("\n".join(ids) + "\n", encoding="utf-8")
    commented = tmp_path / "commented.txt"
    commented.write_text("# header\n" + "\n".join(ids) + "\n", encoding="utf-8")
    assert read_trials_file(bare) == read_trials_file(commented) == tuple(ids)


@pytest.mark.parametrize(
    ("content", "bare"),
    [
        (b"NCT06850103\nNCT05180006\n", True),
        (b"NCT06850103\nNCT05180006", True),  # no final newline
        (b"NCT06850103\nNCT06850103\n", True),  # a repeat: the same ID once, below
        (b"NCT1234567\nNCT123456789\n", False),  # 24 bytes, two lines of 12: not bare
        (b"nct06850103\n", False),
        (b"NCT06850103\r\n", False),
        (b"NCT06850103\n\n", False),
        (b"\xef\xbb\xbfNCT06850103\n", False),  # a byte-order mark
        ("NCT0685010\uff13\n".encode(), False),  # a full-width digit
        (b"", False),
    ],
)
def test_the_byte_shortcut_takes_only_bare_files_and_reads_as_the_slow_path(
    tmp_path: Path, content: bytes, bare: bool
) -> None:
    assert _bare(content) is bare
    path = tmp_path / "ids.txt"
    path.write_bytes(content)
    text = content.decode("utf-8").removeprefix("\ufeff")
    try:
        slow: tuple[str, ...] | str = tuple(dict.fromkeys(_checked_lines(text, path)))
        slow = slow or "holds no NCT IDs (one per line; # starts a comment)"
    except TrialsFileError as exc:
        slow = str(exc).split(": ", 1)[1]
    try:
        fast: tuple[str, ...] | str = read_trials_file(path)
    except TrialsFileError as exc:
        fast = str(exc).split(": ", 1)[1]
    assert fast == slow


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("NCT06850103\nNCT1234\n", "line 2: 'NCT1234' is not an NCT ID"),
        ("NCT06850103\n\n# ok\nNCT06850103 NCT05180006\n", "line 4: 'NCT06850103 NCT05180006'"),
        ("NCT06850103\nＮCT06850103\n", "line 2: "),
        ("\n# nothing but comments\n\n", "holds no NCT IDs"),
        ("", "holds no NCT IDs"),
    ],
)
def test_bad_content_names_the_file_and_the_first_bad_line(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "ids.txt").write_text(content, encoding="utf-8")
    result = run_cli(config_with(tmp_path, 'trials_file = "ids.txt"'), "check")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(tmp_path / "ids.txt") in lines[0]
    assert 'watch "all".trials_file' in lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert not (tmp_path / "ctwatch.db").exists()  # nothing recorded


def test_not_utf8_names_the_line(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_bytes(b"NCT06850103\nNCT0\xff\n")
    with pytest.raises(ConfigError, match=r"ids.txt: line 2: is not UTF-8 text"):
        load_config(config_with(tmp_path, 'trials_file = "ids.txt"'))


@pytest.mark.parametrize("case", ["missing", "directory", "fifo", "unreadable"])
def test_unusable_files_exit_2_naming_the_file(tmp_path: Path, case: str) -> None:
    target = tmp_path / "ids.txt"
    expected = {
        "missing": "file not found",
        "directory": "is a directory",
        "fifo": "is not a regular file",
        "unreadable": "cannot read file",
    }[case]
    if case == "directory":
        target.mkdir()
    elif case == "fifo":
        os.mkfifo(target)  # reading it would block forever
    elif case == "unreadable":
        target.write_text("NCT06850103\n", encoding="utf-8")
        target.chmod(0)
        if os.access(target, os.R_OK):  # root reads it anyway: a link to itself cannot be
            target.unlink()
            target.symlink_to(target)
    result = run_cli(config_with(tmp_path, 'trials_file = "ids.txt"'), "check")
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f'watch "all".trials_file: {target}: {expected}' in lines[0]
    assert not (tmp_path / "ctwatch.db").exists()


def test_over_the_line_limit_is_refused(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_bytes(b"NCT06850103\n" + b"\n" * MAX_LINES)
    with pytest.raises(ConfigError, match=r"has over 5,000,000 lines"):
        load_config(config_with(tmp_path, 'trials_file = "ids.txt"'))


def test_exactly_at_the_line_limit_is_read(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_bytes(b"NCT06850103\n" + b"\n" * (MAX_LINES - 1))
    assert read_trials_file(tmp_path / "ids.txt") == ("NCT06850103",)


def test_trials_and_trials_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "ids.txt").write_text("NCT06850103\n", encoding="utf-8")
    path = config_with(tmp_path, 'trials = ["NCT05180006"]\ntrials_file = "ids.txt"')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert str(caught.value) == (
        f"{path}: watch \"all\".trials_file: set either 'trials' or 'trials_file', not both"
    )


def test_neither_is_the_usual_missing_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'watch "all".trials: required key is missing'):
        load_config(config_with(tmp_path, ""))


def test_an_empty_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r'watch "all".trials_file: should not be empty'):
        load_config(config_with(tmp_path, 'trials_file = ""'))


def test_a_bad_file_and_other_mistakes_are_reported_together(tmp_path: Path) -> None:
    path = tmp_path / "ctwatch.toml"
    path.write_text(
        f'{HEAD}[[watch]]\nname = "a"\ntrials_file = "nope.txt"\nslak = ["#x"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    text = str(caught.value)
    assert 'watch "a".trials_file: ' in text and "file not found" in text
    assert "slak" in text
    assert 'watch "a".trials:' not in text  # the file's failure is not reported twice


def test_environment_reference_and_home_are_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "ids.txt").write_text("NCT06850103\n", encoding="utf-8")
    monkeypatch.setenv("IDS_DIR", str(tmp_path))
    config = load_config(config_with(tmp_path / "..", 'trials_file = "${IDS_DIR}/ids.txt"'))
    assert config.trials == ("NCT06850103",)


def test_a_file_over_the_byte_limit_is_refused_unread(tmp_path: Path) -> None:
    target = tmp_path / "ids.txt"
    with target.open("wb") as handle:  # sparse: no disk space, nothing worth reading
        handle.truncate(MAX_BYTES + 1)
    with pytest.raises(ConfigError, match=r"ids.txt: is over 256 MB"):
        load_config(config_with(tmp_path, 'trials_file = "ids.txt"'))
