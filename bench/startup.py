"""How long ``ctwatch`` takes to start: Python import time of everyday commands.

    python bench/startup.py              # --help, status, history; best of 5 runs each
    python bench/startup.py --runs 10

Each command runs in a fresh interpreter with ``-X importtime``; the figure is
the sum of the top-level imports' cumulative times (what the process spent
importing), the best of N runs (a loaded machine only adds), next to the
whole process's wall and CPU time (CPU time is the steadier figure on a
loaded machine). The figures are those of an installed ctwatch, whose modules
have their bytecode (``pip install`` compiles it): the runs read the
package's bytecode, compiled first (``bench/installed.py``), even where
``PYTHONDONTWRITEBYTECODE`` is set. ``status``
and ``history`` read a database made by ``ctwatch demo --keep`` (local registry
double, nothing leaves 127.0.0.1).
Target (issue 21): ``--help``, ``status`` and ``history`` at most 0.25 s of
import. Prints its figures; asserts nothing (tests/cli/test_startup.py keeps the
heavy modules out).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from installed import installed_env

ROOT = Path(__file__).resolve().parent.parent
TARGET = 0.25
HEAVY = ("slack_bolt", "slack_sdk", "uvicorn", "starlette", "jinja2", "apscheduler", "rich")


def import_seconds(stderr: str) -> tuple[float, list[str]]:
    """Total import time from ``-X importtime`` output, and which heavy packages loaded."""
    total = 0
    heavy: set[str] = set()
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|", 2)
        if name.startswith("  ") or not cumulative.strip().isdigit():
            continue  # nested: counted in its parent's cumulative time
        total += int(cumulative)
        top = name.strip().split(".")[0]
        if top in HEAVY:
            heavy.add(top)
    for line in stderr.splitlines():  # nested heavy imports count as loaded too
        name = line.rsplit("|", 1)[-1].strip().split(".")[0]
        if name in HEAVY:
            heavy.add(name)
    return total / 1e6, sorted(heavy)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    args: list[str], runs: int, env: dict[str, str]
) -> tuple[float, float, float, list[str]]:
    """Best import seconds, best wall seconds, best CPU seconds of the whole process
    (CPU time barely moves with the machine's load; wall time does), heavy modules."""
    best_import, best_wall, best_cpu = float("inf"), float("inf"), float("inf")
    heavy: list[str] = []
    for _ in range(runs):
        cpu = _cpu()
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "watcher", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,  # -m puts the working folder first on sys.path
            check=False,
        )
        wall = time.perf_counter() - start
        best_cpu = min(best_cpu, _cpu() - cpu)
        seconds, heavy = import_seconds(done.stderr)
        best_import, best_wall = min(best_import, seconds), min(best_wall, wall)
    return best_import, best_wall, best_cpu, heavy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    plain = {**os.environ, "PYTHONPATH": str(ROOT)}
    plain.pop("PYTHONPYCACHEPREFIX", None)
    with tempfile.TemporaryDirectory(prefix="ctwatch-bench-") as tmp:
        env = installed_env(plain)
        keep = Path(tmp) / "demo"
        subprocess.run(
            [sys.executable, "-m", "watcher", "demo", "--no-pause", "--keep", str(keep)],
            capture_output=True,
            env=env,
            cwd=ROOT,
            check=True,
        )
        config = str(keep / "ctwatch.toml")
        commands = {
            "ctwatch --help": ["--help"],
            "ctwatch status": ["--config", config, "status"],
            "ctwatch history NCT06850103": ["--config", config, "history", "NCT06850103"],
            "ctwatch config check": ["--config", config, "config", "check"],
        }
        print(f"best of {options.runs} runs, bytecode cached; target: {TARGET:.2f} s of import")
        print(f"{'command':<30} {'import s':>9} {'wall s':>7} {'cpu s':>6}  heavy modules loaded")
        for label, args in commands.items():
            seconds, wall, cpu, heavy = measure(args, options.runs, env)
            mark = "" if seconds <= TARGET else "  (over target)"
            loaded = ", ".join(heavy) or "-"
            print(f"{label:<30} {seconds:>9.3f} {wall:>7.3f} {cpu:>6.3f}  {loaded}{mark}")


if __name__ == "__main__":
    main()
