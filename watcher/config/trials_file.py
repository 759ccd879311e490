"""``trials_file``: a watch list kept as a plain text file, one NCT ID per line.

Why a file of its own: a whole-registry watch (~600,000 trials) written as a TOML array
is a 9 MB config that takes seconds to parse and validate, before every ``ctwatch check``.
A text file of IDs is read in one pass: when every line is a bare upper-case ID (what
``ctwatch add`` and most exports write) one comparison of bytes, or else one regular
expression, checks the whole file at C speed; otherwise each line is checked on its own
(comments, blank lines, lower case), still without any per-ID pydantic work. The result is
a frozen tuple of str.

Bad input names the file and the first bad line, so the user can open it at that line:
a missing, unreadable or non-regular file, one over :data:`MAX_LINES` lines, text that is
not UTF-8, and a line that is not an NCT ID are all :class:`TrialsFileError`.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

from watcher.config.types import NCT_RE

MAX_LINES = 5_000_000
"""More lines than this is refused: the registry holds about 610,000 studies."""
MAX_BYTES = 256 * 1024 * 1024
"""Never read more than this (5,000,000 IDs with CRLF and short comments fit)."""
_NOT_BARE = re.compile(r"^(?!NCT[0-9]{8}$)", re.MULTILINE)
"""The first line that is not a bare upper-case ID: one search checks a clean file whole."""
_DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
_BARE_LINE = b"NCT00000000\n"


class TrialsFileError(ValueError):
    """A trials file that cannot be used; the message names the problem (and the line)."""


FileStamp = tuple[int, int, int, int]
"""(device, inode, size, mtime in ns): a file replaced or edited gets a new stamp."""


def file_stamp(path: Path) -> FileStamp | None:
    """``path``'s stamp, or None when it cannot be stat'ed (the loader says why)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def resolve_trials_file(value: str, config_path: Path) -> Path:
    """``value`` as written in the config, relative to the config file's folder."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else config_path.parent / path


def read_trials_file(path: Path) -> tuple[str, ...]:
    """Every NCT ID in ``path`` once, in file order (upper-cased).

    One ID per line; ``#`` starts a comment (whole line or after the ID); blank lines
    and surrounding spaces are ignored. TrialsFileError names the first bad line.
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise TrialsFileError(f"{path}: file not found") from None
    except OSError as exc:
        raise TrialsFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(info.st_mode):
        raise TrialsFileError(f"{path}: is a directory, not a file of NCT IDs")
    if not stat.S_ISREG(info.st_mode):
        raise TrialsFileError(f"{path}: is not a regular file")
    if info.st_size > MAX_BYTES:
        raise TrialsFileError(f"{path}: is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise TrialsFileError(f"{path}: cannot read file ({exc.strerror or exc})") from None
    if data.count(b"\n") + (not data.endswith(b"\n")) > MAX_LINES:
        raise TrialsFileError(f"{path}: has over {MAX_LINES:,} lines")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise TrialsFileError(f"{path}: line {line}: is not UTF-8 text") from None
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write
    if _bare(data):
        ids = text.split()
    elif (first := _NOT_BARE.search(text)) is None or (first.start() == len(text) and text):
        ids = text.split()  # the only match is after the final newline
    else:
        ids = _checked_lines(text, path)
    if not ids:
        raise TrialsFileError(f"{path}: holds no NCT IDs (one per line; # starts a comment)")
    if len(set(ids)) == len(ids):  # the usual case, and a set is cheaper than a dict
        return tuple(ids)
    return tuple(dict.fromkeys(ids))


def _bare(data: bytes) -> bool:
    """Whether every line is a bare upper-case ID ending in a newline (the last one may
    lack it): the file with its digits turned to ``0`` is one line repeated, a comparison
    of bytes (7 ms for 580,000 IDs, where the regular expression takes 46 ms)."""
    body = data if data.endswith(b"\n") else data + b"\n"
    lines, rest = divmod(len(body), len(_BARE_LINE))
    return not rest and body.translate(_DIGITS_AS_ZERO) == _BARE_LINE * lines


def _checked_lines(text: str, path: Path) -> list[str]:
    """The IDs of a file with comments, blank lines, spaces or lower case, line by line."""
    ids = []
    for number, line in enumerate(text.split("\n"), 1):
        value = line.partition("#")[0].strip().upper()
        if not value:
            continue
        if not NCT_RE.match(value):
            shown = line.strip()
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise TrialsFileError(
                f"{path}: line {number}: {shown!r} is not an NCT ID (NCT followed by 8 digits)"
            )
        ids.append(value)
    return ids
