"""The ``ctwatch`` command line: the group in ``main``, one module per family.

Importing this package registers every command on :data:`main`.
"""

from watcher.cli import check, demo, feed, service, views
from watcher.cli.main import main

__all__ = ["check", "demo", "feed", "main", "service", "views"]
