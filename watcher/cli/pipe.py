"""A roomier pipe for the commands that can write a whole registry's worth of output.

Why: a pipe holds 64 KiB on Linux. ``ctwatch status --json`` for 580,000 trials writes
about 110 MB, so the writer filled the pipe and waited for its reader some 1,700 times:
0.2 s of its 1.8 s (bench/idle.py, 2026-12-07). A pipe of 1 MiB (the size Linux lets any
user ask for) makes those turns sixteen times rarer. Nothing changes for a terminal, a
file, a test's captured output, or a system without ``F_SETPIPE_SZ``.
"""

from __future__ import annotations

import os
import stat
from typing import TextIO

PIPE_BYTES = 1 << 20


def widen_pipe(stream: TextIO) -> bool:
    """Ask for a :data:`PIPE_BYTES` buffer if ``stream`` is a pipe; True when it got one."""
    try:
        import fcntl  # not on every platform
    except ImportError:
        return False
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return False
    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except (OSError, ValueError):  # no descriptor (io.UnsupportedOperation), or refused
        return False
    return True
