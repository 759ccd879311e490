"""``ctwatch feed NAME [--output FILE]``: the Atom feed ``/feeds/NAME.atom`` serves, as a file.

For people who serve files rather than run ``ctwatch serve``: the same
document, written atomically (a temporary file in the same folder, flushed to
disk, then renamed over the old one), so a web server or a reader never sees
half a feed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path

import click

from watcher.cli.main import Context, fail, main, open_reader, require_database
from watcher.timeutil import utc_now


@main.command()
@click.argument("name")
@click.option(
    "--output",
    "-o",
    metavar="FILE",
    help="Write the feed to FILE (atomically) instead of standard output.",
)
@click.pass_obj
def feed(obj: Context, name: str, output: str | None) -> None:
    """Write the Atom feed NAME: all, watch/NAME (or just the watch's name), slack/CHANNEL,
    search/NAME.

    Exit 1 when there is no database yet (nothing is created), 2 for an
    unknown feed or an output that cannot be written.

    \b
    Example:
      ctwatch feed watch/rectal-cancer -o /var/www/feeds/rectal-cancer.atom
    """
    from watcher.alerts.search_routes import current_searches
    from watcher.web import feeds

    config = obj.load(secrets="none")
    require_database(config)  # reading must not create an empty database
    with open_reader(config) as app:
        searches = current_searches(config, app.store)
        scope = feeds.resolve(feeds.Sources(config, app.subscriptions(), searches), name)
        if scope is None:
            known = ", ".join(feeds.feed_names(config))
            fail(f"no feed named {name!r} (feeds: {known}, slack/CHANNEL)", 2)
        site = config.server.public_url if config.server is not None else None
        document = feeds.build(app.store, scope, utc_now(), site)
    if output is None:
        sys.stdout.buffer.write(document)
        sys.stdout.flush()
        return
    try:
        write_atomically(Path(output), document)
    except OSError as exc:
        fail(f"--output: cannot write {output} ({exc.strerror or exc})", 2)


def write_atomically(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one rename; the old file stays whole on any failure."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # a feed is for readers (mkstemp makes it 0600)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
