"""Console notifier: alert blocks on standard output.

For watches with no Slack channel or email address, and for cron users who
pipe ``ctwatch check`` into mail. The stream is injected by the CLI, which is
the only place that decides what goes to stdout. Records are other people's
text: control characters are removed before they reach a terminal or a log.
"""

from __future__ import annotations

from typing import TextIO

from watcher.alerts.channel import ChannelKind
from watcher.core.destination import Destination
from watcher.core.digest import Digest, digest_text
from watcher.core.render import Alert, console_text
from watcher.core.text import terminal_safe


class ConsoleNotifier:
    """Writes each alert as a readable block to a text stream."""

    digest_over: int | None = None

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def send(self, destination: Destination, alert: Alert) -> None:
        self._stream.write(terminal_safe(console_text(alert)) + "\n")
        self._stream.flush()

    def send_digest(self, destination: Destination, digest: Digest) -> None:
        if not digest.scheduled:  # a busy cycle reads best as the blocks one by one
            for alert in digest.alerts:
                self.send(destination, alert)
            return
        self._stream.write(terminal_safe(digest_text(digest)) + "\n")
        self._stream.flush()


CONSOLE = ChannelKind("console", lambda config, deps: ConsoleNotifier(deps.out))
"""Always there: where a table that names no destination sends its alerts."""
