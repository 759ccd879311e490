"""Idle checks and ``status`` again, on a database kept by ``bench/run.py --keep``.

    python bench/run.py --trials 580000 --skip-event-comparison --keep /tmp/keep  # once
    python bench/idle.py /tmp/keep/580000 --runs 3

Why: a whole-registry baseline takes about 25 minutes, while the questions an idle cycle
and ``status`` ask of the database take a second. This reruns only those, each a fresh
``ctwatch`` process from compiled bytecode (bench/installed.py): a no-change ``check``
against a registry double that serves nothing but ``/version`` (with the data timestamp
the kept database last processed, so the cycle fetches nothing), then ``status`` on a
pseudo-terminal, ``status`` to a pipe, ``status --all`` to a pipe and ``status --json``,
each as a ratio to the check of its run, with the time to its first line:
``bench/run.py``'s own measurement (``status_times``), repeated. The kept config's
registry URL is rewritten to point at the double. Prints its figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))


def main() -> None:
    from installed import installed_env  # noqa: PLC0415 - after sys.path is set
    from run import AFTER, STATUS_HEADER, status_times  # noqa: PLC0415

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
        print(STATUS_HEADER, flush=True)
        for _ in range(args.runs):
            status_times(int(args.folder.name), config)


if __name__ == "__main__":
    main()
