"""``python -m watcher`` runs the same command line as ``ctwatch``."""

from watcher.cli import main

if __name__ == "__main__":
    main()
