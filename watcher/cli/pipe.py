"""A roomier pipe for the commands that can write a whole registry's worth of output.

Why: a pipe holds 64 KiB on Linux. ``ctwatch status --json`` for 580,000 trials writes
about 110 MB, so the writer filled the pipe and waited for its reader some 1,700 times:
0.2 s of its 1.8 s (bench/idle.py, 2026-12-07). A pipe of 1 MiB (``fs.pipe-max-size``, up
to which Linux lets any user ask, within the per-user page allowance) makes those turns
sixteen times rarer; a refusal leaves the pipe as it was. Nothing changes for a terminal, a
file, a test's captured output, or a system without ``F_SETPIPE_SZ``.
"""

from __future__ import annotations

import os
import stat
from typing import TextIO

PIPE_BYTES = 1 << 20


def widen_pipe(stream: TextIO) -> bool:
    """Ask for a :data:`PIPE_BYTES` buffer if ``stream`` is a smaller pipe; True when it is
    a pipe that holds that much now."""
    try:
        import fcntl  # not on every platform
    except ImportError:
        return False
    get_size = getattr(fcntl, "F_GETPIPE_SZ", None)
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if get_size is None or set_size is None:
        return False
    try:
        fd = stream.fileno()
        if not stat.S_ISFIFO(os.fstat(fd).st_mode):
            return False
        if fcntl.fcntl(fd, get_size) < PIPE_BYTES:  # never shrink one made bigger already
            fcntl.fcntl(fd, set_size, PIPE_BYTES)
    except (OSError, ValueError):  # no descriptor (io.UnsupportedOperation), or refused
        return False
    return True
