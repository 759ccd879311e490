"""Write a small database with the ctwatch of an older commit, as a test fixture.

tests/fixtures/ctwatch-ce18872.db was made by the ctwatch of commit ce18872
(zlib bodies, order-free content hashes, 4 KB pages, migrations up to
0005), so tests can prove that a database from before issue 16 opens, reads
its old versions and raises no false alert. Run this file against *that*
commit's code, not the current one:

    git worktree add /tmp/ctwatch-ce18872 ce18872
    cd /tmp/ctwatch-ce18872 && python /path/to/scripts/make_old_db.py /path/to/out.db

It serves three sample trials from the registry double, runs ``ctwatch
check`` (a baseline), edits one trial, and checks again (one change, one
console alert).
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))

from click.testing import CliRunner

from watcher.cli import main
from watcher.testing.registry_double import RegistryDouble
from watcher.testing.samples import changed, make_study

TRIALS = {"NCT00000101": ("Alpha", 5), "NCT00000102": ("Beta", 2), "NCT00000103": ("Gamma", 6)}


def check(config: Path) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "check"], catch_exceptions=False)
    print(result.stdout, end="")


def write(out: Path) -> None:
    studies = {n: make_study(n, title, sites=sites) for n, (title, sites) in TRIALS.items()}
    with tempfile.TemporaryDirectory() as tmp, RegistryDouble(studies.values()) as registry:
        folder = Path(tmp)
        trials = ", ".join(f'"{n}"' for n in TRIALS)
        config = folder / "ctwatch.toml"
        config.write_text(
            f'[registry]\nurl = "{registry.url}"\npace = 0\nbackoff = 0\nincremental = false\n\n'
            f'[database]\npath = "ctwatch.db"\n\n[[watch]]\nname = "old"\ntrials = [{trials}]\n',
            encoding="utf-8",
        )
        check(config)
        first = studies["NCT00000101"]
        registry.put(changed(first, status="ACTIVE_NOT_RECRUITING", last_update="2025-10-15"))
        check(config)
        with sqlite3.connect(folder / "ctwatch.db") as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        out.write_bytes((folder / "ctwatch.db").read_bytes())


if __name__ == "__main__":
    write(Path(sys.argv[1]))
