"""Editing the config file in place: add and remove trials, searches and watches,
keep every comment.

Why tomlkit: the file is the user's, full of comments and their own layout;
a round trip through a plain TOML parser would throw all of it away. Every
edit is validated with the real loader (:func:`~watcher.config.load.parse_config`)
before anything is written, so ``ctwatch add`` can never leave a config that
``ctwatch run`` refuses; and the new text replaces the old atomically (a
temporary file in the same folder, flushed to disk, then renamed over it), so
a crash or a full disk leaves the old file or the new one, never half of one.
If the file changed on disk while it was being edited, nothing is written.

A watch with a ``trials_file`` is edited in that file instead (IDs appended as lines,
removed lines dropped, comments and order kept), with the same atomic replace and the
same changed-meanwhile check; the config file itself is then left as it is.

``${VAR}`` references stay as they are: validation stands in a placeholder for
variables this shell does not have (an editor need not hold the Slack token;
:data:`~watcher.config.load.READ_ONLY`).

Long trial lists are written one ID per line (more than :data:`ONE_LINE_UP_TO`
IDs), so a diff of the file shows which trial came or went.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.items import AoT, Array, Table

from watcher.config.destinations import ChannelKey
from watcher.config.load import READ_ONLY, ConfigError, parse_config, read_config_text
from watcher.config.model import Config
from watcher.config.trials_file import TrialsFileError, read_trials_file, resolve_trials_file
from watcher.config.types import normalise_nct_id


class EditError(Exception):
    """The edit cannot be made; the message says why and nothing was written."""


ONE_LINE_UP_TO = 4
"""A trial list longer than this that ``add`` touches is written one ID per line."""


@dataclass
class EditReport:
    """What an edit did, per trial, for the command to print."""

    done: list[tuple[str, str]] = field(default_factory=list)
    """(NCT ID, watch name) pairs added or removed."""
    skipped: list[str] = field(default_factory=list)
    """Why some IDs were left alone, one line each."""
    created: str | None = None
    """The watch that was created to hold the new trials."""


@dataclass
class _IdsFile:
    """A watch's ``trials_file`` being edited: its text as read, and the edit."""

    path: Path
    text: str
    ids: set[str]
    added: list[str] = field(default_factory=list)
    removed: set[str] = field(default_factory=set)

    def new_text(self) -> str:
        lines = self.text.split("\n")
        if self.removed:
            lines = [ln for ln in lines if ln.partition("#")[0].strip().upper() not in self.removed]
        text = "\n".join(lines)
        if self.added:
            text += ("\n" if text and not text.endswith("\n") else "") + "".join(
                f"{nct}\n" for nct in self.added
            )
        return text

    def left(self) -> int:
        return len(self.ids - self.removed) + len(self.added)


