"""Idle checks and ``status`` again, on a database kept by ``bench/run.py --keep``.

    python bench/run.py --trials 580000 --skip-event-comparison --keep /tmp/keep  # once
    python bench/idle.py /tmp/keep/580000 --runs 3

Why: a whole-registry baseline takes about 25 minutes, while the questions an idle cycle
and ``status`` ask of the database take a second. This reruns only those, each a fresh
``ctwatch`` process from compiled bytecode (bench/installed.py): a no-change ``check``
against a registry double that serves nothing but ``/version`` (with the data timestamp
the kept database last processed, so the cycle fetches nothing), then ``status`` on a
pseudo-terminal, ``status`` to a pipe and ``status --json``, each as a ratio to the
median check, with the time to its first line. The kept config's registry URL is
rewritten to point at the double. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> None:
    from installed import installed_env  # noqa: PLC0415 - after sys.path is set
    from run import AFTER, timed  # noqa: PLC0415

    from watcher.testing.registry_double import RegistryDouble  # noqa: PLC0415

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="a DIR/N folder kept by bench/run.py --keep")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    config = args.folder / "ctwatch.toml"
    os.environ.clear()
    os.environ.update(installed_env())
    with RegistryDouble((), data_timestamp=AFTER) as double:
        text = re.sub(r'url = "[^"]*"', f'url = "{double.url}"', config.read_text())
        config.write_text(text, encoding="utf-8")
        checks = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "watcher", "--config", str(config), "check"],
                capture_output=True, check=True,
            )  # fmt: skip
            checks.append(time.perf_counter() - start)
        check = statistics.median(checks)
        print(f"no-change check: {', '.join(f'{c:.2f}' for c in checks)} s (median {check:.2f})")
        for command, terminal in (
            (["status"], True),
            (["status"], False),
            (["status", "--json"], False),
        ):
            for _ in range(args.runs):
                took, first = timed(config, *command, terminal=terminal)
                where = "on a terminal" if terminal else "to a pipe"
                print(
                    f"ctwatch {' '.join(command)} {where}: {took:.2f} s, first line "
                    f"{first:.2f} s, {took / check:.1f}× the check (target ≤ 3×, first ≤ 1 s)"
                )


if __name__ == "__main__":
    main()
