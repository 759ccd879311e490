"""Child processes that run ctwatch as an installed copy runs: with its bytecode.

Why: ``pip install`` compiles every module, so an installed ctwatch starts from
bytecode. A working tree run where ``PYTHONDONTWRITEBYTECODE`` is set (this
project's development machine sets it) compiles every ctwatch module from source
in every fresh process instead, about a tenth of a second of CPU that no user
pays. The benchmarks therefore compile the package's bytecode first (into its
``__pycache__`` folders, which git ignores) and let their child processes read
it. No ``PYTHONPYCACHEPREFIX``: with one, Python would look for *every* module's
bytecode there and compile the installed libraries again too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def installed_env(base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) reading the bytecode of every
    ctwatch module, compiled here first."""
    env = {k: v for k, v in (base or dict(os.environ)).items()
           if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(ROOT / "watcher")],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return env
