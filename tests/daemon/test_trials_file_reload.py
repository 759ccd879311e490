"""``ctwatch run`` follows an edited ``trials_file`` as it follows an edited config."""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import daemon_for
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import make_study

SEED = "NCT06850103"
OTHER = "NCT05180006"


def setup(folder: Path, url: str) -> tuple[Path, Path]:
    ids = folder / "ids.txt"
    ids.write_text(f"{SEED}\n", encoding="utf-8")
    config = folder / "ctwatch.toml"
    config.write_text(
        f'[registry]\nurl = "{url}"\npace = 0\nbackoff = 0\n[database]\npath = "ctwatch.db"\n'
        '[[watch]]\nname = "all"\ntrials_file = "ids.txt"\n',
        encoding="utf-8",
    )
    return config, ids


def test_an_edited_ids_file_is_reloaded(tmp_path: Path, registry: RegistryDouble) -> None:
    config, ids = setup(tmp_path, registry.url)
    daemon = daemon_for(config)
    try:
        assert list(daemon.config.trials) == [SEED]
        assert daemon.reload() is False  # nothing changed: not even re-read
        ids.write_text(f"{SEED}\n{OTHER}\n", encoding="utf-8")
        assert daemon.reload() is True
        assert daemon.config.trials == (SEED, OTHER)
        assert daemon.reload() is False
    finally:
        daemon.app.close()


def test_a_replaced_file_of_the_same_size_and_time_is_noticed(
    tmp_path: Path, registry: RegistryDouble
) -> None:
    config, ids = setup(tmp_path, registry.url)
    daemon = daemon_for(config)
    try:
        stamp = ids.stat()
        new = tmp_path / "new.txt"
        new.write_text(f"{OTHER}\n", encoding="utf-8")  # same length as the old file
        os.utime(new, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        new.replace(ids)  # an atomic replace (what `ctwatch add` does): a new inode
        assert daemon.reload() is True
        assert daemon.config.trials == (OTHER,)
    finally:
        daemon.app.close()


def test_a_bad_edit_keeps_the_last_good_list(
    tmp_path: Path, registry: RegistryDouble, caplog: pytest.LogCaptureFixture
) -> None:
    config, ids = setup(tmp_path, registry.url)
    daemon = daemon_for(config)
    try:
        good_app = daemon.app
        ids.write_text(f"{SEED}\nNCT123\n", encoding="utf-8")
        with caplog.at_level(logging.ERROR, logger="watcher"):
            assert daemon.reload() is False
        assert daemon.config.trials == (SEED,)
        assert daemon.app is good_app
        assert f"{ids}: line 2: 'NCT123' is not an NCT ID" in caplog.text
        ids.unlink()
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="watcher"):
            assert daemon.reload() is False
        assert "file not found" in caplog.text
        ids.write_text(f"{OTHER}\n", encoding="utf-8")  # fixed: adopted
        assert daemon.reload() is True
        assert daemon.config.trials == (OTHER,)
    finally:
        daemon.app.close()


def test_the_cycle_checks_the_new_trials(tmp_path: Path, registry: RegistryDouble) -> None:
    """The next cycle after the edit fetches the added trial (the daemon's own job)."""
    for nct in (SEED, OTHER):
        registry.put(make_study(nct, f"Trial {nct}"))
    config, ids = setup(tmp_path, registry.url)
    daemon = daemon_for(config)
    try:
        daemon.run_cycle()
        ids.write_text(f"{SEED}\n{OTHER}\n", encoding="utf-8")
        daemon.run_cycle()
        with sqlite3.connect(tmp_path / "ctwatch.db") as conn:
            rows = conn.execute("SELECT nct_id FROM versions").fetchall()
        assert {row[0] for row in rows} == {SEED, OTHER}
    finally:
        daemon.app.close()
