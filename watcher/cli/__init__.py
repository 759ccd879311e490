"""The ``ctwatch`` command line: the group in ``main``, one module per family.

A command's module is imported when the command is asked for (``main.RootGroup``);
``main.load_all()`` registers every one.
"""

from watcher.cli.main import main

__all__ = ["main"]