@dataclass
class ConfigEditor:
    """Loads a config file as a tomlkit document, edits it, saves it safely."""

    path: Path
    text: str = ""
    doc: tomlkit.TOMLDocument = field(default_factory=tomlkit.TOMLDocument)
    files: dict[Path, _IdsFile] = field(default_factory=dict)
    """The ``trials_file`` of each file-backed watch touched by the edit."""

    @classmethod
    def open(cls, path: Path) -> ConfigEditor:
        target = path.resolve()  # a symlinked config: edit the file it points to
        text = read_config_text(target)
        try:
            doc = tomlkit.parse(text)
        except tomlkit.exceptions.ParseError as exc:
            raise ConfigError(path, "", f"not valid TOML ({exc})") from None
        return cls(target, text, doc)

    def add(self, ids: Sequence[str], watch: str) -> EditReport:
        """Append ``ids`` to the watch named ``watch`` (created when missing)."""
        report = EditReport()
        table = next((w for w in self.tables() if w.get("name") == watch), None)
        if table is None:
            table = self._new_watch(watch)
            report.created = watch
        ids_file = self._ids_file(table)
        if ids_file is not None:
            for nct in ids:
                if nct in ids_file.ids or nct in ids_file.added:
                    report.skipped.append(f"{nct} is already in watch “{watch}”")
                    continue
                ids_file.added.append(nct)
                report.done.append((nct, watch))
            return report
        trials = table.get("trials")
        if not isinstance(trials, Array):
            trials = tomlkit.array()
            table["trials"] = trials
        present = {_normal(t) for t in trials}
        for nct in ids:
            if nct in present:
                report.skipped.append(f"{nct} is already in watch “{watch}”")
                continue
            trials.append(nct)
            present.add(nct)
            report.done.append((nct, watch))
        if len(trials) > ONE_LINE_UP_TO and "\n" not in trials.as_string():
            trials.multiline(True)
        return report

    def add_search(
        self, name: str, url: str, slack: Sequence[str] = (), email: Sequence[str] = ()
    ) -> None:
        """Append a ``[[search]]`` table (EditError when a watch or search has the name)."""
        taken = [t for t in (*self.tables(), *self.tables("search")) if t.get("name") == name]
        if taken:
            raise EditError(f"--name: a watch or search is already named {name!r}; nothing changed")
        table = tomlkit.table()
        table["name"] = name
        table["url"] = url
        if slack:
            table["slack"] = list(slack)
        if email:
            table["email"] = list(email)
        searches = self.doc.get("search")
        if searches is None:
            watches = self.doc.get("watch")
            if isinstance(watches, AoT) and len(watches):
                self._blank_line_after(watches)  # the new [[search]] after a blank line
            self.doc.append("search", tomlkit.aot())
            searches = self.doc["search"]
        if not isinstance(searches, AoT):
            raise EditError(
                "the file's 'search' is not a list of [[search]] tables; nothing changed"
            )
        self._blank_line_after(searches)
        searches.append(table)

    def remove_table(self, kind: str, name: str) -> None:
        """Delete the ``[[watch]]`` or ``[[search]]`` named ``name`` (EditError when none)."""
        tables = self.doc.get(kind)
        found = [i for i, t in enumerate(self.tables(kind)) if t.get("name") == name]
        if not isinstance(tables, AoT) or not found:
            known = ", ".join(str(t.get("name")) for t in self.tables(kind)) or "none"
            raise EditError(f"--{kind}: no {kind} named {name!r} ({kind}es: {known})")
        for index in reversed(found):
            del tables[index]
        if not len(tables):
            del self.doc[kind]

    def remove(self, ids: Sequence[str], watch: str | None) -> EditReport:
        """Remove ``ids`` from the watch named ``watch``, or from every watch."""
        report = EditReport()
        tables = [w for w in self.tables() if watch is None or w.get("name") == watch]
        if watch is not None and not tables:
            raise EditError(f"--watch: no watch named {watch!r}")
        for nct in ids:
            found = False
            for table in tables:
                ids_file = self._ids_file(table)
                if ids_file is not None:
                    if nct in ids_file.ids and nct not in ids_file.removed:
                        ids_file.removed.add(nct)
                        found = True
                        report.done.append((nct, str(table.get("name"))))
                    continue
                trials = table.get("trials")
                if not isinstance(trials, Array):
                    continue
                for index in reversed(range(len(trials))):
                    if _normal(trials[index]) == nct:
                        del trials[index]
                        found = True
                        report.done.append((nct, str(table.get("name"))))
            if not found:
                where = f"watch “{watch}”" if watch is not None else "any watch"
                report.skipped.append(f"{nct} is not in {where}")
        emptied = [
            str(t.get("name"))
            for t in tables
            if ((f := self._ids_file(t)) is not None and not f.left())
            or (f is None and not t.get("trials"))
        ]
        if emptied:
            names = ", ".join(f"“{name}”" for name in emptied)
            raise EditError(
                f"that would leave watch {names} without trials; nothing changed "
                f"(add another trial first, or delete the watch: "
                f"ctwatch remove --watch {emptied[0]} --all)"
            )
        return report

    def validate(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        channels: Mapping[str, ChannelKey] | None = None,
    ) -> Config:
        """The edited text through the real loader (with the registered ``channels``' keys);
        ConfigError lists what is wrong.

        Unset variables are no error here: the edit does not use them."""
        env = os.environ if environ is None else environ
        return parse_config(
            self.doc.as_string(), self.path, env, needs=READ_ONLY, channels=channels
        )

    def save(self) -> None:
        """Write atomically; EditError when a file changed on disk meanwhile."""
        if read_config_text(self.path) != self.text:
            raise EditError(f"{self.path} changed while it was being edited; nothing written")
        changed = [f for f in self.files.values() if f.added or f.removed]
        for ids_file in changed:
            try:
                now = _read_text(ids_file.path)
            except TrialsFileError as exc:
                raise EditError(f"{exc}; nothing written") from None
            if now != ids_file.text:
                raise EditError(
                    f"{ids_file.path} changed while it was being edited; nothing written"
                )
        for ids_file in changed:
            write_atomically(ids_file.path, ids_file.new_text())
        text = self.doc.as_string()
        if text != self.text:
            write_atomically(self.path, text)

    def _ids_file(self, table: Table) -> _IdsFile | None:
        """The table's ``trials_file`` loaded for editing, or None for a ``trials`` list."""
        value = table.get("trials_file")
        if value is None:
            return None
        name = str(value)
        if "${" in name:
            raise EditError(
                f"watch “{table.get('name')}”: trials_file {name!r} names an environment "
                "variable; edit that file by hand"
            )
        path = resolve_trials_file(name, self.path).absolute()
        if path not in self.files:
            try:
                ids = read_trials_file(path)
                text = _read_text(path)
            except TrialsFileError as exc:
                raise EditError(f"watch “{table.get('name')}”: trials_file: {exc}") from None
            self.files[path] = _IdsFile(path, text, set(ids))
        return self.files[path]

    def tables(self, kind: str = "watch") -> list[Table]:
        """The ``[[watch]]`` (or ``[[search]]``) tables, in file order."""
        found = self.doc.get(kind)
        return [t for t in found if isinstance(t, Table)] if isinstance(found, AoT) else []

    @staticmethod
    def _blank_line_after(tables: AoT) -> None:
        last = tables[-1] if len(tables) else None
        if isinstance(last, Table) and not last.as_string().endswith("\n\n"):
            last.add(tomlkit.nl())  # a blank line before the new table

    def _new_watch(self, name: str) -> Table:
        table = tomlkit.table()
        table["name"] = name
        table["trials"] = tomlkit.array()
        watches = self.doc.get("watch")
        if watches is None:
            self.doc.append("watch", tomlkit.aot())
            watches = self.doc["watch"]
        if not isinstance(watches, AoT):
            raise EditError("the file's 'watch' is not a list of [[watch]] tables; nothing changed")
        self._blank_line_after(watches)
        watches.append(table)
        appended = watches[-1]
        assert isinstance(appended, Table)
        return appended


def starter_text(target: Path) -> str:
    """The commented starter config (shipped in the package), its database placed for
    ``target``: ``../data/`` beside a ``config/`` folder (as in the Docker image), else
    ``data/`` next to the file."""
    text = resources.files("watcher.config").joinpath("data/starter.toml").read_text("utf-8")
    database = "../data/ctwatch.db" if target.parent.name == "config" else "data/ctwatch.db"
    return text.replace("@DATABASE_PATH@", database)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TrialsFileError(f"{path}: cannot read file ({exc})") from None


def _normal(value: Any) -> str:
    text = str(value)
    try:
        return normalise_nct_id(text)
    except ValueError:
        return text


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text``: a flushed temporary file renamed over it.

    The new file keeps the old one's permission bits (a config may be 0600).
    """
    folder = path.parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)  # the rename itself survives a power cut
    finally:
        os.close(directory)
